"""The provider in the header, the profile switcher and the compose form's windows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Select

from tests.ui.batches_support import (
    KEY_ENV,
    batches_screen,
    build_app,
    loaded,
    seed,
    start_server,
    wait_for,
)
from tui.core.config import Config, Profile
from tui.core.journal import SubmitError
from tui.dialogs.profiles import profile_label
from tui.localapi.server import LocalServer
from tui.screens.compose import ComposeScreen


def groq_config(server: LocalServer) -> Config:
    """A Groq profile pointed at the embedded server (its windows, its limits)."""
    groq = Profile("fast", provider="groq", base_url=server.base_url, api_key_env=KEY_ENV)
    plain = Profile("plain", base_url=server.base_url, api_key_env=KEY_ENV)
    return Config(profiles={"fast": groq, "plain": plain}, default_profile="fast")


async def open_compose(pilot: Pilot[Any]) -> ComposeScreen:
    pilot.app.push_screen(ComposeScreen())
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ComposeScreen))
    screen = pilot.app.screen
    assert isinstance(screen, ComposeScreen)
    await wait_for(pilot, lambda: bool(screen.query("#completion-window")))
    return screen


async def test_header_and_switcher_show_the_provider(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build_app(server, monkeypatch, config=groq_config(server))
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(pilot)
        assert app.sub_title.startswith("fast · groq · 127.0.0.1:")
        await pilot.press("p")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ProfilesScreen")
        await pilot.press("escape")
    assert "[groq]" in profile_label(groq_config(server).profiles["fast"], True).plain
    assert "[" not in profile_label(groq_config(server).profiles["plain"], False).plain


async def test_compose_offers_only_the_provider_windows(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build_app(server, monkeypatch, config=groq_config(server))
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(pilot)
        screen = await open_compose(pilot)
        select = screen.query_one("#completion-window", Select)
        offered = [value for _, value in select._options]
        assert offered[0] == "24h" and offered[-1] == "7d" and "30d" not in offered
        select.value = "7d"
        assert screen.gather_options().completion_window == "7d"
        assert screen.gather().limits.max_bytes == 100_000_000  # Groq's, for validate
        screen.query_one("#expiry", Input).value = "7d"
        with pytest.raises(SubmitError, match="groq takes no output expiry"):
            screen.gather_options()


async def test_compose_on_openai_offers_24h_only(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build_app(server, monkeypatch)
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(pilot)
        screen = await open_compose(pilot)
        select = screen.query_one("#completion-window", Select)
        assert [value for _, value in select._options] == ["24h"]
        assert screen.gather_options().completion_window == "24h"


@pytest.mark.parametrize("quirks", [False, True])
async def test_the_app_lists_an_azure_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quirks: bool
) -> None:
    """The app on an Azure-shaped endpoint (api-key header, api-version parameter),
    plain and with odd answers: the same list as on OpenAI."""
    server = start_server(tmp_path / "azure", dialect="azure", quirks=quirks)
    try:
        ids = seed(server, active=1, final=2)
        azure = Profile(
            "az",
            provider="azure",
            azure_endpoint=server.url,
            api_version="2024-10-21",
            api_key_env=KEY_ENV,
        )
        app = build_app(
            server, monkeypatch, config=Config(profiles={"az": azure}, default_profile="az")
        )
        async with app.run_test(size=(100, 30)) as pilot:
            await loaded(pilot)
            table = batches_screen(pilot).table
            assert set(table.batches) == set(ids)
            assert app.sub_title.startswith("az · azure · 127.0.0.1:")
            batches = list(table.batches.values())
            assert [b.status for b in batches].count("completed") == 2  # "COMPLETED" lowered
            assert all(b.created_at > 1_600_000_000 for b in batches)  # ISO read as seconds
            early = {b.status for b in batches} - {"completed"}
            assert early == ({"queued"} if quirks else {"validating"})  # unknown kept as is
    finally:
        server.stop()
