"""``batchdeck cancel BATCH_ID``: ask the server to cancel a batch.

Asks for confirmation at a terminal unless ``--yes``; without a terminal on stdin it
refuses (exit 2) unless ``--yes``. Prints the batch's new status (``cancelling``).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from tui.commands import _shared

if TYPE_CHECKING:
    from tui.core.client import BatchClient
    from tui.core.config import Profile


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "cancel",
        help="cancel a batch",
        description="Cancel a batch. Asks first at a terminal; --yes skips the question "
        "(and is required when stdin is not a terminal).",
    )
    parser.add_argument("batch_id", metavar="BATCH_ID")
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask")
    _shared.add_common(parser)


def run(args: argparse.Namespace) -> int:
    async def body(profile: Profile, client: BatchClient) -> int:
        from tui.commands.show import retrieve_known
        from tui.core.text import one_line

        batch = await retrieve_known(client, args.batch_id)
        if batch.is_final:
            raise _shared.CommandError(f"batch {one_line(batch.id)} is already {batch.status}")
        counts = batch.request_counts
        _shared.confirm(
            f"Cancel batch {one_line(batch.id)} ({one_line(batch.status)}, "
            f"{counts.done}/{counts.total} requests done)?",
            yes=args.yes,
        )
        cancelled = await client.cancel_batch(batch.id)
        job = _shared.open_registry().record_snapshot(cancelled)
        if args.json:
            _shared.emit_json(_shared.batch_record(cancelled, job))
        else:
            _shared.write(f"{one_line(cancelled.id)}  {one_line(cancelled.status)}\n")
        return _shared.EXIT_OK

    return _shared.run_with_client(args, body)
