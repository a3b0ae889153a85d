"""At 80x24 the request form scrolls: a field below the fold comes into view when it
gets focus, instead of being typed into unseen (found in tmux)."""

from __future__ import annotations

from tests.ui.conftest import until
from tests.ui.test_compose import ComposeOnly, compose_screen


async def test_every_request_field_can_be_reached_at_80x24() -> None:
    async with ComposeOnly().run_test(size=(80, 24)) as pilot:
        screen = compose_screen(pilot)
        await until(pilot, lambda: screen.focused is not None)
        visible = screen.query_one("#compose-body").parent
        assert visible is not None
        for field in ("#body-temperature", "#body-max-tokens", "#body-extra"):
            widget = screen.query_one(field)
            widget.focus()
            await until(
                pilot,
                lambda widget=widget: visible.region.contains_region(widget.region),  # type: ignore[misc]
            )
