"""The first frame batchdeck sends to the terminal is the whole screen, the cached
table rows included, and the style sheets are parsed once on the way. (With the
batches screen as a Textual mode, its first render happened while Textual held
updates back and was dropped, the next update carried only the regions changed
since, so the table came a refresh later; and the mode made Textual parse every
style sheet again.)"""

from __future__ import annotations

from typing import Any

import pytest
from rich.text import Text
from textual._compositor import LayoutUpdate
from textual.css.stylesheet import Stylesheet

from tests.ui.batches_support import batches_screen, build_app
from tests.ui.conftest import until
from tests.ui.test_batches_cache import cached_registry
from tui.core.registry import Registry
from tui.localapi.server import LocalServer
from tui.widgets.batch_table import COLUMNS


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


async def test_the_style_sheets_are_parsed_once(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    reparsed: list[object] = []
    reparse = Stylesheet.reparse

    def counted(self: Stylesheet) -> None:
        reparsed.append(self)
        reparse(self)

    monkeypatch.setattr(Stylesheet, "reparse", counted)
    cached_registry(50)
    app = build_app(server, monkeypatch, Registry(durable=False))
    async with app.run_test(size=(120, 36)) as pilot:
        table = batches_screen(pilot).table
        await until(pilot, lambda: table.row_count > 0)
        assert reparsed == []
        assert str(table.styles.height) == "1fr"  # batches.tcss applies all the same
        await pilot.press("q")


async def test_the_column_titles_are_not_parsed_as_markup(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch table's titles are Text, so building the first frame parses no markup
    for them (markup loads rich's emoji table: ~3 ms before the first frame)."""
    parsed: list[str] = []
    from_markup = Text.from_markup

    def spy(cls: type[Text], text: str, *args: Any, **kwargs: Any) -> Text:
        parsed.append(text)
        return from_markup(text, *args, **kwargs)

    monkeypatch.setattr(Text, "from_markup", classmethod(spy))
    cached_registry(50)
    app = build_app(server, monkeypatch, Registry(durable=False))
    async with app.run_test(size=(120, 36)) as pilot:
        table = batches_screen(pilot).table
        await until(pilot, lambda: table.row_count > 0)
        titles = [title for _, title, _, _ in COLUMNS]
        assert [column.label.plain for column in table.columns.values()] == titles
        assert not set(titles) & set(parsed)
        await pilot.press("q")
