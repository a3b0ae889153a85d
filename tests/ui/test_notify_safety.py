"""Every notification is plain, escaped text, whoever calls notify and however."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from tests.ui.test_shell import make
from tui.core.registry import Registry


async def test_notifications_escape_controls_and_ignore_markup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = make("http://127.0.0.1:9/v1", monkeypatch, Registry())
    async with app.run_test(size=(80, 24)) as pilot:  # type: ignore[attr-defined]
        pilot.app.screen.query_one(Static).notify(
            "server said \x1b]2;PWNED\x07 [@click=app.quit]q[/]", title="\x1b[2J", markup=True
        )
        await pilot.pause()
        (note,) = [n for n in pilot.app._notifications if "server said" in n.message]
        assert note.message == "server said \\x1b]2;PWNED\\x07 [@click=app.quit]q[/]"
        assert note.title == "\\x1b[2J"
        assert note.markup is False
        await pilot.press("q")
