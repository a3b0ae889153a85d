"""``batchdeck delete BATCH_ID``: delete an ended Anthropic message batch and its results.

Anthropic keeps a batch's results for about 29 days; ``delete`` removes them at once.
Only an ended batch can be deleted (cancel it first); OpenAI batches cannot be deleted
at all (exit 2). Asks first at a terminal unless ``--yes``; without a terminal on
stdin it refuses (exit 2) unless ``--yes``. The registry keeps its job (``registry
forget`` drops it).
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
        "delete",
        help="delete an ended Anthropic message batch and its results",
        description="Delete an ended Anthropic message batch and its results (Anthropic "
        "profiles only). Asks first at a terminal; --yes skips the question (and is "
        "required when stdin is not a terminal).",
    )
    parser.add_argument("batch_id", metavar="BATCH_ID")
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask")
    _shared.add_common(parser)


def run(args: argparse.Namespace) -> int:
    async def body(profile: Profile, client: BatchClient) -> int:
        import json

        from tui.commands.show import retrieve_known
        from tui.core.anthropic_client import AnthropicBatchClient
        from tui.core.text import one_line

        if not isinstance(client, AnthropicBatchClient):
            raise _shared.CommandError(
                f"profile {profile.name!r} ({profile.provider_name}): only Anthropic message "
                "batches can be deleted",
                _shared.EXIT_USAGE,
            )
        batch = await retrieve_known(client, args.batch_id)
        if not batch.is_final:
            raise _shared.CommandError(
                f"batch {one_line(batch.id)} is {batch.status}: cancel it first"
            )
        _shared.confirm(f"Delete batch {one_line(batch.id)} and its results?", yes=args.yes)
        deleted = await client.delete_batch(batch.id)
        if args.json:
            _shared.write(json.dumps({"id": batch.id, "deleted": deleted}) + "\n")
        else:
            _shared.write(f"{one_line(batch.id)}  {'deleted' if deleted else 'not deleted'}\n")
        return _shared.EXIT_OK if deleted else _shared.EXIT_FAILURE

    return _shared.run_with_client(args, body)
