"""The batch inspector against the embedded server: fields, cost, errors beside their
input lines, live refresh, and every action (cancel, downloads, results, copy, edit)."""

from __future__ import annotations

import asyncio
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from textual.screen import Screen
from textual.widgets import Input

from tests.api.conftest import chat_lines
from tests.ui import test_batch_detail_support as support
from tests.ui.test_batch_detail_support import (
    HOSTILE,
    HOSTILE_SHOWN,
    build_app,
    completed_batch,
    create,
    failed_batch,
    invalid_lines,
    jsonl_file,
    settle,
    text_of,
    until,
)
from tui.core import paths, pricing
from tui.core.downloads import batch_file_path
from tui.core.models import Batch
from tui.core.pricing import Price, cost_of, format_usd, load_prices, price_for
from tui.core.registry import Job, Registry
from tui.dialogs.confirm import ConfirmDialog
from tui.dialogs.edit_job import EditJobDialog
from tui.dialogs.price import PriceDialog
from tui.localapi.server import LocalServer
from tui.screen_commands import binding_commands
from tui.screens import batch_detail
from tui.screens.batch_detail import BatchDetailScreen
from tui.widgets.transfer import TransferProgress

SIZE = (120, 36)
server = support.server  # the shared pinned-clock server fixture


async def open_detail(pilot: Any, batch_id: str, batch: Batch | None = None) -> BatchDetailScreen:
    screen = BatchDetailScreen(batch_id, batch=batch)
    await pilot.app.push_screen(screen)
    await until(pilot, lambda: screen.is_live)
    await settle(pilot)
    return screen


async def test_completed_batch_shows_every_field_and_its_cost(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = completed_batch(server, metadata={"job": "nightly", "owner": "ops"})
    raw = server.batch(batch_id)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, batch_id)
        head = text_of(screen, "#detail-head")
        assert batch_id in head and "completed" in head and "gpt-4o-mini" in head
        timeline = text_of(screen, "#detail-timeline")
        for label in ("created", "in progress", "finalizing", "completed"):
            assert label in timeline
        assert "2026-01-01 00:00:00 UTC" in timeline  # exact
        assert "1m ago" in timeline  # relative
        assert "expires" not in timeline and "in 23h 59m" not in timeline  # final: moot
        counts = text_of(screen, "#detail-counts")
        assert "5 total" in counts and "4 completed" in counts and "1 failed" in counts
        usage_text = text_of(screen, "#detail-usage")
        batch = Batch.from_dict(raw)
        assert batch.usage is not None
        assert f"{batch.usage.input_tokens:,}" in usage_text
        cost = cost_of(batch.usage, price_for("gpt-4o-mini", load_prices()))  # type: ignore[arg-type]
        assert format_usd(cost.standard) in usage_text
        assert format_usd(cost.batch) in usage_text
        assert "saving" in usage_text
        assert "job = nightly" in text_of(screen, "#detail-metadata")
        files = text_of(screen, "#detail-files")
        assert raw["output_file_id"] in files and raw["error_file_id"] in files
        assert text_of(screen, "#detail-notice") == (  # one request of five failed
            "Completed: 4 of 5 requests succeeded, 1 failed (their errors are in the error "
            "file). Press e to download the error file."
        )
        assert not screen.query_one("#detail-errors").display
        assert "final" in text_of(screen, "#detail-status")
        assert screen.check_action("cancel_batch", ()) is False  # final: no cancel
        await pilot.press("escape")
        assert not isinstance(pilot.app.screen, BatchDetailScreen)


async def test_unknown_model_offers_the_price_dialog_which_saves(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = chat_lines(2)
    for line in lines:
        line["body"]["model"] = "house-model-7b"
    batch_id = create(server, lines)
    server.advance(60)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, batch_id)
        assert "No price known for house-model-7b. Press $ to set it." in text_of(
            screen, "#detail-usage"
        )
        await pilot.press("$")  # not p: p is Profile everywhere
        await until(pilot, lambda: isinstance(pilot.app.screen, PriceDialog))
        await pilot.press("x", "enter")  # not a number: stays, says why
        assert isinstance(pilot.app.screen, PriceDialog)
        assert "not a number" in text_of(pilot.app.screen, "#price-error")
        await pilot.press("backspace", "2")
        pilot.app.screen.query_one("#price-output", Input).value = "4"
        await pilot.press("enter")
        await until(pilot, lambda: pilot.app.screen is screen)
        price = load_prices()["house-model-7b"]
        assert (price.input, price.output) == (2.0, 4.0)
        usage_text = text_of(screen, "#detail-usage")
        assert "No price known" not in usage_text and "Batch API cost" in usage_text


async def test_the_price_table_is_read_once_and_again_after_a_price_is_saved(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[int] = []

    def counting_load_prices() -> dict[str, Price]:
        reads.append(1)
        return load_prices()

    monkeypatch.setattr(pricing, "load_prices", counting_load_prices)
    batch_id = completed_batch(server)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, batch_id)
        for _ in range(3):  # what each poll does
            screen._paint()
        assert len(reads) == 1
        await pilot.press("$")
        await until(pilot, lambda: isinstance(pilot.app.screen, PriceDialog))
        pilot.app.screen.query_one("#price-input", Input).value = "7"
        pilot.app.screen.query_one("#price-output", Input).value = "9"
        await pilot.press("enter")
        await until(pilot, lambda: pilot.app.screen is screen)
        assert len(reads) == 2
        rates = text_of(screen, "#detail-usage")
        assert "input $7" in rates and "output $9 per 1M ($ to edit)" in rates


async def test_validation_errors_show_the_downloaded_input_lines_literally(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = failed_batch(server, hostile_id=HOSTILE)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, batch_id)
        await until(pilot, lambda: 3 in screen.input_lines and 4 in screen.input_lines)
        shown = text_of(screen, "#detail-errors")
        assert "line 3  invalid_json_line" in shown
        assert "3 │ {not json at all" in shown
        assert "line 4  duplicate_custom_id  param custom_id" in shown
        assert HOSTILE_SHOWN in shown  # the message and the input line quote it literally
        assert "\x1b" not in shown
        assert "Validation failed" in text_of(screen, "#detail-notice")
        assert batch_file_path(batch_id, "input").is_file()  # downloaded once, in its place
        await pilot.click("#detail-errors")  # clicking the hostile text does nothing
        await pilot.press("r")
        await settle(pilot)
        assert pilot.app.is_running and pilot.app.screen is screen


async def test_validation_errors_read_the_local_input_file_when_there_is_one(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    batch_id = failed_batch(server)
    local = jsonl_file(tmp_path / "mine.jsonl", invalid_lines())
    registry = Registry(durable=False)
    registry.add(Job(batch_id=batch_id, input_path=str(local), description="refunds"))
    app = build_app(server, monkeypatch, registry)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, batch_id)
        await until(pilot, lambda: 3 in screen.input_lines)
        assert "{not json at all" in screen.input_lines[3]
        assert not batch_file_path(batch_id, "input").exists()
        assert "refunds" in text_of(screen, "#detail-head")


async def test_hostile_metadata_is_shown_as_text_and_does_nothing(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = completed_batch(server, metadata={"note": HOSTILE, HOSTILE[:20]: "k"})
    registry = Registry(durable=False)
    registry.add(Job(batch_id=batch_id, description=HOSTILE, tags=("[b]t[/b]",)))
    app = build_app(server, monkeypatch, registry)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, batch_id)
        metadata = text_of(screen, "#detail-metadata")
        assert f"note = {HOSTILE_SHOWN}" in metadata
        assert "\x1b" not in metadata
        assert HOSTILE_SHOWN in text_of(screen, "#detail-head")
        assert "#[b]t[/b]" in text_of(screen, "#detail-head")
        await pilot.click("#detail-metadata", offset=(12, 1))
        await pilot.click("#detail-head", offset=(20, 1))
        await pilot.pause()
        assert pilot.app.is_running and pilot.app.screen is screen


async def test_all_lines_failed_says_so_and_offers_the_error_file(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = create(server, chat_lines(3, fail_every=1))
    server.advance(60)
    assert server.batch(batch_id)["output_file_id"] is None
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, batch_id)
        assert "Every request failed" in text_of(screen, "#detail-notice")
        assert screen.check_action("download", ("output",)) is False
        assert screen.check_action("download", ("error",)) is True
        await pilot.press("e")
        await until(pilot, lambda: not screen._transferring)
        await settle(pilot)
        job = app.registry.find_by_batch(batch_id)
        assert job is not None and "error" in job.downloads
        saved = Path(job.downloads["error"])
        assert saved == batch_file_path(batch_id, "error")  # the results store's copy
        assert saved.read_text().count("\n") == 3
        assert "saved:" in text_of(screen, "#detail-files")


async def test_cancelled_batch_offers_its_partial_results(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = create(server, chat_lines(20))
    server.advance(4)  # running: a few requests done
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, batch_id)
        assert screen.check_action("cancel_batch", ()) is True
        await pilot.press("c")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog))
        await pilot.press("n")  # declined: nothing happens
        await until(pilot, lambda: pilot.app.screen is screen)
        assert server.batch(batch_id)["status"] == "in_progress"
        await pilot.press("c")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: "cancelling" in text_of(screen, "#detail-head"))
        assert server.batch(batch_id)["status"] == "cancelling"
        assert screen.check_action("cancel_batch", ()) is False
        server.advance(60)
        await pilot.press("r")
        await until(pilot, lambda: "cancelled" in text_of(screen, "#detail-head"))
        notice = text_of(screen, "#detail-notice")
        assert notice.startswith("Cancelled after ") and "Partial results" in notice


async def test_live_refresh_follows_the_batch_pauses_under_a_modal_and_stops_when_final(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch_detail, "POLL_SECONDS", 0.05)
    batch_id = create(server, chat_lines(4))
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, batch_id)
        assert "validating" in text_of(screen, "#detail-head")
        server.advance(3)
        await until(pilot, lambda: "in_progress" in text_of(screen, "#detail-head"))
        await pilot.press("c")  # a modal is open: polling waits
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog))
        await settle(pilot)  # a retrieve begun before the dialog opened has ended
        before = screen.retrieves
        screen.poller.due()  # the timer fires under the dialog
        assert screen.poller.scheduled  # it looks again later instead
        await settle(pilot)
        assert screen.retrieves == before
        await pilot.press("escape")
        server.advance(60)
        await until(pilot, lambda: "completed" in text_of(screen, "#detail-head"))
        assert not screen.poller.scheduled  # final: no timer left, never polled again


async def test_download_input_with_a_hostile_name_stays_in_the_batch_folder(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = completed_batch(server, name="../../.bashrc")
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, batch_id)
        await pilot.press("i")
        await until(pilot, lambda: not screen._transferring)
        await settle(pilot)
        folder = batch_file_path(batch_id, "input").parent  # the server's name is not used
        assert sorted(p.name for p in folder.iterdir()) == ["input.jsonl"]
        assert (folder / "input.jsonl").read_text().count("\n") == 5
        assert not (paths.data_dir() / ".bashrc").exists()
        job = app.registry.find_by_batch(batch_id)
        assert job is not None and job.downloads == {"input": str(folder / "input.jsonl")}


async def test_open_results_pushes_the_results_browser_when_there_is_one(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []

    class FakeResults(Screen[None]):
        def __init__(self, batch_id: str) -> None:
            super().__init__()
            opened.append(batch_id)

    module = types.ModuleType("tui.screens.results")
    module.ResultsScreen = FakeResults  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tui.screens.results", module)
    batch_id = completed_batch(server)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, batch_id)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, FakeResults))
        assert opened == [batch_id]


async def test_copy_id_and_edit_description_and_tags(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = completed_batch(server)
    app = build_app(server, monkeypatch)
    copied: list[str] = []
    monkeypatch.setattr(app, "copy_to_clipboard", copied.append)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, batch_id)
        await pilot.press("y")
        assert copied == [batch_id]
        assert app.registry.find_by_batch(batch_id) is None
        await pilot.press("d")
        await until(pilot, lambda: isinstance(pilot.app.screen, EditJobDialog))
        dialog = pilot.app.screen
        dialog.query_one("#edit-description", Input).value = "Nightly run"
        dialog.query_one("#edit-tags", Input).value = "ops, nightly ops"
        await pilot.press("enter")
        await until(pilot, lambda: pilot.app.screen is screen)
        await until(pilot, lambda: "Nightly run" in text_of(screen, "#detail-head"))
        job = Registry(durable=False).find_by_batch(batch_id)
        assert job is not None
        assert (job.description, job.tags, job.profile) == (
            "Nightly run",
            ("ops", "nightly"),
            "test",
        )
        head = text_of(screen, "#detail-head")
        assert "Nightly run" in head and "#ops #nightly" in head


async def test_every_action_is_a_palette_command(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = create(server, chat_lines(3))
    server.advance(3)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, batch_id)
        titles = {title for title, _, _ in binding_commands(screen)}
        assert {
            "Batch: Back to the list",
            "Batch: Download the input file",
            "Batch: Cancel it",
            "Batch: Edit the local description and tags",
            "Batch: Copy the batch id",
            "Batch: Set the model's price",
            "Batch: Refresh now",
        } <= titles
        assert "Batch: Download the output file" not in titles  # no output yet
        for binding in BatchDetailScreen.BINDINGS:
            assert binding.id and binding.description  # type: ignore[union-attr]
        callbacks = {title: call for title, _, call in binding_commands(screen)}
        callbacks["Batch: Cancel it"]()
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog))
        await pilot.press("escape")


async def test_unreachable_server_keeps_the_cached_view_and_says_so(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = completed_batch(server)
    snapshot = server.batch(batch_id)
    registry = Registry(durable=False)
    registry.add(Job(batch_id=batch_id, description="cached", snapshot=snapshot))
    app = build_app(server, monkeypatch, registry)
    app.client._client = app.client._client.with_options(max_retries=0)  # type: ignore[attr-defined]
    server.faults.add("500", path="*/batches/*", times=None)
    async with app.run_test(size=SIZE) as pilot:
        screen = BatchDetailScreen(batch_id)
        await pilot.app.push_screen(screen)
        await until(pilot, lambda: "retrying" in text_of(screen, "#detail-status"))
        assert "completed" in text_of(screen, "#detail-head")
        assert "cached" in text_of(screen, "#detail-head")
        assert screen.query_one("#detail-status").has_class("-error")
        assert pilot.app.is_running


async def test_download_shows_a_progress_bar_while_it_runs(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = completed_batch(server)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, batch_id)
        progress = screen.query_one(TransferProgress)
        assert not progress.active and not progress.display
        go_on = asyncio.Event()  # the download waits for the test
        download = app.client.download_file

        async def held(*args: Any, **kw: Any) -> Any:
            await go_on.wait()
            return await download(*args, **kw)

        monkeypatch.setattr(app.client, "download_file", held)
        await pilot.press("o")
        await until(pilot, lambda: progress.active)
        assert progress.display
        await pilot.press("e")  # one transfer at a time: refused, not queued
        await until(pilot, lambda: any("already running" in n.message for n in app._notifications))
        go_on.set()
        await until(pilot, lambda: not screen._transferring)
        assert not progress.active
        job = app.registry.find_by_batch(batch_id)
        assert job is not None and set(job.downloads) == {"output"}


async def test_a_batch_handed_over_is_painted_before_the_server_answers(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = completed_batch(server)
    handed = Batch.from_dict(server.batch(batch_id))
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        answer = asyncio.Event()  # the server answers when the test says so
        retrieve = app.client.retrieve_batch

        async def held(batch_id: str) -> Batch:
            await answer.wait()
            return await retrieve(batch_id)

        monkeypatch.setattr(app.client, "retrieve_batch", held)
        screen = BatchDetailScreen(batch_id, batch=handed)
        await pilot.app.push_screen(screen)
        await until(pilot, lambda: screen.retrieves == 1)
        assert not screen.is_live
        assert "5 total" in text_of(screen, "#detail-counts")
        assert "Refreshing" in text_of(screen, "#detail-status")
        answer.set()
        await until(pilot, lambda: screen.is_live)


async def test_a_retrieve_that_ends_after_the_inspector_closed_paints_nothing(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = completed_batch(server)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        answer = asyncio.Event()
        answered: list[str] = []
        retrieve = app.client.retrieve_batch

        async def held(batch_id: str) -> Batch:
            await answer.wait()
            answered.append(batch_id)
            return await retrieve(batch_id)

        monkeypatch.setattr(app.client, "retrieve_batch", held)
        screen = BatchDetailScreen(batch_id)
        await pilot.app.push_screen(screen)
        await until(pilot, lambda: screen.retrieves == 1)
        await pilot.press("escape")
        await until(pilot, lambda: not screen.is_attached)  # gone, children and all
        answer.set()
        await settle(pilot)
        assert not screen.is_live  # its worker was cancelled, or its message dropped
        assert app.is_running and app.screen is not screen


@pytest.mark.parametrize("turns", [0, 1, 2, 4, 8])
async def test_quitting_while_the_inspector_is_being_built_is_quiet(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, turns: int
) -> None:
    batch_id = completed_batch(server)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.push_screen(BatchDetailScreen(batch_id))
        for _ in range(turns):  # the app quits at some point of the inspector's building
            await asyncio.sleep(0)
    assert app.return_code in (0, None)


async def test_a_download_whose_job_left_the_registry_says_so_and_the_app_goes_on(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is saved, but its job was removed meanwhile: one notification, no exit."""
    from tui.core import downloads

    monkeypatch.setattr(downloads, "job_for_batch", lambda *a, **kw: Job(job_id="job_gone"))
    batch_id = completed_batch(server)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, batch_id)
        await pilot.press("o")
        await until(pilot, lambda: not screen._transferring)
        await until(
            pilot,
            lambda: any(
                "Download failed: no job 'job_gone'" in n.message for n in app._notifications
            ),
        )
        assert app.is_running and app.screen is screen


async def test_the_registry_is_read_off_the_event_loop(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening the inspector reads the batch's job in a thread, and still shows it."""
    import threading

    batch_id = completed_batch(server)
    on_loop: list[bool] = []
    find = Registry.find_by_batch

    def watched(self: Registry, wanted: str) -> Job | None:
        if wanted == batch_id:
            on_loop.append(threading.current_thread() is threading.main_thread())
        return find(self, wanted)

    monkeypatch.setattr(Registry, "find_by_batch", watched)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, batch_id)
    assert on_loop and not any(on_loop)
