"""The app shell: header, footer, F1 help from live bindings, the command palette,
the profile switcher, themes (kept in config.toml when there is one), the bell
toggle, and the 80x24 layout."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Footer

from tests.api.conftest import API_KEY
from tests.ui.batches_support import (
    KEY_ENV,
    batches_screen,
    build_app,
    loaded,
    seed,
    start_server,
    wait_for,
)
from tui.core.config import Config, Profile, load_config, save_config
from tui.localapi.server import LocalServer
from tui.palette import deck_commands


def first_command(app: object) -> str:
    """The top match in the open command palette ("" if none yet)."""
    from textual.command import CommandList

    found = app.screen.query(CommandList)  # type: ignore[attr-defined]
    if not found or not found.first().option_count:
        return ""
    return str(found.first().get_option_at_index(0).prompt)


def two_profiles(first: LocalServer, second: LocalServer, path: Path | None = None) -> Config:
    profiles = {
        "one": Profile("one", base_url=first.base_url, api_key_env=KEY_ENV),
        "two": Profile("two", base_url=second.base_url, api_key_env=KEY_ENV),
    }
    return Config(profiles=profiles, default_profile="one", path=path)


async def test_header_names_profile_and_host_and_footer_shows_keys(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build_app(server, monkeypatch)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        assert app.sub_title == f"test · 127.0.0.1:{server.base_url.split(':')[2].split('/')[0]}"
        footer = app.screen.query_one(Footer)
        keys = {(b.binding.description) for b in app.screen.active_bindings.values()}
        assert {"Open", "Filter", "Status", "Sort", "Mine", "Help", "Quit"} <= keys
        assert footer.region.bottom == 24


async def test_f1_help_lists_the_live_bindings(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build_app(server, monkeypatch)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.press("f1")
        assert type(app.screen).__name__ == "HelpScreen"
        table = app.screen.query_one(DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        described = {row[1]: row for row in rows}
        assert described["Filter"] == ["/", "Filter", "screen"]
        assert described["Help"][2] == "app"
        assert described["Open"] == ["⏎", "Open", "Batch table"]  # the focused table
        assert described["Bell on finish"][0] == "b"  # hidden from the footer, not here
        assert described["Down"] == ["j ↓", "Down", "lists"]  # one row: arrows and letters
        assert described["First row"] == ["home g", "First row", "lists"]
        assert described["Command palette"] == ["^p", "Command palette", "app"]
        assert described["Quit"] == ["q ^q", "Quit", "app"]
        keys = " ".join(row[0] for row in rows)
        for useless in ("super+c", "⊞", "Cursor left", "Page Left", "Copy selected text"):
            assert useless not in keys and useless not in described
        assert "palette" not in described  # Textual's lowercase name
        assert [row[2] for row in rows].index("lists") > [row[2] for row in rows].index("screen")
        await pilot.press("f1")  # F1 again closes
        assert type(app.screen).__name__ == "BatchesScreen"


async def test_every_action_is_in_the_palette(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build_app(server, monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        titles = {command.title for command in app.get_system_commands(app.screen)}
        for wanted in (
            "Refresh batches",
            "Open selected batch",
            "Open results of selected batch",
            "Files",
            "Compose a new batch",
            "Filter by text",
            "Show only in_progress batches",
            "Show all batches",
            "Toggle only my registry",
            "Sort by model",
            "Reverse sort",
            "Toggle exact times",
            "Switch profile",
            "Next theme",
            "Toggle bell",
            "Help",
            "Quit",
            "Theme",
        ):
            assert wanted in titles
        screen = batches_screen(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"only my registry")
        await wait_for(pilot, lambda: first_command(app).startswith("Toggle only my registry"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.table.only_mine)
        assert app.screen is screen
        by_title = {c.title: c for c in deck_commands(app, app.screen)}
        by_title["Sort by status"].callback()
        assert screen.table.sort_column == "status"


async def test_profile_switcher_rebuilds_the_client_and_reloads(
    tmp_path: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = start_server(tmp_path / "other", id_seed=99)
    try:
        seed(server, active=1)
        theirs = seed(other, active=2)
        app = build_app(server, monkeypatch, config=two_profiles(server, other))
        async with app.run_test(size=(80, 24)) as pilot:
            await loaded(pilot)
            first_client = app.client
            screen = batches_screen(pilot)
            assert screen.table.row_count == 1
            await pilot.press("p")
            assert type(app.screen).__name__ == "ProfilesScreen"
            await pilot.press("down", "enter")
            await wait_for(pilot, lambda: app.profile.name == "two")
            assert app.client is not first_client
            assert app.sub_title.startswith("two · 127.0.0.1:")
            await wait_for(pilot, lambda: set(screen.table.batches) == set(theirs))
            await pilot.press("p", "escape")  # cancelled: nothing changes
            assert app.profile.name == "two"
    finally:
        other.stop()


async def test_theme_cycles_and_is_kept_in_an_existing_config_file(
    tmp_path: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.toml"
    config = two_profiles(server, server, path)
    save_config(config)
    app = build_app(server, monkeypatch, config=config)
    async with app.run_test(size=(80, 24)) as pilot:
        before = app.theme
        await pilot.press("T")
        await pilot.pause()
        assert app.theme != before
        chosen = app.theme
        await pilot.press("b")
        assert app.bell_enabled
    saved = load_config(path)
    assert saved.settings["theme"] == chosen
    assert saved.settings["bell"] is True
    assert API_KEY not in path.read_text()
    again = build_app(server, monkeypatch, config=saved)
    assert again.theme == chosen and again.bell_enabled


async def test_theme_without_a_config_file_stays_in_memory(
    tmp_path: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = two_profiles(server, server, tmp_path / "missing.toml")
    app = build_app(server, monkeypatch, config=config)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("T")
        await pilot.pause()
        assert config.settings["theme"] == app.theme
    assert not (tmp_path / "missing.toml").exists()


async def test_narrow_layout_keeps_what_matters(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(server, active=1, final=1)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        table = batches_screen(pilot).table
        assert [str(c.label) for c in table.columns.values()] == [
            "ID",
            "Description",
            "Status",
            "Progress",
            "In state",
        ]
        assert table.virtual_size.width <= table.size.width  # nothing off to the right
        await pilot.resize_terminal(120, 36)
        await wait_for(pilot, lambda: len(table.columns) == 8)
        assert table.virtual_size.width <= table.size.width
