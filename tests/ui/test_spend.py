"""The Spend screen: opened with ``$`` from the batches screen (and the palette), the
seeded registry's spend per day and per model, "not priced yet" listed, a chart."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Sparkline, Static

from tests.api.test_cli_spend import seeded  # noqa: F401  (the fixture)
from tests.ui.conftest import until
from tests.ui.test_results import offline_app
from tui.app import BatchDeckApp
from tui.screens.spend import SpendScreen, bar


def text_of(screen: SpendScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def rows(screen: SpendScreen) -> list[list[str]]:
    table = screen.query_one(DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


@pytest.mark.usefixtures("seeded")
async def test_spend_screen_shows_groups_chart_and_not_priced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = offline_app(monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("dollar_sign")
        await until(pilot, lambda: isinstance(app.screen, SpendScreen))
        screen = app.screen
        assert isinstance(screen, SpendScreen)
        await until(pilot, lambda: screen.spend is not None)
        assert text_of(screen, "#spend-title").startswith("Spend since 2026-04-28 (UTC), by day")
        days = rows(screen)
        assert [row[:2] for row in days] == [
            ["2026-05-25", "1"],
            ["2026-05-27", "3 (2 not priced)"],
        ]
        assert [row[5] for row in days] == ["$0.22", "$3.00"]
        assert days[1][7] == "█" * 20  # the largest day fills the bar
        summary = text_of(screen, "#spend-summary")
        assert summary.startswith("Total $3.22 at Batch prices for 4 batches")
        assert "saved $3.22" in summary
        unpriced = text_of(screen, "#spend-unpriced")
        assert (
            "Not priced yet: 2 batches" in unpriced and "b3 (validating): no usage yet" in unpriced
        )
        chart = screen.query_one(Sparkline).data
        assert chart is not None and len(chart) == 31 and max(chart) == 3.0

        await pilot.press("s")  # by model
        await until(pilot, lambda: screen.spend is not None and screen.spend.by == "model")
        assert [row[0] for row in rows(screen)] == ["gpt-4o", "gpt-4o-mini", "mystery-model"]
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, SpendScreen))


async def test_the_palette_opens_spend(monkeypatch: pytest.MonkeyPatch) -> None:
    app = offline_app(monkeypatch)
    async with app.run_test(size=(100, 30)) as pilot:
        assert isinstance(app, BatchDeckApp)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Spend" in titles
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "Spend")
        command.callback()
        await until(pilot, lambda: isinstance(app.screen, SpendScreen))


def test_bar_uses_eighths() -> None:
    assert str(bar(1.0, 1.0, width=4)) == "████"
    assert str(bar(0.5, 1.0, width=3)) == "█▌"
    assert str(bar(0.0, 0.0)) == ""
