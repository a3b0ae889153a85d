"""The batches poller outlives an unexpected error: logged, said, polled again."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ui.batches_support import (
    batches_screen,
    build_app,
    loaded,
    seed,
    status_text,
    wait_for,
)
from tui.core import poll
from tui.localapi.server import LocalServer


async def test_the_poller_survives_an_unexpected_error_and_polls_again(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(server, final=1, active=1)
    real = poll.refresh_active
    calls: list[int] = []

    async def flaky(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise ZeroDivisionError("surprise")
        return await real(*args, **kw)

    monkeypatch.setattr(poll, "refresh_active", flaky)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        screen = batches_screen(pilot)
        screen.action_refresh()
        await wait_for(pilot, lambda: "ZeroDivisionError" in status_text(pilot))
        assert app.is_running and screen.poller.backoff.failures == 1
        assert screen.poller.scheduled  # the next cycle is scheduled
        screen.action_refresh()
        await loaded(pilot, cycles=2)
        assert screen.poller.backoff.failures == 0 and len(calls) == 2
