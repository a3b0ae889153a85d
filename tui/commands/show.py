"""``batchdeck show BATCH_ID``: everything the inspector shows about one batch.

Fields, the timeline of timestamps, request counts, usage and its cost (standard
and Batch API price, from ``tui.core.pricing``), metadata, file ids, expiry,
validation errors with line numbers, and what the registry keeps (description,
tags, local input path, downloads). ``--json`` prints one JSON object.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from tui.commands import _shared

if TYPE_CHECKING:
    from tui.core.client import BatchClient
    from tui.core.config import Profile
    from tui.core.models import Batch
    from tui.core.pricing import Cost
    from tui.core.registry import Job


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "show",
        help="everything about one batch",
        description="Show one batch: fields, timeline, request counts, usage and cost, "
        "metadata, files, validation errors, and the registry's description and tags.",
    )
    parser.add_argument("batch_id", metavar="BATCH_ID")
    _shared.add_common(parser)


def run(args: argparse.Namespace) -> int:
    async def body(profile: Profile, client: BatchClient) -> int:
        from tui.core.pricing import batch_cost, read_prices

        batch = await retrieve_known(client, args.batch_id)
        registry = _shared.open_registry()
        job = registry.record_snapshot(batch) or registry.find_by_batch(batch.id)
        from tui.core.results import retry_links

        links = retry_links(registry, batch.id)
        found = batch_cost(batch, profile.priced(read_prices()))
        model, cost, price_note = batch.model, found.cost, found.note
        if args.json:
            record = _shared.batch_record(batch, job)
            record["downloads"] = dict(job.downloads) if job else {}
            record["retry_of"], record["retried_by"] = links.retry_of, list(links.retried_by)
            record["cost"] = (
                {"model": model, "standard_usd": cost.standard, "batch_usd": cost.batch}
                if cost
                else None
            )
            _shared.emit_json(record)
        else:
            _shared.write(describe(batch, job, cost, price_note, links.describe()))
        return _shared.EXIT_OK

    return _shared.run_with_client(args, body)


async def retrieve_known(client: BatchClient, batch_id: str) -> Batch:
    """The batch, or :class:`CommandError` "unknown batch" (exit 1) on a 404."""
    from tui.core import errors

    try:
        return await client.retrieve_batch(batch_id)
    except errors.NotFoundError as exc:
        raise _shared.CommandError(f"unknown batch {batch_id!r} ({exc.message})") from exc


def describe(
    batch: Batch, job: Job | None, cost: Cost | None, price_note: str, links: str = ""
) -> str:
    """The plain text page; untrusted text made printable, one line per value."""
    from tui.core.models import batch_description, shown_metadata
    from tui.core.notes import note_lines
    from tui.core.pricing import format_usd
    from tui.core.text import one_line
    from tui.core.timefmt import exact, relative

    lines: list[tuple[str, str]] = [
        ("Batch", batch.id),
        ("Status", batch.status),
        ("Endpoint", batch.endpoint),
        ("Model", batch.model or ""),
        ("Window", batch.completion_window),
    ]
    if description := batch_description(batch, job):
        lines.append(("Description", description))
    if job:
        known = [
            *note_lines(job),
            ("Tags", ", ".join(job.tags)),
            ("Job", job.job_id),
            ("Input path", job.input_path or ""),
            *((f"Downloaded {name}", path) for name, path in sorted(job.downloads.items())),
        ]
        lines += [(label, value) for label, value in known if value]
    if links:  # "retry of X · retried by Y" (tui.core.results.retry_links)
        lines.append(("Retries", links))
    counts = batch.request_counts
    lines.append(
        (
            "Requests",
            f"{counts.total} total, {counts.completed} completed, {counts.failed} failed",
        )
    )
    lines += [
        ("Input file", batch.input_file_id),
        ("Output file", batch.output_file_id or "(none)"),
        ("Error file", batch.error_file_id or "(none)"),
    ]
    if batch.expires_at:
        lines.append(("Expires", f"{exact(batch.expires_at)} ({relative(batch.expires_at)})"))
    out = [f"{(label + ':').ljust(13)} {one_line(value)}" for label, value in lines]
    out.append("Timeline:")
    for name, stamp in batch.timestamps().items():
        if name != "expires_at":
            label = name.removesuffix("_at")
            out.append(f"  {label:<12}{exact(stamp)} ({relative(stamp)})")
    if batch.usage is not None:
        usage = batch.usage
        out += [
            "Usage:",
            f"  input       {usage.input_tokens:,} tokens ({usage.cached_tokens:,} cached)",
            f"  output      {usage.output_tokens:,} tokens ({usage.reasoning_tokens:,} reasoning)",
            f"  total       {usage.total_tokens:,} tokens",
        ]
    if cost is not None:
        out.append(
            f"Cost:         {format_usd(cost.batch)} with the Batch API "
            f"({format_usd(cost.standard)} at the standard price)"
        )
    else:
        out.append(f"Cost:         unknown ({one_line(price_note)})")
    if metadata := shown_metadata(batch.metadata):
        out.append("Metadata:")
        out += [f"  {one_line(k)} = {one_line(v)}" for k, v in sorted(metadata.items())]
    if batch.errors:
        out.append(f"Validation errors ({len(batch.errors)}):")
        for item in batch.errors:
            where = f"line {item.line}" if item.line is not None else "file"
            code = one_line(item.code or "error")
            message = one_line(item.message or "")
            param = f" (param: {one_line(item.param)})" if item.param else ""
            out.append(f"  {where}: {code}: {message}{param}")
    return "\n".join(out) + "\n"
