"""The first frame batchdeck sends to the terminal is the whole screen, the cached
table rows included: Textual's own first render happens while it holds updates back
(dropped), and the next update would otherwise carry only the regions changed
since (header, footer), leaving the table for a later refresh."""

from __future__ import annotations

from typing import Any

import pytest
from textual._compositor import LayoutUpdate

from tests.ui.batches_support import batches_screen, build_app
from tests.ui.conftest import until
from tests.ui.test_batches_cache import cached_registry
from tui.core.registry import Registry
from tui.localapi.server import LocalServer


async def test_the_first_frame_shown_is_the_whole_screen(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached_registry(50)
    app = build_app(server, monkeypatch, Registry(durable=False))
    shown: list[object] = []
    display = app._display

    def spy(screen: Any, renderable: Any) -> None:
        if renderable is not None and not app._batch_count:  # what reaches the terminal
            shown.append(renderable)
        display(screen, renderable)

    monkeypatch.setattr(app, "_display", spy)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: bool(shown))
        assert isinstance(shown[0], LayoutUpdate)  # every line, not the changed regions
        assert batches_screen(pilot).table.row_count > 0  # and the table had its rows
        await pilot.press("q")
