"""``batchdeck submit FILE``: validate a batch input file, upload it and create its batch.

The submit goes through the registry's submission journal, so an interrupted submit
is settled on the next start and never makes a second batch. A file over the API's
limits is refused unless ``--split`` is given; then each part becomes its own batch
and the parts share a job group. A refused file's problems go to stdout as
``batchdeck validate`` prints them (``--json``: its report object), the reason nothing
was sent to stderr. Exit codes: 0 submitted, 1 the file has problems or the API
refused, 2 bad arguments or configuration.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from tui.commands import _shared
from tui.commands.validate import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE
from tui.core.text import plural

if TYPE_CHECKING:
    from tui.core.client import Progress
    from tui.core.registry import Job
    from tui.core.requests import ValidationReport
    from tui.core.submission import PartProgress

PREFIX = "batchdeck submit: "


def add_parser(sub: Any) -> None:
    from tui.core.models import BATCH_ENDPOINTS

    parser = sub.add_parser(
        "submit",
        help="validate, upload and create a batch from a JSONL file",
        description="Check a batch input file, upload it and create the batch, recording "
        "it in the local registry. Problems are printed as FILE:LINE: message [code] "
        "and nothing is sent.",
    )
    parser.add_argument("file", help="the JSONL file to send")
    parser.add_argument(
        "--endpoint",
        choices=BATCH_ENDPOINTS,
        help="the batch endpoint (default: the url of the file's lines)",
    )
    parser.add_argument("--description", default="", help="a note kept in the registry")
    parser.add_argument(
        "--metadata",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="batch metadata (repeatable; at most 15 pairs, key 64 / value 512 characters)",
    )
    parser.add_argument(
        "--expires-after",
        metavar="TIME",
        help="delete the output files this long after creation: 1h to 30d (e.g. 7d)",
    )
    parser.add_argument(
        "--completion-window",
        metavar="WINDOW",
        help="how long the service may take: one the profile's provider offers "
        "(default: its shortest, 24h on OpenAI; Groq: 24h to 7d)",
    )
    parser.add_argument("--tag", action="append", default=[], help="a registry tag (repeatable)")
    parser.add_argument(
        "--split",
        action="store_true",
        help="send a file over the limits as several batches in one job group",
    )
    parser.add_argument(
        "--queue",
        action="store_true",
        help="send nothing now: put the file's parts in the local queue (`batchdeck queue`), "
        "split to fit the model's token limit",
    )
    parser.add_argument(
        "--part-tokens",
        type=_shared.positive_int,
        metavar="TOKENS",
        help="with --queue: at most this many estimated input tokens per part",
    )
    parser.add_argument(
        "--part-requests",
        type=_shared.positive_int,
        metavar="N",
        help="with --queue on an Anthropic profile: at most N requests per part",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    return _shared.guarded(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from tui.core.journal import SubmitError
    from tui.core.providers import ProviderError
    from tui.core.requests import InvalidRequestFileError, SplitError, UnreadableFileError
    from tui.core.submission import NeedsSplitError, parse_expiry, parse_metadata, plan_submit

    profile = _shared.profile_for_limits(getattr(args, "profile", None))
    if profile.provider == "anthropic":  # one inline message batch: its own path
        from tui.commands._anthropic_cli import submit_anthropic

        return submit_anthropic(args)
    limits, provider = profile.limits, profile.provider_name
    try:
        metadata = parse_metadata(args.metadata)
        expiry = parse_expiry(args.expires_after) if args.expires_after else None
        if expiry is not None:
            limits.check_expiry(expiry, provider)
        args.completion_window = limits.check_window(
            args.completion_window or limits.default_window, provider
        )
    except (SubmitError, ProviderError) as exc:
        raise _shared.CommandError(f"{PREFIX}{exc}", EXIT_USAGE) from exc
    if args.part_tokens is not None and not args.queue:
        raise _shared.CommandError(f"{PREFIX}--part-tokens goes with --queue", EXIT_USAGE)
    if getattr(args, "part_requests", None) is not None:
        raise _shared.CommandError(
            f"{PREFIX}--part-requests is for Anthropic profiles (use --part-tokens)", EXIT_USAGE
        )
    if args.queue:
        return _enqueue(args, metadata, expiry)
    try:
        plan = plan_submit(
            args.file, args.endpoint, allow_split=args.split, limits=limits.request_limits()
        )
    except NeedsSplitError as exc:
        _print_problems(exc.report, as_json=args.json)
        raise _shared.CommandError(
            f"{PREFIX}{exc}: add --split to send it in parts", EXIT_PROBLEMS
        ) from exc
    except InvalidRequestFileError as exc:
        _print_problems(exc.report, as_json=args.json)
        raise _shared.CommandError(
            f"{PREFIX}{exc.report.path}: {exc.count} problem(s); nothing sent", EXIT_PROBLEMS
        ) from exc
    except (SplitError, UnreadableFileError) as exc:
        raise _shared.CommandError(f"{PREFIX}{exc}", EXIT_PROBLEMS) from exc
    except (OSError, ValueError) as exc:
        raise _shared.CommandError(f"{PREFIX}{exc}", EXIT_USAGE) from exc
    return _send(args, plan, metadata, expiry)


def _enqueue(args: argparse.Namespace, metadata: dict[str, str], expiry: int | None) -> int:
    """``--queue``: validate, split and record the parts as queued; nothing is sent
    (an Anthropic profile's file too: ``{custom_id, params}`` lines, split by requests)."""
    from pathlib import Path

    from tui.core.anthropic_journal import journal_for
    from tui.core.anthropic_lines import AnthropicFileError
    from tui.core.journal import SubmitError
    from tui.core.queue import QueueError, enqueue_file
    from tui.core.requests import InvalidRequestFileError, SplitError, UnreadableFileError

    _, profile = _shared.resolve_profile(getattr(args, "profile", None))
    client = _shared.make_client(profile)  # a key is needed to send them later
    journal = journal_for(_shared.open_registry(), client, profile)
    try:
        jobs = enqueue_file(
            journal,
            Path(args.file),
            args.endpoint,
            description=args.description,
            metadata=metadata,
            tags=tuple(args.tag),
            output_expires_after=expiry,
            part_tokens=args.part_tokens,
            part_requests=getattr(args, "part_requests", None),
            completion_window=args.completion_window,
        )
    except InvalidRequestFileError as exc:
        _print_problems(exc.report, as_json=args.json)
        raise _shared.CommandError(
            f"{PREFIX}{exc.report.path}: {exc.count} problem(s); nothing queued", EXIT_PROBLEMS
        ) from exc
    except (SplitError, UnreadableFileError, QueueError, SubmitError, AnthropicFileError) as exc:
        raise _shared.CommandError(f"{PREFIX}{exc}", EXIT_PROBLEMS) from exc
    rows = [
        {
            "job_id": job.job_id,
            "part": index + 1,
            "tokens": (job.submission or {}).get("queue", {}).get("tokens"),
            "requests": (job.submission or {}).get("queue", {}).get("requests"),
            "input_path": job.input_path,
        }
        for index, job in enumerate(jobs)
    ]
    group_id = jobs[0].group_id if jobs else None
    if args.json:
        print(json.dumps({"file": args.file, "group_id": group_id, "queued": rows}, indent=2))
    else:
        tokens = sum(row["tokens"] or 0 for row in rows)
        requests = sum(row["requests"] or 0 for row in rows)
        print(
            f"queued {plural(len(rows), 'part')}, {requests:,} requests, {tokens:,} estimated "
            f"input tokens, in job group {group_id}; `batchdeck queue run` sends them"
        )
    return EXIT_OK


def _print_problems(report: ValidationReport, *, as_json: bool) -> None:
    """A refused file's problems on stdout, as ``batchdeck validate`` prints them (they
    are data; the reason nothing was sent goes to stderr)."""
    from tui.commands.validate import problem_lines, report_dict

    if as_json:
        _shared.write(json.dumps(report_dict(report), indent=2) + "\n")
    else:
        _shared.write("".join(f"{line}\n" for line in problem_lines(report)))


def _send(args: argparse.Namespace, plan: Any, metadata: dict[str, str], expiry: int | None) -> int:
    import asyncio

    from tui.core.journal import Journal, SubmitError
    from tui.core.submission import PartialSubmitError, submit_plan

    _, profile = _shared.resolve_profile(getattr(args, "profile", None))
    client = _shared.make_client(profile)

    async def go() -> list[Job]:
        try:
            journal = Journal(_shared.open_registry(), client, profile)
            return await submit_plan(
                journal,
                plan,
                description=args.description,
                metadata=metadata,
                output_expires_after=expiry,
                completion_window=args.completion_window,
                tags=tuple(args.tag),
                progress=None if args.json else _upload_progress(),
            )
        finally:
            await client.close()

    try:
        jobs = asyncio.run(go())
    except PartialSubmitError as exc:
        _print_jobs(exc.jobs, plan, as_json=args.json)
        raise _shared.CommandError(f"{PREFIX}{exc}", EXIT_PROBLEMS) from exc
    except SubmitError as exc:
        raise _shared.CommandError(f"{PREFIX}{exc}", EXIT_PROBLEMS) from exc
    _print_jobs(jobs, plan, as_json=args.json)
    return EXIT_OK


def _upload_progress() -> PartProgress | None:
    """A :func:`_shared.stderr_progress` bar per part (only when stderr is a terminal)."""
    if not sys.stderr.isatty():
        return None
    bars: dict[int, Progress | None] = {}

    def show(index: int, total: int, sent: int, size: int | None) -> None:
        if index not in bars:
            part = f" part {index + 1}/{total}" if total > 1 else ""
            bars[index] = _shared.stderr_progress(f"uploading{part}")
        bar = bars[index]
        if bar is not None:
            bar(sent, size)

    return show


def _print_jobs(jobs: list[Job], plan: Any, *, as_json: bool) -> None:
    rows = [
        {
            "job_id": job.job_id,
            "batch_id": job.batch_id,
            "status": job.status,
            "input_path": job.input_path,
            "group_id": job.group_id,
        }
        for job in jobs
    ]
    if as_json:
        data = {
            "file": str(plan.source),
            "endpoint": plan.endpoint,
            "requests": plan.report.request_count,
            "group_id": jobs[0].group_id if jobs else None,
            "batches": rows,
        }
        print(json.dumps(data, indent=2))
        return
    for row in rows:
        print(f"{row['batch_id']}  {row['status']}  {row['input_path']}  (job {row['job_id']})")
    if len(jobs) > 1:
        print(f"{len(jobs)} batches in job group {jobs[0].group_id}")
