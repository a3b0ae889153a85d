"""``batchdeck demo``: the app on an embedded server seeded with batches in every state,
and a queued job: a file too big for the server's ``gpt-4.1-nano`` enqueued-token
limit (configured in the demo profile too) waits in the local queue, and the app's
queue runner sends it part by part while you watch (``u``: the Queue screen).

Everything lives in a throw-away directory (config, registry, data, the server's
files) that is removed on exit; the server listens on a free loopback port with a
random key that exists only in this process's environment.
"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui.app import BatchDeckApp
    from tui.localapi.server import LocalServer

DEMO_KEY_ENV = "BATCHDECK_DEMO_KEY"
ADVANCE_SECONDS = 300.0  # the in-progress demo batch finishes five minutes after start
QUEUE_EVERY = 3.0  # seconds between the demo app's queue passes (to watch it flow)


def add_parser(sub: Any) -> None:
    sub.add_parser(
        "demo",
        help="run the app on an embedded demo server (no key needed)",
        description="Start an embedded Batch API server seeded with demo batches in every "
        "state, in a throw-away directory, and open the app on it.",
    )


def run(args: argparse.Namespace) -> int:
    from tui.hangup import run_app

    with tempfile.TemporaryDirectory(prefix="batchdeck-demo-") as tmp:
        app, server = build_demo(Path(tmp))
        try:
            return run_app(app)
        finally:
            server.stop()


def queued_job(root: Path) -> tuple[Path, int]:
    """The demo's queued job written under ``root``, and the tokens of one part."""
    import json
    import math

    from tui.core.tokens import estimate_file
    from tui.localapi.demo import QUEUED_PARTS, queued_job_lines

    path = root / "catalogue-qa.jsonl"
    lines = queued_job_lines()
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    total = estimate_file(path, exact=True).input_tokens
    return path, math.ceil(total / QUEUED_PARTS) + max(1, total // len(lines))


def build_demo(root: Path, *, time_scale: float = 1.0) -> tuple[BatchDeckApp, LocalServer]:
    """Start the seeded server under ``root`` and build the app on it (not yet run),
    with the queued job in its registry. ``time_scale`` speeds the server up (tests)."""
    from tui.app import make_app
    from tui.core.client import BatchClient
    from tui.core.config import Config, Profile
    from tui.core.journal import Journal
    from tui.core.queue import enqueue_file
    from tui.core.registry import Job, Registry
    from tui.localapi.anthropic_demo import seed_anthropic_demo
    from tui.localapi.demo import QUEUED_DESCRIPTION, QUEUED_IN_FLIGHT, QUEUED_MODEL, seed_demo
    from tui.localapi.server import LocalServer

    os.environ["BATCHDECK_CONFIG_DIR"] = str(root / "config")
    os.environ["BATCHDECK_DATA_DIR"] = str(root / "data")
    os.environ[DEMO_KEY_ENV] = secrets.token_urlsafe(24)
    job, part_tokens = queued_job(root)
    limits = {QUEUED_MODEL: QUEUED_IN_FLIGHT * part_tokens}
    server = LocalServer(
        root / "server",
        api_key=os.environ[DEMO_KEY_ENV],
        durable=False,
        time_scale=time_scale,
        token_limits=limits,
    )
    server.start()
    try:
        profile = Profile(
            "demo", base_url=server.base_url, api_key_env=DEMO_KEY_ENV, token_limits=limits
        )
        registry = Registry(durable=False)
        for seeded in seed_demo(server, advance_seconds=ADVANCE_SECONDS):
            registry.add(
                Job(
                    batch_id=seeded["id"],
                    description=seeded["description"],
                    tags=tuple(seeded["tags"]),
                    profile=profile.name,
                    base_url=profile.public_base_url(),
                )
            )
        claude = Profile(
            "claude-demo", base_url=server.url, api_key_env=DEMO_KEY_ENV, provider="anthropic"
        )  # the same server's Message Batches API, beside the OpenAI profile (`p`)
        scale = float(getattr(server.clock, "scale", 1.0) or 1.0)
        for seeded in seed_anthropic_demo(server, ahead=ADVANCE_SECONDS * scale):
            registry.add(
                Job(
                    batch_id=seeded["id"],
                    description=seeded["description"],
                    tags=tuple(seeded["tags"]),
                    profile=claude.name,
                    base_url=claude.public_base_url(),
                )
            )
        client = BatchClient(profile)
        enqueue_file(
            Journal(registry, client, profile),
            job,
            description=QUEUED_DESCRIPTION,
            tags=("catalogue", "queued"),
            part_tokens=part_tokens,
        )
        config = Config(profiles={"demo": profile, claude.name: claude}, default_profile="demo")
        app = make_app(config, client, registry, profile=profile)
        app.queue_runner.interval = QUEUE_EVERY
    except BaseException:
        server.stop()
        raise
    return app, server
