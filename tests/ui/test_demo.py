"""`batchdeck demo`: the seeded server and the app on it show batches in every state."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from tests.ui.conftest import until
from tui.commands.demo import DEMO_KEY_ENV, build_demo
from tui.core.models import BATCH_STATUSES


async def test_demo_shows_every_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEMO_KEY_ENV, raising=False)  # restored after the test
    app, server = build_demo(tmp_path)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            status = pilot.app.screen.query_one("#status-line", Static)
            table = pilot.app.screen.query_one(DataTable)
            # 11 seeded batches, and the queued job's parts once the queue runner sent some
            listed = re.compile(r"(\d+) batches")
            await until(
                pilot,
                lambda: (
                    (found := listed.match(str(status.render()))) is not None
                    and int(found[1]) >= 11
                ),
            )
            states = {str(table.get_row_at(i)[2]) for i in range(table.row_count)}
            assert states == set(BATCH_STATUSES)
            descriptions = {str(table.get_row_at(i)[1]) for i in range(table.row_count)}
            assert "Nightly support-ticket summaries" in descriptions
            assert pilot.app.sub_title.startswith("demo · 127.0.0.1:")
            await pilot.press("q")
    finally:
        server.stop()
    key = os.environ[DEMO_KEY_ENV]
    assert all(key not in p.read_text(errors="ignore") for p in tmp_path.rglob("*") if p.is_file())
