"""The Queue screen and the queue's runner inside the app: budget bars, waiting parts
with why each waits, group progress; pause, resume and drop change the registry; the
app sends the parts against the embedded server under its token limit, never over
it, and beside a cron ``batchdeck queue run`` nothing is sent twice."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from tests._hooks import recorder, runs
from tests.api._cli import env_for, run
from tests.api.conftest import API_KEY, FAST, chat_line, jsonl, make_client
from tests.api.test_queue_flow import joined_ids, limit_failures, peak_enqueued
from tests.ui.batches_support import KEY_ENV, build_app, start_server
from tests.ui.conftest import until
from tui.app import BatchDeckApp, make_app
from tui.core.client import BatchClient
from tui.core.config import Config, Profile, load_config
from tui.core.hook_settings import HookSettings
from tui.core.journal import Journal
from tui.core.queue import QueueError, enqueue_file
from tui.core.queue_view import COMPLETED, groups_of
from tui.core.registry import Registry
from tui.core.tokens import estimate_file
from tui.dialogs.confirm import ConfirmDialog
from tui.localapi.server import LocalServer
from tui.screens.queue import QueueScreen
from tui.widgets.queue_budget import BudgetBar

MODEL = "gpt-4o-mini"
LINES_PER_PART = 2
HOSTILE = "Tickets \x1b[31m[bold]red[/bold]"  # shown literally


def lines(count: int, prefix: str) -> list[dict[str, Any]]:
    return [chat_line(f"{prefix}-{i:03d}", "Summarise: the parcel is late.") for i in range(count)]


def per_part(tmp_path: Path) -> int:
    path = tmp_path / "one-part.jsonl"
    path.write_bytes(jsonl(lines(LINES_PER_PART, "x")))
    return estimate_file(path, exact=True).input_tokens


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[tuple[LocalServer, int]]:
    """A manual-clock server whose gpt-4o-mini limit holds three parts, and that figure."""
    limit = 3 * per_part(tmp_path)
    server = start_server(tmp_path / "server", timing=FAST, token_limits={MODEL: limit})
    try:
        yield server, limit
    finally:
        server.stop()


def queued_app(
    server: LocalServer, limit: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **jobs: int
) -> BatchDeckApp:
    """The app with ``limit`` configured, and one queued group per ``jobs`` entry
    (description: parts), in order."""
    profile = Profile(
        "test", base_url=server.base_url, api_key_env=KEY_ENV, token_limits={MODEL: limit}
    )
    config = Config(profiles={"test": profile}, default_profile="test")
    app = build_app(server, monkeypatch, Registry(durable=False), config=config)
    journal = Journal(app.registry, app.client, app.profile)
    for name, parts in jobs.items():
        source = tmp_path / f"{name}.jsonl"
        source.write_bytes(jsonl(lines(parts * LINES_PER_PART, name)))
        enqueue_file(
            journal, source, description=f"{HOSTILE} {name}", part_tokens=per_part(tmp_path)
        )
    return app


def cells(table: DataTable[Any], column: int) -> list[str]:
    return [str(table.get_row_at(i)[column]) for i in range(table.row_count)]


async def open_queue(pilot: Pilot[Any]) -> QueueScreen:
    await pilot.press("u")
    await until(pilot, lambda: isinstance(pilot.app.screen, QueueScreen))
    screen = pilot.app.screen
    assert isinstance(screen, QueueScreen)
    await until(pilot, lambda: screen.view is not None)
    return screen


async def test_the_runner_sends_under_the_limit_and_the_screen_shows_it(
    limited: tuple[LocalServer, int], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server, limit = limited
    app = queued_app(server, limit, monkeypatch, tmp_path, tickets=8)
    app.queue_runner.interval = 0.02
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_queue(pilot)
        await until(pilot, lambda: app.queue_runner.passes >= 1)
        screen.action_run_now()
        await until(pilot, lambda: screen.waiting_table.row_count == 5)
        groups, waiting = screen.groups_table, screen.waiting_table
        assert cells(groups, 1) == ["running"] and cells(groups, 2) == ["0/8"]
        assert cells(groups, 3) == ["0/16"]  # requests answered of all
        assert cells(groups, 7) == [f"{HOSTILE} tickets".replace("\x1b", "\\x1b")]
        reasons = cells(waiting, 3)
        assert reasons[0].startswith(f"needs {limit // 3:,} tokens; {limit:,} of {limit:,}")
        assert reasons[0].endswith("(configured)") and reasons[1].startswith("after part 4 of grp-")
        assert cells(waiting, 0) == [f"{n}/8" for n in range(4, 9)]
        (bar,) = screen.query(BudgetBar)
        painted = str(bar.render())
        assert f"limit {limit:,} (configured)" in painted and "5 parts waiting" in painted
        assert f"{limit:,} / {limit:,} tokens in flight  100%" in painted
        status = str(screen.query_one("#queue-status", Static).render())
        assert status.startswith("1 job group · 5 parts waiting")

        def flowed() -> bool:  # the clock moves only while the test looks
            server.advance(5)
            return screen.view is not None and screen.view.groups[0].status == "completed"

        await until(pilot, flowed)
        await until(pilot, lambda: cells(screen.groups_table, 3) == ["16/16"])
        assert screen.waiting_table.row_count == 0
    (group,) = groups_of(app.registry.load().values()).values()
    assert group.count(COMPLETED) == 8 and group.attempts == 8
    assert all((p.in_flight_at_send or 0) <= limit for p in group.latest.values())
    with make_client(server) as sdk:
        assert limit_failures(sdk) == 0 and peak_enqueued(sdk, limit // 3) <= limit
        assert joined_ids(sdk) == Counter({line["custom_id"]: 1 for line in lines(16, "tickets")})


async def test_pause_resume_and_drop_change_the_registry(
    limited: tuple[LocalServer, int], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server, limit = limited
    app = queued_app(server, limit, monkeypatch, tmp_path, first=4, second=3)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_queue(pilot)
        await until(pilot, lambda: screen.groups_table.row_count == 2)
        second = screen.view.groups[1] if screen.view else None
        assert second is not None and second.description.endswith("second")
        screen.groups_table.move_cursor(row=1)

        def flags(name: str) -> set[bool]:
            jobs = app.registry.load().values()
            return {
                (j.submission or {}).get("queue", {}).get(name) is True
                for j in jobs
                if j.group_id == second.group_id
            }

        def members() -> int:
            return sum(1 for j in app.registry.load().values() if j.group_id == second.group_id)

        await pilot.press("space")
        await until(pilot, lambda: flags("paused") == {True})
        await until(pilot, lambda: "paused" in cells(screen.groups_table, 1))
        await until(pilot, lambda: "paused" in cells(screen.waiting_table, 3))
        await pilot.press("space")
        await until(pilot, lambda: flags("paused") == {False})
        assert members() == 3
        await pilot.press("d")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog))
        await pilot.press("y")

        await until(pilot, lambda: members() == 0)  # its three unsent parts left the registry
        await until(pilot, lambda: screen.groups_table.row_count == 1)
        assert str(screen.groups_table.get_row_at(0)[0]) != second.group_id
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(pilot.app.screen, QueueScreen))


async def test_the_app_and_a_cron_runner_never_send_a_part_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    limit = 3 * per_part(tmp_path)
    server = LocalServer(
        tmp_path / "server",
        api_key=API_KEY,
        durable=False,
        timing=FAST,
        time_scale=50,
        token_limits={MODEL: limit},
    )
    server.start()
    try:
        config = tmp_path / "bd-config" / "config.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(
            f'[profiles.default]\nbase_url = "{server.base_url}"\n\n'
            f'[profiles.default.token_limits]\n"{MODEL}" = {limit}\n'
        )
        monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
        source = tmp_path / "job.jsonl"
        source.write_bytes(jsonl(lines(24, "job")))
        tokens = str(limit // 3)
        queued = run(capsys, "submit", str(source), "--queue", "--part-tokens", tokens)
        assert queued.code == 0, queued.err
        loaded = load_config()
        app = make_app(loaded, BatchClient(loaded.profile()), Registry(durable=False))
        app.queue_runner.interval = 0.01
        env = env_for(None, tmp_path)
        env["OPENAI_API_KEY"] = API_KEY
        cron = [sys.executable, "-m", "tui.cli", "queue", "run", "--until-done"]
        async with app.run_test(size=(120, 36)) as pilot:
            # the app's runner has sent what fits (3 of 12 parts): both runners then
            # carry the rest at once, whichever finishes it
            await until(pilot, lambda: app.queue_runner.passes >= 1)
            child = subprocess.Popen(
                [*cron, "--interval", "10ms", "--timeout", "120"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                await until(pilot, lambda: child.poll() is not None, timeout=150)
            finally:
                child.kill()
                _, err = child.communicate()
            assert child.returncode == 0, err
        (group,) = groups_of(Registry().load().values()).values()
        assert group.status == "completed" and group.attempts == 12
        with make_client(server) as sdk:
            assert limit_failures(sdk) == 0 and peak_enqueued(sdk, limit // 3) <= limit
            assert len(list(sdk.batches.list(limit=100))) == 12
            assert joined_ids(sdk) == Counter({line["custom_id"]: 1 for line in lines(24, "job")})
    finally:
        server.stop()


async def test_a_failing_pass_is_a_notification_once_and_the_app_goes_on(
    limited: tuple[LocalServer, int], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server, limit = limited
    app = queued_app(server, limit, monkeypatch, tmp_path, tickets=2)
    app.queue_runner.interval = 0.02
    calls: list[int] = []

    async def broken(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        raise QueueError("the registry's queue is unreadable: \x1b[2J")

    monkeypatch.setattr("tui.core.queue.run_queue_pass", broken)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(calls) >= 3)  # the runner keeps trying
        said = [n.message for n in app._notifications if "Queue runner" in n.message]
        assert said == ["Queue runner: the registry's queue is unreadable: \\x1b[2J"]
        assert app.queue_runner.passes == 0
        await pilot.press("u")
        await until(pilot, lambda: isinstance(app.screen, QueueScreen))


async def test_a_group_ending_in_the_app_fires_the_hook(
    limited: tuple[LocalServer, int], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server, limit = limited
    out, command = recorder(tmp_path)
    app = queued_app(server, limit, monkeypatch, tmp_path, tickets=2)
    app.config.hooks = HookSettings(on_final=tuple(shlex.split(command)))
    app.queue_runner.interval = 0.02
    (group,) = groups_of(app.registry.load().values())

    def group_told() -> bool:
        server.advance(5)
        return any(r["env"].get("BATCHDECK_GROUP_ID") == group for r in runs(out))

    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, group_told)
        await pilot.app.workers.wait_for_complete()  # the pass that told it has ended
    told = [r for r in runs(out) if r["env"].get("BATCHDECK_GROUP_ID") == group]
    assert len(told) == 1 and told[0]["env"]["BATCHDECK_STATUS"] == "completed"
