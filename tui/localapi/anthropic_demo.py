"""Seed a server with Anthropic message batches, for the demo's Claude profile.

Each batch is created in the simulated past with its own timing, so that by "now" it
shows its state:

==========================  =======================================================
ended                       ticket summaries with Claude: 12 requests, 2 errored
in_progress (advancing)     product copy; ends ``ahead`` simulated seconds from now
ended, canceled part way    French catalogue, canceled after 8 of 20
ended, expired              2019 backfill: 24 h ran out with about half done
==========================  =======================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tui.localapi.anthropic_api import served_batches
from tui.localapi.anthropic_shapes import state
from tui.localapi.clock import COMPLETION_WINDOW_SECONDS, Timing

if TYPE_CHECKING:
    from tui.localapi.server import LocalServer

HOUR = 3600.0
MODEL = "claude-haiku-4-5"


def _requests(count: int, prompt: str, fail: dict[int, int] | None = None) -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        text = f"{prompt} #{i + 1}" + (f" [fail:{fail[i]}]" if fail and i in fail else "")
        out.append(
            {
                "custom_id": f"req-{i + 1:03d}",
                "params": {
                    "model": MODEL,
                    "max_tokens": 256,
                    "system": "Answer in two sentences.",
                    "messages": [{"role": "user", "content": text}],
                },
            }
        )
    return out


def seed_anthropic_demo(server: LocalServer, *, ahead: float = 300.0) -> list[dict[str, Any]]:
    """Create the demo's message batches; one dict per batch (``id``, ``status``,
    ``description``, ``tags``). ``ahead``: simulated seconds until the running one ends."""

    def seed() -> list[dict[str, Any]]:
        batches = served_batches(server.data_dir)
        now = server.engine.now()
        quick = Timing(per_request=2.0, finalizing=30.0, cancelling=20.0)
        plans: list[tuple[str, tuple[str, ...], list[dict[str, Any]], float, Timing, Any]] = [
            (
                "Claude: support-ticket summaries",
                ("claude", "support"),
                _requests(12, "Summarise ticket", fail={4: 529, 9: 400}),
                now - 3 * HOUR,
                quick,
                None,
            ),
            (
                "Claude: product copy (running)",
                ("claude", "catalogue"),
                _requests(30, "Write copy for product"),
                now - 60,
                Timing(per_request=(ahead + 60) / 30, finalizing=5.0),
                None,
            ),
            (
                "Claude: catalogue in French, canceled",
                ("claude", "catalogue", "fr"),
                _requests(20, "Translate to French: item"),
                now - 5 * HOUR,
                Timing(per_request=60.0, cancelling=30.0),
                now - 5 * HOUR + 8 * 60.0 + 1,
            ),
            (
                "Claude: 2019 ticket backfill, expired",
                ("claude", "backfill"),
                _requests(16, "Classify old ticket"),
                now - COMPLETION_WINDOW_SECONDS - 2 * HOUR,
                Timing(per_request=COMPLETION_WINDOW_SECONDS / 8.5),
                None,
            ),
        ]
        out = []
        for description, tags, requests, created, timing, cancel_at in plans:
            record = batches.create(requests, created=created, timing=timing, cancel_at=cancel_at)
            status = state(record, now).processing_status
            out.append(
                {"id": record["id"], "status": status, "description": description, "tags": tags}
            )
        return out

    return server.call(seed)
