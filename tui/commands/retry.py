"""``batchdeck retry BATCH_ID [--outcome failed|expired|missing|retryable|all] [--queue
[--part-tokens N]] [--json]``:
what ``R`` does on the results screen, from a script.

Downloads the batch's files once (and those of its earlier retries, merged: the
latest attempt of each request counts), writes the chosen requests' original lines
to a retry file and submits it through the journal as a new batch linked to the
parent (``retry_of``), via :func:`tui.core.retry.submit_retry`, the app's code path.
``--outcome``: ``failed`` (answered with an error: 429, 5xx, 4xx, other request
errors), ``expired`` (not run before the batch expired or was cancelled),
``missing`` (no result line), ``retryable`` (default: what can succeed unchanged, as
``R`` checks by default: all but 4xx) or ``all``. ``--queue``: send nothing now; the
retry file goes into the local queue (split by the model's token limit, one job
group, every part linked to the parent) for ``batchdeck queue run``.

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
    parser.add_argument(
        "--queue",
        action="store_true",
        help="send nothing now: put the retry in the local queue (`batchdeck queue run` "
        "sends it through the token limit)",
    )
    parser.add_argument(
        "--part-tokens",
        type=_shared.positive_int,
        metavar="N",
        help="with --queue: at most this many estimated input tokens per part",
    )
    _shared.add_common(parser)


def run(args: argparse.Namespace) -> int:
    async def body(profile: Profile, client: BatchClient) -> int:
        if args.part_tokens is not None and not args.queue:
            raise _shared.CommandError("--part-tokens goes with --queue", _shared.EXIT_USAGE)
        retried = await retry(
            client,
            profile,
            args.batch_id,
            args.outcome,
            queue=args.queue,
            part_tokens=args.part_tokens,
        )
        from tui.core.text import plural

        if args.json:
            _shared.emit_json(retried_record(retried, args.batch_id, args.outcome))
        elif retried.queued:
            _shared.write(
                f"queued a retry of {args.batch_id} with "
                f"{plural(retried.planned.count, 'request')} ({args.outcome}) in "
                f"{plural(len(retried.jobs), 'part')}, job group {retried.group_id}; "
                "`batchdeck queue run` sends them\n"
            )
        else:
            _shared.write(
                f"{retried.job.batch_id}: retry of {args.batch_id} with "
                f"{plural(retried.planned.count, 'request')} ({args.outcome}), "
                f"job {retried.job.job_id}\n"
            )
        return _shared.EXIT_OK

    return _shared.run_with_client(args, body)


async def retry(
    client: BatchClient,
    profile: Profile,
    batch_id: str,
    outcome: str,
    *,
    queue: bool = False,
    part_tokens: int | None = None,
) -> Retried:
    """Open the batch's merged results and submit (or ``queue``) the ``outcome``
    requests again."""
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
            index,
            batch_id,
            OUTCOMES[outcome],
            registry=registry,
            client=client,
            profile=profile,
            queue=queue,
            part_tokens=part_tokens,
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
        "group_id": retried.group_id,
        "queued": [job.job_id for job in retried.jobs] if retried.queued else [],
        "retry_of": batch_id,
        "outcome": outcome,
        "groups": sorted(OUTCOMES[outcome]),
        "requests": retried.planned.count,
        "custom_ids": list(retried.planned.custom_ids),
        "retry_file": str(retried.planned.path),
    }
