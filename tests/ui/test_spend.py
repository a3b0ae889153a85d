"""The Spend screen: opened with ``$`` from the batches screen (and the palette), the
seeded registry's spend per day and per model, "not priced yet" listed, a chart."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Sparkline, Static

from tests.api.test_cli_spend import seeded  # noqa: F401  (the fixture)
from tests.ui.conftest import until
from tests.ui.test_results import KEY_ENV, offline_app
from tui.app import BatchDeckApp, make_app
from tui.core.client import BatchClient
from tui.core.config import Config, Profile
from tui.localapi.clock import ManualClock
from tui.localapi.server import LocalServer
from tui.screens.spend import SpendScreen, bar


def text_of(screen: SpendScreen, selector: str) -> str:
    """The text of a Static ("" until the screen has composed it)."""
    found = screen.query(selector)
    return str(found.first(Static).render()) if found else ""


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


async def test_spend_screen_shows_the_costs_api_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openai

    from tests.api.conftest import API_KEY, FAST, chat_lines, submit
    from tui.core import timefmt
    from tui.core.models import Batch
    from tui.core.registry import Registry

    with LocalServer(
        tmp_path / "server", api_key=API_KEY, clock=ManualClock(), timing=FAST, durable=False
    ) as server:
        sdk = openai.OpenAI(base_url=server.base_url, api_key=API_KEY)
        batch = submit(sdk, chat_lines(3))
        server.advance(3600)
        done = sdk.batches.retrieve(batch.id)
        monkeypatch.setattr(timefmt, "now", server.clock)
        monkeypatch.setenv("OPENAI_ADMIN_KEY", API_KEY)
        monkeypatch.setenv(KEY_ENV, API_KEY)
        profile = Profile("test", base_url=server.base_url, api_key_env=KEY_ENV)
        config = Config(profiles={"test": profile}, default_profile="test")
        registry = Registry()
        registry.record_snapshot(Batch.from_dict(done.model_dump()), create=True)
        app = make_app(config, BatchClient(profile), registry, profile=profile)
        async with app.run_test(size=(120, 36)) as pilot:
            app.action_open_spend()
            await until(pilot, lambda: isinstance(app.screen, SpendScreen))
            screen = app.screen
            assert isinstance(screen, SpendScreen)
            await until(pilot, lambda: "difference" in text_of(screen, "#spend-billed"))
            line = text_of(screen, "#spend-billed")
            assert line.startswith("Billed (Costs API, batch line items): $0.0")
            assert line.endswith("difference: $0.00")
            assert API_KEY not in line


async def test_transfer_progress_shows_rate_and_time_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from textual.app import App, ComposeResult

    from tui.widgets.transfer import TransferProgress

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield TransferProgress(id="t")

    ticks = iter([0.0, 2.0])
    monkeypatch.setattr("tui.widgets.transfer.monotonic", lambda: next(ticks))
    app = Host()
    async with app.run_test(size=(100, 5)) as pilot:
        widget = app.query_one(TransferProgress)
        widget.begin("output.jsonl", 12_000_000)
        widget.report(0, 12_000_000)
        widget.report(2_000_000, 12_000_000)
        label = widget.query_one("#transfer-label", Static)
        await until(pilot, lambda: "left" in str(label.render()))
        assert str(label.render()) == "output.jsonl · 1.0 MB/s, 10s left"
