"""Compose in everyday use: it opens with its first field focused, typed letters never
fire the app's keys, leaving with changes asks, drafts and templates come back, the
submit dialog's chosen-looking button is the one Enter presses, and Escape after a
submit goes back to the list."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Input, TextArea

from tests.ui.conftest import until
from tests.ui.test_compose import (
    ROWS,
    SIZE,
    ComposeOnly,
    compose_screen,
    deck,
    fill_template,
    text_of,
    write_csv,
)
from tui.core import drafts
from tui.core.registry import Registry
from tui.localapi.clock import ManualClock
from tui.localapi.server import LocalServer
from tui.screens.compose import ComposeScreen


def on_top(pilot: Pilot[Any]) -> str:
    return type(pilot.app.screen).__name__


def prompt_of(screen: ComposeScreen) -> str:
    return screen.query_one("#body-prompt", TextArea).text


async def wait_for_screen(pilot: Pilot[Any], name: str) -> None:
    await until(pilot, lambda: on_top(pilot) == name)
    await pilot.pause()


async def test_compose_opens_with_its_first_field_focused() -> None:
    async with ComposeOnly().run_test(size=SIZE) as pilot:
        screen = compose_screen(pilot)
        await until(pilot, lambda: screen.focused is not None)
        assert screen.focused is not None and screen.focused.id == "body-endpoint"


async def test_escape_with_changes_asks_and_the_kept_draft_reopens() -> None:
    async with ComposeOnly().run_test(size=SIZE) as pilot:
        screen = compose_screen(pilot)
        screen.query_one("#body-prompt", TextArea).text = "Product names: {name}"
        await pilot.press("escape")
        await wait_for_screen(pilot, "LeaveComposeDialog")
        assert pilot.app.focused is not None and pilot.app.focused.id == "leave-save"
        await pilot.press("escape")  # stay
        await wait_for_screen(pilot, "ComposeScreen")
        assert prompt_of(screen) == "Product names: {name}"
        assert drafts.load_last() is None

        await pilot.press("escape")
        await wait_for_screen(pilot, "LeaveComposeDialog")
        await pilot.press("enter")  # Keep draft
        await until(pilot, lambda: not screen.is_attached)
        kept = drafts.load_last()
        assert kept is not None and kept.fields["body-prompt"] == "Product names: {name}"

        again = ComposeScreen()
        await pilot.app.push_screen(again)
        await pilot.pause()
        assert prompt_of(again) == ""
        await pilot.press("f7")
        await wait_for_screen(pilot, "OpenDraftDialog")
        await pilot.press("enter")  # the first choice: the last draft
        await until(pilot, lambda: prompt_of(again) == "Product names: {name}")
        await pilot.press("escape")  # nothing changed since it was opened: no question
        await until(pilot, lambda: not again.is_attached)


async def test_discard_leaves_without_keeping_a_draft() -> None:
    async with ComposeOnly().run_test(size=SIZE) as pilot:
        screen = compose_screen(pilot)
        screen.query_one("#description", Input).value = "throw away"
        await pilot.press("escape")
        await wait_for_screen(pilot, "LeaveComposeDialog")
        await pilot.press("d")
        await until(pilot, lambda: not screen.is_attached)
        assert drafts.load_last() is None


async def test_a_named_template_is_saved_and_opened_over_changes() -> None:
    async with ComposeOnly().run_test(size=SIZE) as pilot:
        screen = compose_screen(pilot)
        screen.query_one("#body-prompt", TextArea).text = "Label: {review}"
        screen.query_one("#body-model", Input).value = "gpt-4.1-nano"
        await pilot.press("f6")
        await wait_for_screen(pilot, "TemplateNameDialog")
        await pilot.press(*"../x", "enter")  # refused: stays open and says why
        await pilot.pause()
        assert on_top(pilot) == "TemplateNameDialog"
        pilot.app.screen.query_one(Input).value = ""
        await pilot.press(*"labels", "enter")
        await wait_for_screen(pilot, "ComposeScreen")
        assert drafts.list_templates() == ["labels"]
        assert "Template labels saved" in text_of(screen, "#compose-status")

        screen.query_one("#body-prompt", TextArea).text = "something else"
        await pilot.press("f7")
        await wait_for_screen(pilot, "OpenDraftDialog")
        await pilot.press("enter")
        await wait_for_screen(pilot, "ConfirmDialog")  # changes not kept: asked first
        await pilot.press("y")
        await until(pilot, lambda: prompt_of(screen) == "Label: {review}")
        assert screen.query_one("#body-model", Input).value == "gpt-4.1-nano"


# --- in the app, against the embedded server ---------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    from tests.api.conftest import API_KEY, FAST

    with LocalServer(
        tmp_path / "server", api_key=API_KEY, clock=ManualClock(), timing=FAST, durable=False
    ) as running:
        yield running


async def test_letters_typed_in_a_select_fire_no_app_key(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with deck(server, monkeypatch, Registry()).run_test(size=SIZE) as pilot:
        await wait_for_screen(pilot, "BatchesScreen")
        await pilot.press("n")  # on the list, nothing typed into: the app's key works
        await wait_for_screen(pilot, "ComposeScreen")
        screen = compose_screen(pilot)
        await until(pilot, lambda: screen.focused is not None)
        for selector in ("#body-endpoint", "#source-kind"):
            screen.query_one(selector).focus()
            await pilot.press(*"Product", "q", "f", "T")
            await pilot.pause()
            assert pilot.app.is_running and on_top(pilot) == "ComposeScreen", selector
        theme = pilot.app.theme
        screen.query_one("#body-model", Input).focus()
        await pilot.press("T", "p")
        assert pilot.app.theme == theme and on_top(pilot) == "ComposeScreen"


async def test_the_submit_dialog_chosen_button_is_the_one_enter_presses(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "reviews.csv", ROWS)
    async with deck(server, monkeypatch, Registry()).run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.app.push_screen(ComposeScreen())
        await fill_template(pilot, "reviews.csv")
        screen = compose_screen(pilot)
        await pilot.press("f9")
        await wait_for_screen(pilot, "ConfirmDialog")
        dialog = pilot.app.screen
        no, yes = dialog.query_one("#confirm-no", Button), dialog.query_one("#confirm-yes", Button)
        assert dialog.focused is no
        looks = {"no": no.styles.background, "yes": yes.styles.background}
        await pilot.press("tab")
        await pilot.pause()
        assert dialog.focused is yes
        assert yes.styles.background == looks["no"]  # the chosen look follows the focus
        assert no.styles.background == looks["yes"]
        assert looks["no"] != looks["yes"]
        await pilot.press("shift+tab")
        await pilot.pause()
        assert dialog.focused is no and no.styles.background == looks["no"]
        await pilot.press("enter")  # the focused, chosen-looking "Not now"
        await until(pilot, lambda: "Not sent" in text_of(screen, "#compose-status"))
        assert not screen.submitted
        kept = drafts.load_last()  # a declined submit keeps the fields
        assert kept is not None and kept.fields["rows-path"] == "reviews.csv"


async def test_escape_after_a_submit_goes_back_to_the_list(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "reviews.csv", ROWS)
    async with deck(server, monkeypatch, Registry()).run_test(size=SIZE) as pilot:
        await wait_for_screen(pilot, "BatchesScreen")
        await pilot.app.push_screen(ComposeScreen())
        await fill_template(pilot, "reviews.csv")
        screen = compose_screen(pilot)
        await pilot.press("f9")
        await wait_for_screen(pilot, "ConfirmDialog")
        await pilot.press("y")
        await wait_for_screen(pilot, "BatchDetailScreen")
        assert not any(isinstance(s, ComposeScreen) for s in pilot.app.screen_stack)
        assert screen.submitted
        await pilot.press("escape")
        await wait_for_screen(pilot, "BatchesScreen")
        kept = drafts.load_last()
        assert kept is not None and kept.fields["rows-path"] == "reviews.csv"


async def test_a_screen_letter_key_waits_while_a_select_has_focus(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textual.app import ComposeResult
    from textual.binding import Binding
    from textual.widgets import Select

    from tui.screens.base import DeckScreen

    class Lettered(DeckScreen):
        BINDINGS = [Binding("x", "hit", "Hit", id="test.hit")]
        hits = 0

        def compose(self) -> ComposeResult:
            yield Select([("one", "1"), ("two", "2")], allow_blank=False)
            yield Button("a button")

        def action_hit(self) -> None:
            self.hits += 1

    async with deck(server, monkeypatch, Registry()).run_test(size=SIZE) as pilot:
        screen = Lettered()
        await pilot.app.push_screen(screen)
        screen.query_one(Select).focus()
        await pilot.press("x")
        await pilot.pause()
        assert screen.hits == 0
        screen.query_one(Button).focus()
        await pilot.press("x")
        await until(pilot, lambda: screen.hits == 1)


async def test_q_in_compose_with_changes_asks_before_quitting(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    first_focus: list[str] = []  # the tabs whose first field the screen focused
    focus_first = ComposeScreen._focus_first

    def recording(self: ComposeScreen, name: str) -> None:
        focus_first(self, name)
        first_focus.append(name)

    monkeypatch.setattr(ComposeScreen, "_focus_first", recording)
    async with deck(server, monkeypatch, Registry()).run_test(size=SIZE) as pilot:
        await wait_for_screen(pilot, "BatchesScreen")
        await pilot.app.push_screen(ComposeScreen())
        screen = compose_screen(pilot)
        # The screen's mount is done (it reads the last draft, what "changed" compares
        # with) and so is its first focus (after a refresh: it would take the focus back
        # from Save) once it has focused its first field.
        await until(pilot, lambda: first_focus == ["tab-request"])
        screen.query_one("#body-prompt", TextArea).text = "Product names: {name}"
        save = screen.query_one("#save", Button)
        save.focus()  # not a field: q is the quit key here
        await until(pilot, lambda: screen.focused is save)
        await pilot.press("q")
        await wait_for_screen(pilot, "LeaveComposeDialog")
        await pilot.press("escape")  # stay
        await wait_for_screen(pilot, "ComposeScreen")
        assert pilot.app.is_running
        await pilot.press("q")
        await wait_for_screen(pilot, "LeaveComposeDialog")
        await pilot.press("s")  # keep the draft, then quit
        await until(pilot, lambda: not pilot.app.is_running)
        kept = drafts.load_last()
        assert kept is not None and kept.fields["body-prompt"] == "Product names: {name}"
