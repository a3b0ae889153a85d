"""The results screen: v pages the row, cut-off answers flagged, the retry dialog's
choice and the links both ways, the source columns in the export."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Checkbox, Input, Select, Static

from tests.api.conftest import API_KEY, FAST, jsonl
from tests.ui.conftest import click_shown, until
from tests.ui.test_results import (
    BATCH,
    KEY_ENV,
    local_copy,
    offline_app,
    open_results,
    shown_ids,
    status_of,
)
from tests.unit.test_results import request
from tui.app import make_app
from tui.core.client import BatchClient
from tui.core.config import Config, Profile
from tui.core.registry import Job, Registry
from tui.core.results import Outcome, record_source
from tui.dialogs.results_export import ExportDialog
from tui.dialogs.retry_choice import RetryDialog
from tui.localapi.clock import ManualClock
from tui.localapi.server import LocalServer
from tui.screens.results import ResultsScreen
from tui.widgets import result_detail
from tui.widgets.results_list import ResultsList


async def test_v_in_the_list_pages_the_shown_row(monkeypatch: pytest.MonkeyPatch) -> None:
    local_copy()
    paged: list[str] = []

    def pager(app: Any, path: Path) -> bool:
        paged.append(path.read_text(encoding="utf-8"))
        return True

    monkeypatch.setattr(result_detail, "open_in_pager", pager)
    app = offline_app(monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_results(pilot)
        await pilot.press("home", "enter")
        assert screen.focused is screen.query_one(ResultsList)
        await pilot.press("v")
        await until(pilot, lambda: bool(paged))
        assert "Question 0 about parcels" in paged[0]


def links_of(screen: Any) -> str:
    """The retry links line ("" while hidden or still being composed)."""
    lines = screen.query("#results-links")
    line = lines.first(Static) if lines else None
    return str(line.render()) if line is not None and line.display else ""


def answered_copy(batch_id: str) -> None:
    """A local copy where one answer stopped at the token limit (echo's max_tokens)."""
    from tests.ui.test_results import write_local_results
    from tests.unit.test_results import answered

    text = "please write a rather long answer about many things at once"
    reqs = [request("whole", text), request("cut", text, max_tokens=2)]
    write_local_results(batch_id, input=reqs, output=[answered(r) for r in reqs])


async def test_cut_off_answers_are_flagged_and_filterable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answered_copy("batch_cut")
    app = offline_app(monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_results(pilot, "batch_cut")
        rows = screen.query_one(ResultsList).rows
        assert [row.label for row in rows] == ["ok", "ok · cut off"]
        assert "1 ok · cut off" in status_of(screen)
        screen.query_one("#results-outcome", Select).value = Outcome.CUT_OFF.value
        await until(pilot, lambda: shown_ids(screen) == ["cut"])


async def test_retry_dialog_sends_the_chosen_groups_and_links_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with LocalServer(
        tmp_path / "server", api_key=API_KEY, clock=ManualClock(), timing=FAST, durable=False
    ) as server:
        import openai

        sdk = openai.OpenAI(base_url=server.base_url, api_key=API_KEY)
        markers = ["", "[fail:429]", "[fail:500]", "[fail:400]", "[fail:400]"]
        lines = [request(f"req-{i}", f"Ticket {i} {m}") for i, m in enumerate(markers)]
        file_id = sdk.files.create(file=("in.jsonl", jsonl(lines)), purpose="batch").id
        batch = sdk.batches.create(
            input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        server.advance(60)
        monkeypatch.setenv(KEY_ENV, API_KEY)
        profile = Profile("test", base_url=server.base_url, api_key_env=KEY_ENV)
        config = Config(profiles={"test": profile}, default_profile="test")
        registry = Registry()
        registry.add(Job(batch_id=batch.id))
        app = make_app(config, BatchClient(profile), registry, profile=profile)
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await open_results(pilot, batch.id)
            assert not screen.query_one("#results-links").display  # no links yet
            await pilot.press("P")  # not a retry: says so, stays
            assert app.screen is screen
            await pilot.press("R")
            await until(pilot, lambda: isinstance(app.screen, RetryDialog))
            dialog = app.screen
            boxes = {box.id: box.value for box in dialog.query(Checkbox)}
            assert boxes == {"retry-429": True, "retry-5xx": True, "retry-4xx": False}
            assert "2 requests to send" in str(dialog.query_one("#retry-total").render())
            dialog.query_one("#retry-429", Checkbox).value = False
            await until(
                pilot, lambda: "1 request to send" in str(dialog.query_one("#retry-total").render())
            )
            await click_shown(pilot, "#retry-yes")

            def sent_retry() -> Job | None:
                retries = [j for j in registry.load().values() if j.retry_of == batch.id]
                return retries[0] if retries and retries[0].batch_id else None

            await until(pilot, lambda: sent_retry() is not None)
            job = sent_retry()
            assert job is not None and job.batch_id
            sent = Path(job.input_path or "").read_text().splitlines()
            assert [json.loads(x)["custom_id"] for x in sent] == ["req-2"]
            await until(pilot, lambda: f"retried by {job.batch_id}" in links_of(screen))

            server.advance(60)
            app.open_results(job.batch_id)
            await until(
                pilot,
                lambda: (
                    isinstance(app.screen, ResultsScreen)
                    and app.screen.batch_id == job.batch_id
                    and f"retry of {batch.id}" in links_of(app.screen)
                ),
            )
            await pilot.press("P")  # to the parent's results
            await until(
                pilot,
                lambda: (
                    isinstance(app.screen, ResultsScreen)
                    and app.screen is not screen
                    and app.screen.batch_id == batch.id
                    and app.screen.ready
                ),
            )


async def test_export_adds_the_source_rows_when_composed_from_a_csv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_copy()
    rows = tmp_path / "parcels.csv"
    body = "".join(f"{i:02d},Parcel {i}\n" for i in range(12))
    rows.write_text("n,parcel\n" + body, encoding="utf-8")
    app = offline_app(monkeypatch)
    job = app.registry.add(Job(batch_id=BATCH))
    record_source(app.registry, [job], rows, "req-{n}")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_results(pilot)
        assert screen.source == rows.resolve()
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ExportDialog))
        dialog = app.screen
        assert dialog.query_one("#export-source", Checkbox).value
        target = tmp_path / "out.csv"
        dialog.query_one("#export-path", Input).value = str(target)
        await click_shown(pilot, "#export-ok")
        await until(pilot, lambda: any("Exported 13 rows" in n.message for n in app._notifications))
    out = {r["custom_id"]: r for r in csv.DictReader(target.open(encoding="utf-8"))}
    assert out["req-07"]["source.parcel"] == "Parcel 7" and out["req-07"]["source.n"] == "07"
    assert out["req-07"]["answer"]
