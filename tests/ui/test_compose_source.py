"""Compose records the rows file a batch came from, so the results export can put the
rows' columns beside the answers (``tui.core.results.sources``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Input

from tests.api.conftest import API_KEY, FAST
from tests.ui.conftest import until
from tests.ui.test_compose import ROWS, compose_screen, deck, fill_template, write_csv
from tui.core.registry import Registry
from tui.core.results import load_source, source_of
from tui.localapi.clock import ManualClock
from tui.localapi.server import LocalServer
from tui.screens.compose import ComposeScreen


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    with LocalServer(
        tmp_path / "server", api_key=API_KEY, clock=ManualClock(), timing=FAST, durable=False
    ) as running:
        yield running


async def test_a_batch_composed_from_a_csv_knows_its_rows(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    rows = write_csv(tmp_path / "reviews.csv", ROWS)
    registry = Registry()
    async with deck(server, monkeypatch, registry).run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.app.push_screen(ComposeScreen())
        await fill_template(pilot, "reviews.csv")
        screen = compose_screen(pilot)
        screen.query_one("#description", Input).value = "reviews run"
        await pilot.press("f9")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ConfirmDialog")
        await pilot.press("y")
        await until(pilot, lambda: bool(screen.submitted))
        (job,) = screen.submitted
    assert job.batch_id
    stored = registry.find_by_batch(job.batch_id)
    assert source_of(stored) == (rows.resolve(), "{id}")
    table = load_source(stored)
    assert table.rows["r2"] == {"id": "r2", "review": "Broke after a week"}
