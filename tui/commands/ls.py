"""``batchdeck ls``: the account's batches, newest first, with the registry's
description and tags.

Plain output is a table (ids are never cut; descriptions are shortened to one line);
``--json`` prints JSON lines, one batch per line (see ``_shared.batch_record``).

``--all-profiles`` lists every configured profile at once (``tui.core.fleet``): the
table gains a PROFILE column and each JSON object a ``profile`` field. A profile
that fails (no key, key refused, rate limited, unreachable, server error) is one
``batchdeck: profile NAME: STATE: reason`` line on stderr and does not stop the
others. Exit 0 while at least one profile answered; when none did, 2 if every
profile lacks its key (as a missing key is for one profile), else 1.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from tui.commands import _shared

if TYPE_CHECKING:
    from tui.core.client import BatchClient
    from tui.core.config import Profile
    from tui.core.models import Batch
    from tui.core.registry import Job

HEADERS = ("ID", "STATUS", "REQUESTS", "ENDPOINT", "MODEL", "CREATED (UTC)", "DESCRIPTION", "TAGS")
DESCRIPTION_WIDTH = 48


def add_parser(sub: Any) -> None:
    from tui.core.models import BATCH_STATUSES

    parser = sub.add_parser(
        "ls",
        help="list the account's batches (with registry descriptions and tags)",
        description="List the batches of the active profile's account, newest first, "
        "merged with the local registry (description, tags). Plain text is a table; "
        "--json prints one JSON object per line.",
    )
    parser.add_argument(
        "--status",
        action="extend",
        nargs="+",
        choices=BATCH_STATUSES,
        metavar="S",
        help=f"only batches in these statuses ({', '.join(BATCH_STATUSES)})",
    )
    parser.add_argument(
        "--since",
        type=_shared.parse_duration,
        metavar="AGE",
        help="only batches created within this age, e.g. 2d, 12h, 30m",
    )
    parser.add_argument("--mine", action="store_true", help="only batches the local registry knows")
    parser.add_argument(
        "--all-profiles",
        action="store_true",
        help="every configured profile's batches in one list, each row with its profile "
        "(a failing profile is reported on stderr; exit 1 only if all failed)",
    )
    _shared.add_common(parser)


def run(args: argparse.Namespace) -> int:
    if args.all_profiles:
        return _shared.guarded(lambda: _run_all_profiles(args))

    async def body(profile: Profile, client: BatchClient) -> int:
        jobs = _jobs_by_batch()
        batches = await _collect(client, args, jobs)
        if args.json:
            _shared.emit_json_lines(_shared.batch_record(b, jobs.get(b.id)) for b in batches)
        elif batches:
            _shared.write(_table(batches, jobs))
        else:
            _shared.info("No batches.")
        return _shared.EXIT_OK

    return _shared.run_with_client(args, body)


def _run_all_profiles(args: argparse.Namespace) -> int:
    import asyncio

    from tui.core import fleet

    config, _ = _shared.resolve_profile(getattr(args, "profile", None))
    jobs = _jobs_by_batch()
    listing = asyncio.run(
        fleet.list_profiles(
            list(config.profiles.values()), lambda client: _collect(client, args, jobs)
        )
    )
    for health in listing.failed:
        _shared.error(f"profile {health.profile}: {health.state}: {health.reason}")
    if len(listing.failed) == len(listing.health):
        no_key = all(health.state == fleet.NO_KEY for health in listing.failed)
        return _shared.EXIT_USAGE if no_key else _shared.EXIT_FAILURE
    if args.json:
        _shared.emit_json_lines(
            {"profile": row.profile, **_shared.batch_record(row.batch, jobs.get(row.batch.id))}
            for row in listing.rows
        )
    elif listing.rows:
        batches = [row.batch for row in listing.rows]
        _shared.write(_table(batches, jobs, [row.profile for row in listing.rows]))
    else:
        _shared.info("No batches.")
    return _shared.EXIT_OK


def _jobs_by_batch() -> dict[str, Job]:
    registry = _shared.open_registry()
    return {job.batch_id: job for job in registry.load().values() if job.batch_id}


async def _collect(
    client: BatchClient, args: argparse.Namespace, jobs: dict[str, Job]
) -> list[Batch]:
    """The matching batches; paging stops at the first batch older than ``--since``
    (the list is newest first)."""
    from tui.core import timefmt

    oldest = timefmt.now() - args.since if args.since is not None else None
    statuses = set(args.status or ())
    out: list[Batch] = []
    seen = 0
    async for page in client.iter_batch_pages():
        for batch in page:
            if oldest is not None and batch.created_at < oldest:
                _shared.stderr_note_done()
                return out
            if statuses and batch.status not in statuses:
                continue
            if args.mine and batch.id not in jobs:
                continue
            out.append(batch)
        seen += len(page)
        _shared.stderr_note(f"{seen} batches read…")
    _shared.stderr_note_done()
    return out


def _table(batches: list[Batch], jobs: dict[str, Job], profiles: list[str] | None = None) -> str:
    """The plain table; with ``profiles`` (one per batch), a PROFILE column first."""
    from tui.core.models import batch_description
    from tui.core.text import one_line
    from tui.core.timefmt import exact

    rows = []
    for batch in batches:
        job = jobs.get(batch.id)
        counts = batch.request_counts
        rows.append(
            (
                one_line(batch.id),
                one_line(batch.status),
                _shared.counts_text(counts.total, counts.completed, counts.failed),
                one_line(batch.endpoint.removeprefix("/v1/")),
                one_line(batch.model or ""),
                exact(batch.created_at)[:16],  # minutes are enough in a list
                one_line(batch_description(batch, job), DESCRIPTION_WIDTH),
                one_line(",".join(job.tags)) if job else "",
            )
        )
    if profiles is not None:
        named = [(one_line(name), *row) for name, row in zip(profiles, rows, strict=True)]
        return _shared.table(("PROFILE", *HEADERS), named)
    return _shared.table(HEADERS, rows)
