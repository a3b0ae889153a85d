"""An unexpected exception in a long-lived worker is logged and shown as one plain
line; the app keeps running."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ui import test_batch_detail_support as support
from tests.ui.conftest import until
from tests.ui.test_batch_detail_support import build_app, completed_batch, text_of
from tui.core.journal import Journal
from tui.core.registry import JobNotFoundError
from tui.localapi.server import LocalServer
from tui.screens import results as results_screen
from tui.screens.results import ResultsScreen

server = support.server  # the shared pinned-clock server fixture


async def test_reconcile_failing_with_an_os_error_is_a_warning(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: Journal) -> list[Any]:
        raise OSError("lock unavailable")

    monkeypatch.setattr(Journal, "reconcile", broken)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: any("lock unavailable" in n.message for n in app._notifications))
        assert app.is_running


async def test_results_load_whose_job_left_the_registry_is_a_status_line(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = completed_batch(server)

    async def broken(*args: object, **kw: object) -> Any:
        raise JobNotFoundError("job-1")

    monkeypatch.setattr(results_screen, "open_attempts", broken)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = ResultsScreen(batch_id)
        await pilot.app.push_screen(screen)
        await until(
            pilot,
            lambda: "Cannot open the results: no job 'job-1'" in text_of(screen, "#results-status"),
        )
        assert app.is_running and app.screen is screen


async def test_results_load_with_an_unreadable_registry_is_a_status_line(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files are local, then reading the retry links fails: the screen says so."""
    batch_id = completed_batch(server)

    def broken(*args: object) -> Any:
        raise OSError("registry unreadable")

    monkeypatch.setattr(results_screen, "_links_and_source", broken)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = ResultsScreen(batch_id)
        await pilot.app.push_screen(screen)
        await until(pilot, lambda: "registry unreadable" in text_of(screen, "#results-status"))
        assert app.is_running and app.screen is screen


async def test_results_load_failing_unexpectedly_is_a_status_line(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = completed_batch(server)

    async def broken(*args: object, **kw: object) -> Any:
        raise ZeroDivisionError("surprise")

    monkeypatch.setattr(results_screen, "open_attempts", broken)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = ResultsScreen(batch_id)
        await pilot.app.push_screen(screen)
        await until(pilot, lambda: "ZeroDivisionError" in text_of(screen, "#results-status"))
        assert app.is_running and app.screen is screen
