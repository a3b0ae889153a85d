"""The app fires the [hooks] notifications when its poller sees a batch finish: the
hook once, OSC 9 / 777 through Textual's driver, a failing hook as a warning."""

from __future__ import annotations

import shlex
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tests._hooks import recorder, runs
from tests.ui.batches_support import (
    QUICK,
    batches_screen,
    build_app,
    loaded,
    register,
    seed,
    wait_for,
)
from tui.core.config import Config, Profile
from tui.core.hook_settings import TERMINAL_CHOICES, HookSettings
from tui.core.registry import Registry
from tui.localapi.server import LocalServer


def config_with(server: LocalServer, hooks: HookSettings) -> Config:
    profile = Profile("test", base_url=server.base_url, api_key_env="BATCHDECK_TEST_KEY")
    return Config(profiles={"test": profile}, default_profile="test", hooks=hooks)


async def test_a_batch_finishing_in_the_app_fires_the_hook_and_the_terminal_once(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seed(server, final=3)
    quick = seed(server, active=1, timing=QUICK, age=0)
    registry = Registry(durable=False)
    register(registry, quick, description="nightly; $(rm -rf ~)")
    out, command = recorder(tmp_path)
    hooks = HookSettings(on_final=tuple(shlex.split(command)), terminal=TERMINAL_CHOICES)
    app = build_app(server, monkeypatch, registry, config=config_with(server, hooks))
    written: list[str] = []
    async with app.run_test(size=(120, 36)) as pilot:
        monkeypatch.setattr(app._driver, "write", written.append)
        await loaded(pilot)
        screen = batches_screen(pilot)
        assert runs(out) == []  # old completed batches are no news
        server.advance(60)
        screen.action_refresh()
        await loaded(pilot, cycles=2)
        await wait_for(pilot, lambda: len(runs(out)) == 1 and len(written) == 1)
        [hook] = runs(out)
        assert hook["env"]["BATCHDECK_BATCH_ID"] == quick[0]
        assert hook["env"]["BATCHDECK_STATUS"] == "completed"
        assert hook["env"]["BATCHDECK_DESCRIPTION"] == "nightly; $(rm -rf ~)"
        [sequences] = written
        assert sequences.startswith(f"\x1b]9;batchdeck: batch completed: {quick[0]} (nightly; ")
        assert f"\x1b]777;notify;batchdeck: batch completed;{quick[0]}" in sequences
        job = registry.find_by_batch(quick[0])
        assert job is not None and set(job.notified) == {"final"}

        screen.action_refresh()  # seen again: nothing fires twice
        await loaded(pilot, cycles=3)
        await pilot.app.workers.wait_for_complete()
        assert len(runs(out)) == 1 and len(written) == 1


async def test_a_failing_hook_is_a_warning_in_the_app(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    quick = seed(server, active=1, timing=QUICK, age=0)
    registry = Registry(durable=False)
    register(registry, quick)
    failing = (sys.executable, "-c", "raise SystemExit(4)")
    hooks = replace(HookSettings(), on_final=failing)
    app = build_app(server, monkeypatch, registry, config=config_with(server, hooks))
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        server.advance(60)
        batches_screen(pilot).action_refresh()

        def warned() -> bool:
            return any("exit status 4" in n.message for n in app._notifications)

        await wait_for(pilot, warned)
        [note] = [n for n in app._notifications if "exit status 4" in n.message]
        assert note.severity == "warning" and not note.markup
