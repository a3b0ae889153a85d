"""ScreenPoller: one poll at a time, the next only after the last ended, paused while
the screen is covered (a modal or another screen), backing off on failures."""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.screen import ModalScreen, Screen

from tests.ui.conftest import until
from tui.core import errors
from tui.core.poll import Backoff
from tui.screens.poller import ScreenPoller


class Polled(Screen[None]):
    def __init__(self) -> None:
        super().__init__()
        self.polls = 0
        self.poller = ScreenPoller(self, self.poll, Backoff((3.0, 7.0)))

    def poll(self) -> None:
        self.polls += 1


class Host(App[None]):
    def on_mount(self) -> None:
        self.push_screen(Polled())


def polled(app: App[Any]) -> Polled:
    screen = app.screen
    assert isinstance(screen, Polled)
    return screen


async def test_the_next_poll_waits_for_the_last_and_backs_off() -> None:
    async with Host().run_test() as pilot:
        screen = polled(pilot.app)
        poller = screen.poller
        poller.now()
        assert screen.polls == 1 and not poller.scheduled  # nothing until it ends
        poller.succeeded(5.0)
        assert poller.scheduled
        assert poller.failed(errors.ServerError("boom")) == 3.0
        assert poller.failed(errors.RateLimitedError("slow", retry_after=30)) == 30.0
        poller.succeeded(None)  # final: no more polls
        assert not poller.scheduled and poller.backoff.failures == 0
        poller.due()  # a timer that fires on a visible screen polls
        assert screen.polls == 2


async def test_a_poll_due_under_a_modal_or_another_screen_waits() -> None:
    async with Host().run_test() as pilot:
        screen = polled(pilot.app)
        for cover in (ModalScreen[None](), Screen[None]()):
            await pilot.app.push_screen(cover)
            await until(pilot, lambda cover=cover: pilot.app.screen is cover)
            assert screen.poller.covered
            screen.poller.due()
            assert screen.polls == 0 and screen.poller.scheduled  # looks again later
            pilot.app.pop_screen()
            await until(pilot, lambda: pilot.app.screen is screen)
        assert not screen.poller.covered
        screen.poller.due()
        assert screen.polls == 1
