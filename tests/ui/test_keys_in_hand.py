"""The key being handled counts only while it is handled (tui.keys).

Widgets made while ``n`` opened Compose run in tasks that copied the context of that
key; if the key counted there for good, every app and screen binding would look
disabled while a field has focus, and the footer would be empty.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets._footer import FooterKey

from tests.ui.conftest import until
from tests.ui.test_compose import SIZE, compose_screen, deck
from tests.ui.test_compose_flow import server, wait_for_screen
from tui.core.registry import Registry
from tui.localapi.server import LocalServer

__all__ = ["server"]  # the fixture, used below


def footer_keys(pilot: Pilot[Any]) -> set[str]:
    """The keys the footer shows (it reads the bindings from its own task)."""
    return {key.key for key in pilot.app.screen.query(FooterKey)}


async def test_after_n_opens_compose_its_keys_stay_enabled_in_a_field(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with deck(server, monkeypatch, Registry()).run_test(size=SIZE) as pilot:
        await wait_for_screen(pilot, "BatchesScreen")
        await pilot.press("n")
        await wait_for_screen(pilot, "ComposeScreen")
        screen = compose_screen(pilot)
        await until(
            pilot, lambda: screen.focused is not None and screen.focused.id == "body-endpoint"
        )
        # Focus on a select, from code running in the screen's own tasks.
        screen.query_one("#body-model").focus()
        await until(pilot, lambda: {"f5", "escape"} <= footer_keys(pilot))
