"""``batchdeck submit FILE`` on an Anthropic profile: a file of ``{custom_id, params}``
lines is checked (every problem as ``FILE:LINE: field: why`` on stdout, nothing sent)
and sent inline as one message batch through :class:`AnthropicJournal`. Same exit
codes as the OpenAI submit: 0 submitted, 1 problems or refused, 2 bad arguments.
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
NOT_FOR_ANTHROPIC = ("endpoint", "metadata", "expires_after", "split", "queue", "part_tokens")


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
