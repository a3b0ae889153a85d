"""The results screen: rows while indexing, filters, detail, JSON, literal text, offline.

Most tests open a local copy (manifest + files in the data dir, as a download leaves
them) with the app pointed at a closed port: the screen must not need the server.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Markdown, Select, Static

from tests.api.conftest import API_KEY, FAST, chat_lines, jsonl
from tests.ui.conftest import WAIT_SECONDS, click_shown, until
from tests.unit.test_results import answered, expired, request
from tui.app import BatchDeckApp, make_app
from tui.core.client import BatchClient
from tui.core.config import Config, Profile
from tui.core.models import Batch
from tui.core.registry import Job, Registry
from tui.core.results import MANIFEST, Outcome, ResultIndex, results_dir
from tui.dialogs.retry_choice import RetryDialog
from tui.localapi.clock import ManualClock
from tui.localapi.server import LocalServer
from tui.screens.results import ResultsScreen
from tui.widgets.result_detail import ResultDetail
from tui.widgets.results_list import ResultsList

KEY_ENV = "BATCHDECK_TEST_KEY"
BATCH = "batch_results_ui"
HOSTILE = "[bold red]x[/] [@click=app.quit]q[/] \x1b[2J"


def local_copy(batch_id: str = BATCH, count: int = 12) -> None:
    """A downloaded batch: answers, a 500, an expiry, a missing line, a bad line."""
    reqs = [request(f"req-{i:02d}", f"Question {i} about parcels") for i in range(count)]
    reqs[1] = request("req-01", f"Summarise {HOSTILE} **now**")
    reqs[2] = request("req-02", "Broken [fail:500]")
    outs: list[Any] = [answered(r) for i, r in enumerate(reqs) if i not in (2, 3, 4)]
    outs.insert(2, '{"custom_id": "req-04", "respo')
    errs = [answered(reqs[2]), expired("req-03")]
    write_local_results(batch_id, input=reqs, output=outs, error=errs)


def write_local_results(batch_id: str, **kinds: list[Any]) -> None:
    """A complete local copy of a finished batch: each ``kind`` file (``input``,
    ``output``, ``error``) holding those lines, and the manifest that makes it one."""
    folder = results_dir(batch_id)
    folder.mkdir(parents=True)
    files = {}
    for kind, lines in kinds.items():
        path = folder / f"{kind}.jsonl"
        path.write_bytes(jsonl(lines))
        files[kind] = {"id": f"file-{kind}", "path": str(path), "bytes": path.stat().st_size}
    batch = Batch(
        id=batch_id,
        status="completed",
        endpoint="/v1/chat/completions",
        input_file_id="file-input",
        created_at=1_700_000_000,
        output_file_id="file-output" if "output" in kinds else None,
        error_file_id="file-error" if "error" in kinds else None,
    )
    (folder / MANIFEST).write_text(json.dumps({"batch": batch.to_dict(), "files": files}))


def offline_app(monkeypatch: pytest.MonkeyPatch) -> BatchDeckApp:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    profile = Profile("test", base_url="http://127.0.0.1:9/v1", api_key_env=KEY_ENV)
    config = Config(profiles={"test": profile}, default_profile="test")
    return make_app(config, BatchClient(profile), Registry(), profile=profile)


def indexed(app: Any) -> bool:
    """The results screen is on top and lists every row."""
    return isinstance(app.screen, ResultsScreen) and app.screen.ready


async def open_results(pilot: Pilot[Any], batch_id: str = BATCH) -> ResultsScreen:
    app = pilot.app
    assert isinstance(app, BatchDeckApp)
    app.open_results(batch_id)
    await until(pilot, lambda: indexed(app))
    screen = app.screen
    assert isinstance(screen, ResultsScreen)
    return screen


def status_of(screen: Any) -> str:
    """The status line ("" while the screen is still being composed)."""
    lines = screen.query("#results-status")
    return str(lines.first(Static).render()) if lines else ""


def footer_overlaps(app: Any) -> list[str]:
    """The footer keys cut off: past the command palette's key, at the right edge."""
    from textual.widgets import Footer
    from textual.widgets._footer import FooterKey

    keys = list(app.screen.query_one(Footer).query(FooterKey))
    palette = next((key for key in keys if "palette" in key.action), None)
    if palette is None:
        return ["(the footer is not drawn yet)"]
    edge = palette.region.x
    return [key.description for key in keys if key is not palette and key.region.right > edge]


def shown_ids(screen: ResultsScreen) -> list[str]:
    return [row.custom_id for row in screen.query_one(ResultsList).rows]


async def test_rows_filters_and_detail(monkeypatch: pytest.MonkeyPatch) -> None:
    local_copy()
    app = offline_app(monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_results(pilot)
        listing = screen.query_one(ResultsList)
        assert shown_ids(screen)[:5] == ["req-00", "req-01", "req-02", "req-03", "req-04"]
        assert [row.label for row in listing.rows[:5]] == [
            "ok",
            "ok",
            "HTTP 500",
            "not run (expired)",
            "missing",
        ]
        assert listing.rows[-1].outcome is Outcome.INVALID  # the broken line, at the end
        assert "13 rows" in status_of(screen) and "1 invalid line" in status_of(screen)

        await pilot.press("o")  # failed (any)
        assert shown_ids(screen) == ["req-02", "req-03"]
        await pilot.press("o", "o")  # only ok, then (no row is cut off) only HTTP error
        assert shown_ids(screen) == ["req-02"]
        await pilot.press("o")  # no request error, none cancelled: only expired
        assert shown_ids(screen) == ["req-03"]
        await pilot.press("o")
        assert shown_ids(screen) == ["req-04"]  # missing
        await pilot.press("o", "o")  # invalid line, and round to all
        assert len(shown_ids(screen)) == 13
        screen.query_one("#results-outcome", Select).value = Outcome.CUT_OFF.value
        await until(pilot, lambda: not shown_ids(screen))  # from the palette: says so
        assert listing.render_line(0).text.strip() == "No rows match the filters."
        screen.query_one("#results-outcome", Select).value = "all"
        await until(pilot, lambda: len(shown_ids(screen)) == 13)

        await pilot.press("i")
        await pilot.press(*"req-1")
        assert shown_ids(screen) == ["req-10", "req-11"]
        screen.query_one("#results-id", Input).value = ""
        await pilot.press("escape")  # back to the list
        assert screen.focused is listing

        await pilot.press("home", "down", "enter")
        detail = screen.query_one(ResultDetail)
        assert detail.display
        request_text = str(detail.query_one("#detail-request-text", Static).render())
        assert "Summarise [bold red]x[/] [@click=app.quit]q[/] \\x1b[2J **now**" in request_text
        markdown = detail.query_one(Markdown)
        assert markdown.display and "[bold red]x[/]" in markdown.source
        assert "\x1b" not in markdown.source

        await pilot.press("down")  # the detail follows the cursor: the 500
        title = str(detail.query_one("#detail-response-title", Static).render())
        assert title.startswith("HTTP 500") and "error file line 1" in title
        await pilot.press("j")
        whole = str(detail.query_one("#detail-response-text", Static).render())
        assert '"status_code": 500' in whole
        await pilot.press("j", "down", "down")  # missing: says so
        title = str(detail.query_one("#detail-response-title", Static).render())
        assert "no result line" in title
        await pilot.press("escape")
        assert not detail.display
        await pilot.press("escape")
        assert not isinstance(app.screen, ResultsScreen)
        assert app.is_running


async def test_leaving_while_indexing_stops_the_indexer_and_paints_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    local_copy()
    real_build = ResultIndex.build
    gate, closed = threading.Event(), threading.Event()
    after_gate: list[Any] = []

    def held_build(self: ResultIndex, *, rows_per_step: int = 2000) -> Iterator[Any]:
        steps = real_build(self, rows_per_step=1)  # a step a line: many steps
        try:
            yield next(steps)
            gate.wait(WAIT_SECONDS)
            for step in steps:
                after_gate.append(step)
                yield step
        finally:
            closed.set()

    monkeypatch.setattr(ResultIndex, "build", held_build)
    app = offline_app(monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        app.open_results(BATCH)
        await until(pilot, lambda: isinstance(app.screen, ResultsScreen) and app.screen._all != [])
        screen = app.screen
        assert isinstance(screen, ResultsScreen)
        listing = screen.query_one(ResultsList)
        painted = list(listing.rows)
        await pilot.press("escape")
        await until(pilot, lambda: not screen.is_running)  # the screen is gone
        gate.set()
        await until(pilot, closed.is_set)  # the indexer stopped...
        assert len(after_gate) <= 1  # ... at its next step, not at the end of the files
        assert listing.rows == painted and not screen.ready  # and nothing was painted
        assert app.is_running


async def test_palette_opens_the_results_of_a_typed_batch_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    local_copy()
    app = offline_app(monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        command = next(
            c for c in app.get_system_commands(app.screen) if c.title == "Open results of batch…"
        )
        command.callback()
        await until(pilot, lambda: type(app.screen).__name__ == "BatchIdPrompt")
        await pilot.press(*BATCH, "enter")
        await until(pilot, lambda: indexed(app))
        assert isinstance(app.screen, ResultsScreen) and app.screen.batch_id == BATCH
        assert len(shown_ids(app.screen)) == 13


async def test_text_search_and_export(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    local_copy()
    app = offline_app(monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_results(pilot)
        await pilot.press("slash")
        await pilot.press(*"question 7", "enter")
        await until(pilot, lambda: shown_ids(screen) == ["req-07"])
        screen.query_one("#results-search", Input).value = ""
        await until(pilot, lambda: len(shown_ids(screen)) == 13)

        titles = [command.title for command in app.get_system_commands(screen)]
        assert "Results: export" in titles and "Results: only missing" in titles
        only_missing = next(
            c for c in app.get_system_commands(screen) if c.title == "Results: only missing"
        )
        only_missing.callback()
        await until(pilot, lambda: shown_ids(screen) == ["req-04"])
        screen.query_one("#results-outcome", Select).value = "all"
        await until(pilot, lambda: len(shown_ids(screen)) == 13)

        await pilot.press("x")
        dialog = app.screen
        target = tmp_path / "out.jsonl"
        dialog.query_one("#export-path", Input).value = str(target)
        await click_shown(pilot, "#export-ok")
        await until(pilot, lambda: any("Exported 13 rows" in n.message for n in app._notifications))
        lines = [json.loads(x) for x in target.read_text().splitlines()]
        assert len(lines) == 13 and lines[0]["request.body.model"] == "gpt-4o-mini"


async def test_export_says_all_rows_and_offers_only_the_shown_ones(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    local_copy()
    app = offline_app(monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_results(pilot)
        await pilot.press("slash", *"question 7", "enter")
        await until(pilot, lambda: shown_ids(screen) == ["req-07"])
        await pilot.press("x")
        await until(pilot, lambda: bool(app.screen.query("#export-only-shown")))
        dialog = app.screen
        assert str(dialog.query_one("#export-rows", Static).render()) == "All 13 rows"
        only = dialog.query_one("#export-only-shown", Checkbox)
        assert only.value and "Only the 1 shown row" in str(only.label)
        target = tmp_path / "shown.jsonl"
        dialog.query_one("#export-path", Input).value = str(target)
        await click_shown(pilot, "#export-ok")
        notes = app._notifications
        await until(pilot, lambda: any(n.message.startswith("Exported") for n in notes))
        assert any(f"Exported 1 row to {target}" == n.message for n in notes)
        assert [json.loads(x)["custom_id"] for x in target.read_text().splitlines()] == ["req-07"]


@pytest.mark.parametrize("width", [80, 120])
async def test_the_footer_fits(monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    local_copy()
    app = offline_app(monkeypatch)
    async with app.run_test(size=(width, 36)) as pilot:
        screen = await open_results(pilot)
        await until(pilot, lambda: not footer_overlaps(app))
        await pilot.press("enter", "tab")  # the detail open and focused: still fits
        await until(pilot, lambda: screen.query_one(ResultDetail).display)
        await pilot.pause()
        assert footer_overlaps(app) == []


async def test_not_ready_batch_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with LocalServer(
        tmp_path / "server", api_key=API_KEY, clock=ManualClock(), timing=FAST, durable=False
    ) as server:
        import openai

        sdk = openai.OpenAI(base_url=server.base_url, api_key=API_KEY)
        file_id = sdk.files.create(file=("in.jsonl", jsonl(chat_lines(2))), purpose="batch").id
        batch = sdk.batches.create(
            input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        monkeypatch.setenv(KEY_ENV, API_KEY)
        profile = Profile("test", base_url=server.base_url, api_key_env=KEY_ENV)
        config = Config(profiles={"test": profile}, default_profile="test")
        app = make_app(config, BatchClient(profile), Registry(), profile=profile)
        async with app.run_test(size=(120, 36)) as pilot:
            app.open_results(batch.id)
            await until(pilot, lambda: "not ready yet" in status_of(app.screen))
            assert "is validating: its results are not ready yet" in status_of(app.screen)
            assert app.is_running
            for told, key in enumerate(("x", "R"), start=1):  # export, retry: they say why

                def said(told: int = told) -> bool:
                    return sum("not ready yet" in n.message for n in app._notifications) == told

                await pilot.press(key)
                await until(pilot, said)
            assert not any("indexed" in n.message for n in app._notifications)


async def test_retry_submits_the_failed_requests_linked_to_the_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = ManualClock()
    with LocalServer(
        tmp_path / "server", api_key=API_KEY, clock=clock, timing=FAST, durable=False
    ) as server:
        import openai

        sdk = openai.OpenAI(base_url=server.base_url, api_key=API_KEY)
        lines = chat_lines(6, fail_every=3)
        file_id = sdk.files.create(file=("in.jsonl", jsonl(lines)), purpose="batch").id
        batch = sdk.batches.create(
            input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        server.advance(60)
        assert sdk.batches.retrieve(batch.id).status == "completed"
        monkeypatch.setenv(KEY_ENV, API_KEY)
        profile = Profile("test", base_url=server.base_url, api_key_env=KEY_ENV)
        config = Config(profiles={"test": profile}, default_profile="test")
        registry = Registry()
        app = make_app(config, BatchClient(profile), registry, profile=profile)
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await open_results(pilot, batch.id)
            assert [row.label for row in screen.query_one(ResultsList).rows].count("HTTP 500") == 2
            await pilot.press("R")
            await until(pilot, lambda: isinstance(app.screen, RetryDialog))
            await click_shown(pilot, "#retry-yes")

            def sent_retry() -> Job | None:
                retries = [j for j in registry.load().values() if j.retry_of == batch.id]
                return retries[0] if retries and retries[0].batch_id else None

            await until(pilot, lambda: sent_retry() is not None)
            job = sent_retry()
            assert job is not None and job.batch_id
            sent = Path(job.input_path or "").read_text().splitlines()
            assert [json.loads(x)["custom_id"] for x in sent] == ["req-2", "req-5"]
            retry = sdk.batches.retrieve(job.batch_id)
            assert retry.metadata is not None and retry.metadata["retry_of"] == batch.id


def snapshot_run(size: tuple[int, int]) -> Any:
    async def run_before(pilot: Pilot[Any]) -> None:
        screen = await open_results(pilot)
        await pilot.press("down", "enter")
        markdown = screen.query_one("#detail-markdown", Markdown)
        await until(pilot, lambda: markdown.source != "" and bool(markdown.children))

    return run_before


@pytest.mark.parametrize("size", [(120, 36), (80, 24)])
def test_snapshot(
    size: tuple[int, int], snap_compare: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_copy()
    app = offline_app(monkeypatch)
    assert snap_compare(app, terminal_size=size, run_before=snapshot_run(size))


async def test_opening_the_detail_keeps_the_chosen_row_in_sight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    local_copy()
    app = offline_app(monkeypatch)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot)
        listing = screen.query_one(ResultsList)
        listing.focus()
        await pilot.press("end", "enter")
        detail = screen.query_one(ResultDetail)

        def in_sight() -> bool:
            top = int(listing.scroll_offset.y)
            height = listing.scrollable_content_region.height
            shrunk = height < len(listing.rows)  # the pane really took room from the list
            return detail.display and shrunk and top <= listing.cursor < top + height

        await until(pilot, in_sight)


async def test_a_failed_export_is_one_error_notification(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A bad suffix reads as it is; an unexpected error is named; the app goes on."""
    from tui.screens import results as results_screen

    local_copy()
    app = offline_app(monkeypatch)

    def errors() -> list[str]:
        return [n.message for n in app._notifications if n.severity == "error"]

    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_results(pilot)
        screen.run_export(tmp_path / "out.txt", ())
        await until(pilot, lambda: len(errors()) == 1)
        assert errors()[0].startswith("Export failed: ") and "ValueError" not in errors()[0]

        def broken(*args: object, **kw: object) -> int:
            raise ZeroDivisionError("surprise")

        monkeypatch.setattr(results_screen, "export", broken)
        screen.run_export(tmp_path / "out.csv", ())
        await until(pilot, lambda: len(errors()) == 2)
        assert errors()[1] == "Export failed: ZeroDivisionError: surprise"
        assert app.is_running and app.screen is screen


async def test_the_header_survives_the_screen_going_away_while_it_mounts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Textual's Header raises NoMatches then; batchdeck's DeckHeader does not."""
    from textual.widgets import Header

    from tui.widgets.header import DeckHeader

    local_copy()
    app = offline_app(monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_results(pilot)
        assert type(screen.query_one(Header)) is DeckHeader
