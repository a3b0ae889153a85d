"""``batchdeck demo``: the app on an embedded server seeded with batches in every state.

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


def build_demo(root: Path) -> tuple[BatchDeckApp, LocalServer]:
    """Start the seeded server under ``root`` and build the app on it (not yet run)."""
    from tui.app import make_app
    from tui.core.client import BatchClient
    from tui.core.config import Config, Profile
    from tui.core.registry import Job, Registry
    from tui.localapi.anthropic_demo import seed_anthropic_demo
    from tui.localapi.demo import seed_demo
    from tui.localapi.server import LocalServer

    os.environ["BATCHDECK_CONFIG_DIR"] = str(root / "config")
    os.environ["BATCHDECK_DATA_DIR"] = str(root / "data")
    os.environ[DEMO_KEY_ENV] = secrets.token_urlsafe(24)
    server = LocalServer(root / "server", api_key=os.environ[DEMO_KEY_ENV], durable=False)
    server.start()
    try:
        profile = Profile("demo", base_url=server.base_url, api_key_env=DEMO_KEY_ENV)
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
        config = Config(profiles={"demo": profile, claude.name: claude}, default_profile="demo")
        app = make_app(config, BatchClient(profile), registry, profile=profile)
    except BaseException:
        server.stop()
        raise
    return app, server
