"""A 10 MB answer: the detail pane paints its start at once, the whole goes to the pager.

The results are a local copy (manifest + files in the data dir); the app points at a
closed port, so nothing but the files is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Markdown, Static

from tests.ui.conftest import until
from tests.ui.test_results import offline_app, write_local_results
from tests.unit.test_results import request
from tui.app import BatchDeckApp
from tui.screens.results import ResultsScreen
from tui.widgets import result_detail
from tui.widgets.result_detail import MARKDOWN_LINES, PANE_CHARS, ResultDetail

KEY_ENV = "BATCHDECK_TEST_KEY"
BATCH = "batch_large_answer"
PARAGRAPH = "Parcels **moved** through the depot, [one](http://x) by one.\n\n"
ANSWER = PARAGRAPH * (10_000_000 // len(PARAGRAPH))  # ~10 MB of Markdown


def big_copy() -> None:
    """A downloaded batch of two requests; the first answered with ~10 MB."""
    reqs = [request("big", "Write at length"), request("small", "Say hi")]
    outs = []
    for req, text in zip(reqs, (ANSWER, "hi"), strict=True):
        body = {
            "object": "chat.completion",
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
        }
        response = {"status_code": 200, "request_id": "r", "body": body}
        outs.append({"id": "x", "custom_id": req["custom_id"], "response": response})
    write_local_results(BATCH, input=reqs, output=outs)


async def open_detail(pilot: Pilot[Any]) -> ResultDetail:
    """Open the results and select the first row (the big one)."""
    app = pilot.app
    assert isinstance(app, BatchDeckApp)
    app.open_results(BATCH)

    def indexed() -> bool:
        screen = app.screen
        return isinstance(screen, ResultsScreen) and bool(screen.index and screen.index.done)

    await until(pilot, indexed)
    await pilot.press("home", "enter")
    detail = app.screen.query_one(ResultDetail)
    await until(pilot, lambda: detail.shown is not None)
    return detail


async def test_a_ten_megabyte_answer_paints_its_start(monkeypatch: pytest.MonkeyPatch) -> None:
    big_copy()
    escaped: list[int] = []  # what the pane made printable, i.e. what it renders

    def printable(text: str) -> str:
        escaped.append(len(text))
        return text

    monkeypatch.setattr(result_detail, "printable", printable)
    app = offline_app(monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        detail = await open_detail(pilot)
        assert detail.display and detail.shown is not None
        assert detail.shown.row.custom_id == "big"
        markdown = detail.query_one(Markdown)
        assert markdown.display
        assert markdown.source.count("\n") == MARKDOWN_LINES  # a few blocks, then text
        assert len(markdown.query("MarkdownBlock")) <= MARKDOWN_LINES
        rest = str(detail.query_one("#detail-response-text", Static).render())
        assert markdown.source + rest == ANSWER[:PANE_CHARS]
        note_widget = detail.query_one("#detail-response-note", Static)
        note = str(note_widget.render())
        assert note_widget.display
        assert f"Showing the first {PANE_CHARS:,} of {len(ANSWER):,} characters" in note
        assert "press v" in note
        assert escaped and max(escaped) <= PANE_CHARS

        await pilot.press("down")  # an ordinary answer: whole, as Markdown, no note
        await until(
            pilot, lambda: detail.shown is not None and detail.shown.row.custom_id == "small"
        )
        assert markdown.source == "hi" and not note_widget.display
        await pilot.press("up")

        await pilot.press("j")  # the JSON of the line is cut too
        whole = detail.query_one("#detail-response-text", Static).render()
        assert len(str(whole)) <= PANE_CHARS
        assert "Showing the first" in str(detail.query_one("#detail-response-note").render())
        assert max(escaped) <= PANE_CHARS


@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the pager's files go during the test."""
    import tempfile

    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


async def test_the_whole_answer_goes_to_the_pager(
    monkeypatch: pytest.MonkeyPatch, temp_dir: Path
) -> None:
    big_copy()
    paged: list[str] = []

    def pager(app: Any, path: Path) -> bool:
        paged.append(path.read_text(encoding="utf-8"))
        return True

    monkeypatch.setattr(result_detail, "open_in_pager", pager)
    app = offline_app(monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        detail = await open_detail(pilot)
        detail.query_one("#detail-response").focus()  # the key belongs to the pane
        await pilot.press("v")
        await until(pilot, lambda: bool(paged))
        assert ANSWER in paged[0]
        assert "Write at length" in paged[0]  # the request too
        assert list(temp_dir.iterdir()) == []  # removed once paged


async def test_without_a_pager_the_note_gives_the_file(
    monkeypatch: pytest.MonkeyPatch, temp_dir: Path
) -> None:
    big_copy()
    told: list[str] = []
    app = offline_app(monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:  # headless: cannot be suspended
        detail = await open_detail(pilot)
        monkeypatch.setattr(detail, "notify", lambda message, **kw: told.append(message))
        detail.query_one("#detail-response").focus()
        await pilot.press("v")
        await until(pilot, lambda: bool(told))
    assert told[0].startswith("No pager can run here")
    path = Path(told[0].rsplit(" is in ", 1)[1])
    assert path.parent == temp_dir
    assert ANSWER in path.read_text(encoding="utf-8")
    assert path.stat().st_mode & 0o077 == 0  # only its owner can read it


def in_a_worker() -> bool:
    from textual.worker import NoActiveWorker, get_current_worker

    try:
        get_current_worker()
    except NoActiveWorker:
        return False
    return True


async def test_the_pager_and_a_write_failure_are_handled_by_the_pane_not_its_worker(
    monkeypatch: pytest.MonkeyPatch, temp_dir: Path
) -> None:
    """After its await the worker only posts; the pane's handlers page or notify."""
    big_copy()
    paged: list[bool] = []
    told: list[tuple[str, bool]] = []

    def pager(app: Any, path: Path) -> bool:
        paged.append(in_a_worker())
        return True

    monkeypatch.setattr(result_detail, "open_in_pager", pager)
    app = offline_app(monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        detail = await open_detail(pilot)
        detail.query_one("#detail-response").focus()
        await pilot.press("v")
        await until(pilot, lambda: bool(paged))
        assert paged == [False]

        def broken(text: str) -> Path:
            raise OSError("disk full")

        monkeypatch.setattr(result_detail, "write_private_text", broken)
        monkeypatch.setattr(
            detail, "notify", lambda message, **kw: told.append((message, in_a_worker()))
        )
        await pilot.press("v")
        await until(pilot, lambda: bool(told))
        assert told == [("Cannot write the text: disk full", False)]
