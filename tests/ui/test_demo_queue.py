"""`batchdeck demo` shows a queued job: a file too big for the demo server's
gpt-4.1-nano limit waits in the queue and flows through it part by part, never
over the limit, while the Queue screen shows it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ui.conftest import until
from tui.commands.demo import DEMO_KEY_ENV, build_demo
from tui.core.queue_view import groups_of
from tui.localapi.demo import QUEUED_DESCRIPTION, QUEUED_MODEL
from tui.screens.queue import QueueScreen
from tui.widgets.queue_budget import BudgetBar


async def test_the_demo_queued_job_flows_through_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DEMO_KEY_ENV, raising=False)  # restored after the test
    app, server = build_demo(tmp_path, time_scale=20)
    limit = app.profile.token_limits[QUEUED_MODEL]
    assert server.token_limits == {QUEUED_MODEL: limit}
    (group,) = groups_of(app.registry.load().values()).values()
    assert group.description == QUEUED_DESCRIPTION and group.status == "waiting"
    assert group.parts >= 4 and sum(p.tokens for p in group.latest.values()) > limit
    app.queue_runner.interval = 0.05
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.press("u")
            await until(pilot, lambda: isinstance(pilot.app.screen, QueueScreen))
            screen = pilot.app.screen
            assert isinstance(screen, QueueScreen)
            await until(pilot, lambda: bool(screen.query(BudgetBar)))
            assert QUEUED_MODEL in str(screen.query_one(BudgetBar).render())

            def done() -> bool:
                groups = groups_of(app.registry.load().values())
                return all(g.status == "completed" for g in groups.values())

            await until(pilot, done, timeout=120)
            await until(pilot, lambda: "completed" in str(screen.groups_table.get_row_at(0)[1]))
    finally:
        server.stop()
    (group,) = groups_of(app.registry.load().values()).values()
    assert group.attempts == group.parts  # none failed over the limit, none sent twice
    assert all((p.in_flight_at_send or 0) <= limit for p in group.latest.values())
