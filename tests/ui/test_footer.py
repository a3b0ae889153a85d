"""DeckFooter: composed again only when the keys it shows change."""

from __future__ import annotations

import pytest
from textual.widgets._footer import FooterKey

from tests.ui.batches_support import batches_screen, build_app
from tests.ui.conftest import until
from tui.core.registry import Registry
from tui.localapi.server import LocalServer
from tui.widgets.footer import DeckFooter


def shown(footer: DeckFooter) -> list[tuple[str, bool]]:
    return [(key.description, key.disabled) for key in footer.query(FooterKey)]


async def test_the_footer_keeps_its_keys_until_they_change(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build_app(server, monkeypatch, Registry(durable=False))
    async with app.run_test(size=(120, 36)) as pilot:
        footer = batches_screen(pilot).query_one(DeckFooter)
        await until(pilot, lambda: ("Filter", False) in shown(footer))
        keys = list(footer.query(FooterKey))
        await footer.recompose()  # nothing changed: the same widgets stay
        assert list(footer.query(FooterKey)) == keys
        assert ("Quit", False) in shown(footer)

        await pilot.press("slash")  # the filter field takes the letters now
        await until(pilot, lambda: ("Quit", False) not in shown(footer))
        assert list(footer.query(FooterKey)) != keys
        await pilot.press("escape")
        await until(pilot, lambda: ("Quit", False) in shown(footer))
        await pilot.press("q")
