"""``batchdeck reconcile``: settle submissions that a crash or a lost answer left
unfinished (``tui.core.journal.Journal.reconcile``), and say what was done.

One line per submission: its job id, the outcome (``found``: the batch existed;
``created``: the submit was finished; ``abandoned``: nothing had been uploaded;
``requeued``: nothing had been uploaded of a queued part, which waits again;
``failed``: it could not be settled now) and the batch id. Exit 1 if any failed.
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
        "reconcile",
        help="settle interrupted submissions",
        description="Find what happened to submissions that were interrupted (crash, lost "
        "answer) on the active profile's server: record batches that exist, finish "
        "submits whose file was uploaded, mark the rest abandoned. An Anthropic submit "
        "that several batches could be is reported ambiguous (exit 1), never guessed.",
    )
    _shared.add_common(parser)


def run(args: argparse.Namespace) -> int:
    async def body(profile: Profile, client: BatchClient) -> int:
        from tui.core.anthropic_journal import journal_for
        from tui.core.text import one_line

        settled = await journal_for(_shared.open_registry(), client, profile).reconcile()
        for item in settled:
            if args.json:
                _shared.emit_json(
                    {
                        "job_id": item.job_id,
                        "outcome": item.outcome,
                        "batch_id": item.batch_id,
                        "detail": item.detail,
                    }
                )
            else:
                _shared.write(
                    f"{one_line(item.job_id)}  {item.outcome}  {one_line(item.batch_id or '-')}"
                    f"  {one_line(item.detail)}\n"
                )
        if not settled:
            _shared.tty_info("Nothing to reconcile.")
        failed = any(item.outcome in ("failed", "ambiguous") for item in settled)
        return _shared.EXIT_FAILURE if failed else _shared.EXIT_OK

    return _shared.run_with_client(args, body)
