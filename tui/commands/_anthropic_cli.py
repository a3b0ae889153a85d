"""``batchdeck submit`` and ``validate`` on an Anthropic profile.

A file of ``{custom_id, params}`` lines is checked (every problem as ``FILE:LINE:
field: why`` on stdout); ``submit`` then sends it inline as one message batch through
:class:`AnthropicJournal`, ``validate`` estimates its tokens and cost. Same exit codes
as for OpenAI: 0 done, 1 problems or refused, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import TYPE_CHECKING

from tui.commands import _shared

if TYPE_CHECKING:
    from tui.core.registry import Job

PREFIX = "batchdeck submit: "
NOT_FOR_ANTHROPIC = ("endpoint", "metadata", "expires_after", "split", "part_tokens")


def submit_anthropic(args: argparse.Namespace) -> int:
    from tui.core.anthropic_client import AnthropicBatchClient
    from tui.core.anthropic_journal import AnthropicJournal
    from tui.core.anthropic_lines import check_file
    from tui.core.text import one_line

    given = [name for name in NOT_FOR_ANTHROPIC if getattr(args, name, None)]
    if getattr(args, "completion_window", None) not in (None, "24h"):
        given.append("completion_window")
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise _shared.CommandError(
            f"{PREFIX}{flags}: not for an Anthropic profile (one inline batch, no metadata)",
            _shared.EXIT_USAGE,
        )
    if getattr(args, "part_requests", None) is not None and not args.queue:
        raise _shared.CommandError(f"{PREFIX}--part-requests goes with --queue", _shared.EXIT_USAGE)
    if args.queue:  # the local queue: split by requests, sent by `batchdeck queue run`
        from tui.commands.submit import _enqueue

        args.completion_window = None
        return _enqueue(args, {}, None)
    check = check_file(args.file)
    if not check.ok:
        for problem in check.problems:
            _shared.write(one_line(problem.where(check.path)) + "\n")
        raise _shared.CommandError(
            f"{PREFIX}{check.path}: {check.problem_count} problem(s); nothing sent",
            _shared.EXIT_FAILURE,
        )
    _, profile = _shared.resolve_profile(getattr(args, "profile", None))
    client = _shared.make_client(profile)
    assert isinstance(client, AnthropicBatchClient)

    async def go() -> Job:
        try:
            journal = AnthropicJournal(_shared.open_registry(), client, profile)
            return await journal.submit(args.file, args.description, tags=tuple(args.tag))
        finally:
            await client.close()

    job = asyncio.run(go())
    row = {
        "job_id": job.job_id,
        "batch_id": job.batch_id,
        "status": job.status,
        "input_path": job.input_path,
    }
    if args.json:
        data = {"file": args.file, "endpoint": "/v1/messages", "requests": check.requests}
        print(json.dumps({**data, "batches": [row]}, indent=2))
    else:
        print(f"{row['batch_id']}  {row['status']}  {row['input_path']}  (job {row['job_id']})")
    return _shared.EXIT_OK


def validate_anthropic(args: argparse.Namespace) -> int:
    """``batchdeck validate FILE`` on an Anthropic profile: every problem as ``FILE:LINE:
    field: why``, a summary, then the token and cost estimate (exit 0 ok, 1 problems)."""
    from tui.commands.validate import EXIT_PROBLEMS, _prices, estimate_lines
    from tui.core.anthropic_lines import check_file, estimate_params, read_requests
    from tui.core.text import one_line

    if getattr(args, "endpoint", None):
        raise _shared.CommandError(
            "batchdeck validate: --endpoint: not for an Anthropic profile (/v1/messages)",
            _shared.EXIT_USAGE,
        )
    check = check_file(args.file)
    estimate = None
    if check.ok and not args.no_estimate:
        params = (r["params"] for r in read_requests(check.path))
        estimate = estimate_params(params, _prices())
    problems = [{"line": p.line, "field": p.field, "message": p.message} for p in check.problems]
    if args.json:
        data = {
            "file": str(check.path),
            "ok": check.ok,
            "endpoint": "/v1/messages",
            "model": check.model,
            "requests": check.requests,
            "bytes": check.bytes,
            "problem_count": check.problem_count,
            "problems": problems,
            "estimate": estimate.to_dict() if estimate is not None else None,
        }
        _shared.write(json.dumps(data, indent=2) + "\n")
    else:
        for problem in check.problems:
            _shared.write(one_line(problem.where(check.path)) + "\n")
        head = f"{check.path}: {check.requests:,} requests, {check.bytes:,} bytes"
        if check.ok:
            summary = f"{head}, /v1/messages, {check.model or ''}: ok"
        else:
            summary = f"{head}: {check.problem_count:,} problem(s)"
        _shared.write(one_line(summary) + "\n")
        lines = estimate_lines(estimate) if estimate is not None else []
        _shared.write("".join(f"{line}\n" for line in lines))
    return _shared.EXIT_OK if check.ok else EXIT_PROBLEMS
