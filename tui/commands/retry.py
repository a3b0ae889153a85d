"""``batchdeck retry BATCH_ID [--outcome failed|expired|missing|retryable|all] [--json]``:
what ``R`` does on the results screen, from a script.

Downloads the batch's files once (and those of its earlier retries, merged: the
latest attempt of each request counts), writes the chosen requests' original lines
to a retry file and submits it through the journal as a new batch linked to the
parent (``retry_of``), via :func:`tui.core.retry.submit_retry`, the app's code path.
``--outcome``: ``failed`` (answered with an error: 429, 5xx, 4xx, other request
errors), ``expired`` (not run before the batch expired or was cancelled),
``missing`` (no result line), ``retryable`` (default: what can succeed unchanged, as
``R`` checks by default: all but 4xx) or ``all``.

Exit codes: 0 submitted; 1 nothing to retry, an unknown batch, no results yet, or
an API error; 2 bad usage.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from tui.commands import _shared

if TYPE_CHECKING:
    from tui.core.client import BatchClient
    from tui.core.config import Profile
    from tui.core.retry import Retried


def add_parser(sub: Any) -> None:
    from tui.core.retry import OUTCOMES

    parser = sub.add_parser(
        "retry",
        help="submit a batch's failed requests again, as a linked batch",
        description="Submit the requests of BATCH_ID with the chosen outcome again, as a new "
        "batch linked to it (as R does in the results browser).",
    )
    parser.add_argument("batch_id", metavar="BATCH_ID")
    parser.add_argument(
        "--outcome",
        choices=tuple(OUTCOMES),
        default="retryable",
        help="which requests: failed (answered with an error), expired (not run), missing "
        "(no result line), retryable (default: all but 4xx) or all",
    )
    _shared.add_common(parser)


def run(args: argparse.Namespace) -> int:
    async def body(profile: Profile, client: BatchClient) -> int:
        retried = await retry(client, profile, args.batch_id, args.outcome)
        if args.json:
            _shared.emit_json(retried_record(retried, args.batch_id, args.outcome))
        else:
            from tui.core.text import plural

            _shared.write(
                f"{retried.job.batch_id}: retry of {args.batch_id} with "
                f"{plural(retried.planned.count, 'request')} ({args.outcome}), "
                f"job {retried.job.job_id}\n"
            )
        return _shared.EXIT_OK

    return _shared.run_with_client(args, body)


async def retry(client: BatchClient, profile: Profile, batch_id: str, outcome: str) -> Retried:
    """Open the batch's merged results and submit the ``outcome`` requests again."""
    import asyncio

    from tui.commands.results import _download_progress
    from tui.core import errors
    from tui.core.results import NoResultsError, ResultIndex, open_attempts
    from tui.core.retry import OUTCOMES, submit_retry

    registry = _shared.open_registry()
    try:
        opened = await open_attempts(
            client, batch_id, registry=registry, progress=_download_progress()
        )
        for note in opened.notes:
            _shared.error(note)
        index = await asyncio.to_thread(ResultIndex(opened.attempts).build_all)
        return await submit_retry(
            index, batch_id, OUTCOMES[outcome], registry=registry, client=client, profile=profile
        )
    except NoResultsError as exc:
        raise _shared.CommandError(f"{batch_id}: {exc}") from exc
    except errors.NotFoundError as exc:
        raise _shared.CommandError(
            f"no batch {batch_id} on {profile.host()} ({exc.message})"
        ) from exc


def retried_record(retried: Retried, batch_id: str, outcome: str) -> dict[str, Any]:
    from tui.core.retry import OUTCOMES

    return {
        "batch_id": retried.job.batch_id,
        "job_id": retried.job.job_id,
        "retry_of": batch_id,
        "outcome": outcome,
        "groups": sorted(OUTCOMES[outcome]),
        "requests": retried.planned.count,
        "custom_ids": list(retried.planned.custom_ids),
        "retry_file": str(retried.planned.path),
    }
