"""The fleet view with Pilot: two servers as profiles whose batch ids collide, one
failing server and a profile without its key. Every profile's batches show in one
table, newest first, with a health strip; opening, results and cancel act on the
row's own profile; ``A`` and the palette go there and back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from tests.api.conftest import API_KEY
from tests.ui.batches_support import KEY_ENV, build_app, loaded, seed, start_server
from tests.ui.conftest import until
from tui.core import fleet
from tui.core.config import Config, Profile
from tui.dialogs.confirm import ConfirmDialog
from tui.localapi.server import LocalServer
from tui.palette import deck_commands
from tui.screens.batch_detail import BatchDetailScreen
from tui.screens.batches import BatchesScreen
from tui.screens.fleet import FleetScreen
from tui.screens.results import ResultsScreen


@pytest.fixture
def servers(tmp_path: Path) -> Any:
    """``a`` and ``b`` (the same id seed: their first batch ids are equal) and a
    ``broken`` one whose batch list answers 500."""
    started = {name: start_server(tmp_path / name) for name in ("a", "b", "broken")}
    started["broken"].faults.add("500", times=None, path="/v1/batches*", retry_after=0.01)
    try:
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture(autouse=True)
def _no_polling_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Closing the screen (or the app) mid-poll stops the polls before their clients."""
    yield
    assert not [r for r in caplog.records if r.name == "tui.screens.fleet"], caplog.text


def fleet_config(servers: dict[str, LocalServer]) -> Config:
    profiles = {
        name: Profile(name, base_url=server.base_url, api_key_env=KEY_ENV)
        for name, server in servers.items()
    }
    profiles["nokey"] = Profile(
        "nokey", base_url=servers["a"].base_url, api_key_env="FLEET_UI_NO_KEY"
    )
    return Config(profiles=profiles, default_profile="a")


def fleet_screen(pilot: Pilot[Any]) -> FleetScreen:
    screen = pilot.app.screen
    assert isinstance(screen, FleetScreen), type(screen).__name__
    return screen


def ready(screen: FleetScreen) -> bool:
    """Mounted, and every profile has answered (or failed) once."""
    return bool(states(screen)) and "waiting" not in states(screen).values()


def refs(screen: FleetScreen) -> list[str]:
    return list(screen.table.shown)


def states(screen: FleetScreen) -> dict[str, str]:
    healths = screen.fleet.health() if screen.fleet is not None else []
    return {health.profile: health.state for health in healths}


async def test_every_profile_in_one_table_acting_on_its_own_profile(
    servers: dict[str, LocalServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLEET_UI_NO_KEY", raising=False)
    a_ids = seed(servers["a"], final=1, active=1)  # newest first: [active, final]
    (b_id,) = seed(servers["b"], active=1, age=1_000)  # newer than a's; the id of a's final
    assert b_id == a_ids[1]
    app = build_app(servers["a"], monkeypatch, config=fleet_config(servers))
    async with app.run_test(size=(140, 36)) as pilot:
        await loaded(pilot)
        await pilot.press("A")
        screen = fleet_screen(pilot)
        await until(pilot, lambda: ready(screen) and len(refs(screen)) == 3)
        assert refs(screen) == [f"b:{b_id}", f"a:{a_ids[0]}", f"a:{a_ids[1]}"]
        assert states(screen) == {
            "a": fleet.OK,
            "b": fleet.OK,
            "broken": fleet.SERVER_ERROR,
            "nokey": fleet.NO_KEY,
        }
        strip = str(screen.query_one("#fleet-health", Static).render())
        assert "broken  server error" in strip and "nokey  no key" in strip
        assert "a  ok" in strip and "1 active" in strip
        assert str(screen.table.get_row_at(0)[0]) == "b"  # the Profile column
        status = str(screen.query_one("#fleet-status", Static).render())
        assert status.startswith("3 batches · 4 profiles · 2 active · 2 not answering")

        # the inspector of a's active batch reads a's server
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, BatchDetailScreen))
        detail = app.screen
        assert isinstance(detail, BatchDetailScreen)
        assert detail.deck.profile.name == "a" and detail.batch_id == a_ids[0]
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        await pilot.press("v")  # its results, from a's server too
        await until(pilot, lambda: isinstance(app.screen, ResultsScreen))
        assert app.screen.deck.client is screen.fleet.client("a")  # type: ignore[union-attr, attr-defined]
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)

        # cancel b's batch: b's server cancels it, a's batch of the same id is left alone
        await pilot.press("up", "c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: servers["b"].batch(b_id)["status"] == "cancelling")
        assert servers["a"].batch(b_id)["status"] == "completed"
        await until(pilot, lambda: screen.table.shown[f"b:{b_id}"].batch.status == "cancelling")
        servers["b"].advance(60)  # cancelled now; the next poll says so
        await pilot.press("r")
        await until(pilot, lambda: any(n.title == "Batch finished" for n in app._notifications))
        (note,) = [n for n in app._notifications if n.title == "Batch finished"]
        assert note.message == f"Batch {b_id} of b is cancelled."

        await pilot.press("A")  # back to the one-profile screen
        assert isinstance(app.screen, BatchesScreen)


async def test_the_palette_opens_the_fleet_view(
    servers: dict[str, LocalServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLEET_UI_NO_KEY", API_KEY)
    seed(servers["b"], active=1)
    app = build_app(servers["a"], monkeypatch, config=fleet_config(servers))
    async with app.run_test(size=(140, 36)) as pilot:
        await loaded(pilot)
        (command,) = [c for c in deck_commands(app, app.screen) if c.title.startswith("Fleet view")]
        command.callback()
        screen = fleet_screen(pilot)
        await until(pilot, lambda: states(screen).get("b") == fleet.OK)
        await until(pilot, lambda: states(screen)["nokey"] == fleet.OK)  # its key is set now
        (back,) = [c for c in deck_commands(app, app.screen) if c.title.startswith("Fleet view")]
        back.callback()
        assert isinstance(app.screen, BatchesScreen)


async def test_all_profiles_opens_the_app_on_the_fleet_view(
    servers: dict[str, LocalServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``batchdeck --all-profiles``: the default profile has no key, so the app runs on
    the first profile that has one, and opens on the fleet view."""
    import gc

    from tui import hangup
    from tui.cli import main
    from tui.core import paths

    monkeypatch.setenv(KEY_ENV, API_KEY)
    seed(servers["b"], active=1)
    path = paths.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        '[settings]\nprofile = "openai"\n[profiles.openai]\napi_key_env = "FLEET_UI_NO_KEY"\n'
        + "".join(
            f'[profiles.{name}]\nbase_url = "{servers[name].base_url}"\napi_key_env = "{KEY_ENV}"\n'
            for name in ("a", "b")
        ),
        encoding="utf-8",
    )
    monkeypatch.delenv("FLEET_UI_NO_KEY", raising=False)
    ran: dict[str, Any] = {}
    monkeypatch.setattr(
        hangup, "run_app", lambda app, **options: ran.update(app=app, **options) or 0
    )
    try:
        assert main(["--all-profiles"]) == 0
    finally:
        gc.enable()  # the launch pauses it until the app's client is ready
    app = ran["app"]
    assert app.profile.name == "a"
    async with app.run_test(size=(140, 36)) as pilot:
        await ran["auto_pilot"](pilot)
        screen = fleet_screen(pilot)
        await until(pilot, lambda: ready(screen) and bool(refs(screen)))
        assert states(screen)["openai"] == fleet.NO_KEY
        assert [ref.split(":")[0] for ref in refs(screen)] == ["b"]


async def test_a_batch_of_another_profile_finishing_fires_the_hooks(
    servers: dict[str, LocalServer], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import shlex

    from tests._hooks import recorder, runs
    from tests.ui.batches_support import QUICK, register
    from tui.core.hook_settings import HookSettings
    from tui.core.registry import Registry

    monkeypatch.setenv("FLEET_UI_NO_KEY", API_KEY)
    (b_id,) = seed(servers["b"], active=1, timing=QUICK, age=0)
    registry = Registry(durable=False)
    register(registry, [b_id], description="the b team's batch")
    out, command = recorder(tmp_path)
    config = fleet_config(servers)
    config.hooks = HookSettings(on_final=tuple(shlex.split(command)))
    app = build_app(servers["a"], monkeypatch, registry, config=config)
    async with app.run_test(size=(140, 36)) as pilot:
        await loaded(pilot)
        await pilot.press("A")
        screen = fleet_screen(pilot)
        await until(pilot, lambda: ready(screen) and bool(refs(screen)))
        assert runs(out) == []
        servers["b"].advance(60)  # b's batch completes
        await pilot.press("r")
        await until(pilot, lambda: len(runs(out)) == 1)
        [hook] = runs(out)
        assert hook["env"]["BATCHDECK_BATCH_ID"] == b_id
        assert hook["env"]["BATCHDECK_STATUS"] == "completed"

        def snapshot_status() -> str | None:  # kept current: the cached view, spend
            job = registry.find_by_batch(b_id)
            return job.status if job is not None else None

        await until(pilot, lambda: snapshot_status() == "completed")


async def test_the_table_updates_in_place_keeps_the_cursor_and_fits_the_width() -> None:
    from dataclasses import replace

    from textual.app import App, ComposeResult

    from tui.core.models import Batch
    from tui.widgets.fleet_table import FleetTable

    def row(profile: str, batch_id: str, created: int, status: str = "completed") -> Any:
        batch = Batch(batch_id, status, "/v1/chat/completions", "file-1", created)
        return fleet.FleetBatch(profile, batch)

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield FleetTable()

    old, mid, new = row("a", "batch_1", 100), row("b", "batch_1", 200), row("a", "batch_2", 300)
    async with Host().run_test(size=(140, 20)) as pilot:
        table = pilot.app.query_one(FleetTable)

        def order() -> list[str]:
            return [str(r.key.value) for r in table.ordered_rows]

        table.show([mid, old])
        table.move_cursor(row=1)  # on a:batch_1
        table.show([new, mid, old])  # a newer batch of a: sorted in, the cursor follows
        assert order() == ["a:batch_2", "b:batch_1", "a:batch_1"]
        assert table.selected_ref() == "a:batch_1"
        cancelled = fleet.FleetBatch("b", replace(mid.batch, status="cancelled"))
        table.show([new, cancelled])  # a's old batch went; b's changed in place
        assert order() == ["a:batch_2", "b:batch_1"]
        assert str(table.get_cell("b:batch_1", "status")) == "cancelled"
        assert len(table.columns) == 7
        await pilot.resize_terminal(80, 20)  # narrow: no Created, no In state
        await until(pilot, lambda: len(table.columns) == 5)
        assert order() == ["a:batch_2", "b:batch_1"]
        assert table.virtual_size.width <= 80  # no sideways scrolling
