"""Snapshots of the batches screen (120x36 and 80x24), F1 help and the profile
switcher, on the demo data with time, ids, host and theme pinned."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.ui.batches_support import KEY_ENV, build_app, loaded, start_server
from tui.app import BatchDeckApp
from tui.core.config import Config, Profile
from tui.core.registry import Job, Registry
from tui.localapi.demo import seed_demo


@pytest.fixture
def demo_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[BatchDeckApp]:
    server = start_server(tmp_path / "server", id_seed=3)
    try:
        registry = Registry(durable=False)
        for seeded in seed_demo(server):
            registry.add(
                Job(
                    batch_id=seeded["id"],
                    description=seeded["description"],
                    tags=tuple(seeded["tags"]),
                )
            )
        monkeypatch.setattr(Profile, "host", lambda self: "batches.example:8080")
        profiles = {
            "demo": Profile("demo", base_url=server.base_url, api_key_env=KEY_ENV),
            "work": Profile("work", base_url="https://api.openai.com/v1", api_key_env="NO_SUCH"),
        }
        config = Config(profiles=profiles, default_profile="demo")
        app = build_app(server, monkeypatch, registry, config=config)
        app.theme = "textual-dark"
        yield app
    finally:
        server.stop()


async def ready(pilot: Pilot[Any]) -> None:
    await loaded(pilot)
    await pilot.pause()


def test_batches_120x36(snap_compare: Any, demo_app: BatchDeckApp) -> None:
    assert snap_compare(demo_app, terminal_size=(120, 36), run_before=ready)


def test_batches_80x24(snap_compare: Any, demo_app: BatchDeckApp) -> None:
    assert snap_compare(demo_app, terminal_size=(80, 24), run_before=ready)


def test_batches_filtered_and_sorted_80x24(snap_compare: Any, demo_app: BatchDeckApp) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await pilot.press("s", "o", "o", "o")  # active only, sorted by status

    assert snap_compare(demo_app, terminal_size=(80, 24), run_before=run_before)


def test_help_80x24(snap_compare: Any, demo_app: BatchDeckApp) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await pilot.press("f1")

    assert snap_compare(demo_app, terminal_size=(80, 24), run_before=run_before)


def test_profile_switcher_120x36(snap_compare: Any, demo_app: BatchDeckApp) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await pilot.press("p")

    assert snap_compare(demo_app, terminal_size=(120, 36), run_before=run_before)
