"""Every screen against the embedded server in each dialect (issue 13): OpenAI, Azure
(``AsyncAzureOpenAI``: the ``api-key`` header, ``?api-version=``), Groq, and OpenAI with
quirks (ISO timestamps, upper-case and unknown statuses, missing counts), each with a
profile of that provider. One flow per screen group, parametrized over the dialects.
The azure dialect answers 404 without ``api-version`` and 401 without the ``api-key``
header, so a screen that works there proves the SDK sent both."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from tests.api.conftest import FAST, chat_lines, jsonl
from tests.ui.batches_support import (
    KEY_ENV,
    batches_screen,
    build_app,
    loaded,
    seed,
    start_server,
)
from tests.ui.conftest import click_shown, until
from tests.ui.test_batch_detail_support import settle, text_of
from tests.ui.test_compose import ROWS, compose_screen, fill_template, write_csv
from tui.app import BatchDeckApp
from tui.core.config import Config, Profile
from tui.core.journal import Journal
from tui.core.queue import enqueue_file
from tui.core.queue_view import COMPLETED, groups_of
from tui.core.registry import Job, Registry
from tui.core.tokens import estimate_file
from tui.dialogs.confirm import ConfirmDialog
from tui.dialogs.download_folder import DownloadFolderDialog
from tui.dialogs.file_preview import FilePreviewDialog
from tui.dialogs.retry_choice import RetryDialog
from tui.localapi.server import LocalServer
from tui.screens.batch_detail import BatchDetailScreen
from tui.screens.compose import ComposeScreen
from tui.screens.files import FilesScreen
from tui.screens.queue import QueueScreen
from tui.screens.results import ResultsScreen
from tui.screens.spend import SpendScreen
from tui.widgets.body_form import BodyFormPanel
from tui.widgets.results_list import ResultsList

DIALECTS = ["openai", "azure", "groq", "quirks"]
MODEL = "gpt-4o-mini"
DEPLOYMENT = "reviews-prod"  # an Azure deployment of MODEL (no price of its own)
SIZE = (120, 36)


def dialect_server(root: Path, dialect: str, **kw: Any) -> LocalServer:
    """The embedded server speaking ``dialect`` (``quirks``: openai with odd answers)."""
    if dialect == "quirks":
        return start_server(root, quirks=True, **kw)
    return start_server(root, dialect=dialect, **kw)


def dialect_config(dialect: str, server: LocalServer, **kw: Any) -> Config:
    """A profile of the dialect's provider pointed at ``server``."""
    if dialect == "azure":
        profile = Profile(
            "az",
            provider="azure",
            azure_endpoint=server.url,
            api_version="2024-10-21",
            api_key_env=KEY_ENV,
            deployments=((DEPLOYMENT, MODEL),),
            **kw,
        )
    elif dialect == "groq":
        profile = Profile(
            "fast", provider="groq", base_url=server.base_url, api_key_env=KEY_ENV, **kw
        )
    elif dialect == "quirks":
        profile = Profile(
            "quirky", provider="compatible", base_url=server.base_url, api_key_env=KEY_ENV, **kw
        )
    else:
        profile = Profile("openai", base_url=server.base_url, api_key_env=KEY_ENV, **kw)
    return Config(profiles={profile.name: profile}, default_profile=profile.name)


@pytest.fixture(params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(tmp_path: Path, dialect: str) -> Iterator[LocalServer]:
    running = dialect_server(tmp_path / "server", dialect, timing=FAST)
    try:
        yield running
    finally:
        running.stop()


def app_on(
    server: LocalServer, dialect: str, monkeypatch: pytest.MonkeyPatch, **kw: Any
) -> BatchDeckApp:
    registry = Registry(durable=False)
    return build_app(server, monkeypatch, registry, config=dialect_config(dialect, server, **kw))


def on_top(pilot: Pilot[Any]) -> Any:
    return pilot.app.screen


def said(app: Any, start: str) -> bool:
    return any(n.message.startswith(start) for n in app._notifications)


async def test_compose_inspector_results_and_spend(
    server: LocalServer,
    dialect: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Compose submits, the inspector follows the batch to its end (counts unknown
    until the service sends them), the results export and retry, Spend prices it."""
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "reviews.csv", [*ROWS, ("r4", "Broken [fail:500]")])
    app = app_on(server, dialect, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await app.push_screen(ComposeScreen())
        await fill_template(pilot, "reviews.csv")
        model = DEPLOYMENT if dialect == "azure" else MODEL  # priced as its model
        compose_screen(pilot).query_one(BodyFormPanel).set_values(model=model)
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(on_top(pilot), ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: isinstance(on_top(pilot), BatchDetailScreen))
        detail = on_top(pilot)
        assert isinstance(detail, BatchDetailScreen)
        await until(pilot, lambda: detail.is_live)
        await settle(pilot)
        head = text_of(detail, "#detail-head")
        assert ("queued" if dialect == "quirks" else "validating") in head  # as sent
        assert text_of(detail, "#detail-counts") == "no requests counted yet"  # not "0 total"
        assert "2026-01-01 00:00:00 UTC" in text_of(detail, "#detail-timeline")  # ISO read
        batch_id = detail.batch_id

        server.advance(60)  # validated, run and finalized
        await pilot.press("r")  # refresh now rather than at the next poll
        await until(pilot, lambda: getattr(detail.current_batch, "status", "") == "completed")
        await settle(pilot)
        assert f"completed  /v1/chat/completions  {model}" in text_of(detail, "#detail-head")
        counts = text_of(detail, "#detail-counts")
        assert "4 total  3 completed  1 failed" in counts
        assert "took 2s" in text_of(detail, "#detail-timeline")
        assert "$" in text_of(detail, "#detail-usage")  # priced

        await pilot.press("enter")  # the results
        await until(pilot, lambda: isinstance(on_top(pilot), ResultsScreen) and on_top(pilot).ready)
        results = on_top(pilot)
        labels = [row.label for row in results.query_one(ResultsList).rows]
        assert len(labels) == 4 and labels.count("HTTP 500") == 1
        await pilot.press("x")
        await until(pilot, lambda: bool(app.screen.query("#export-path")))
        target = tmp_path / "export.jsonl"
        app.screen.query_one("#export-path", Input).value = str(target)
        await click_shown(pilot, "#export-ok")
        await until(pilot, lambda: said(app, "Exported 4 rows"))
        exported = [json.loads(line) for line in target.read_text().splitlines()]
        assert sorted(row["custom_id"] for row in exported) == ["r1", "r2", "r3", "r4"]

        await pilot.press("R")
        await until(pilot, lambda: isinstance(on_top(pilot), RetryDialog))
        await click_shown(pilot, "#retry-yes")

        def retry() -> Job | None:
            jobs = [j for j in app.registry.load().values() if j.retry_of == batch_id]
            return jobs[0] if jobs and jobs[0].batch_id else None

        await until(pilot, lambda: retry() is not None)
        job = retry()
        assert job is not None and job.batch_id in server.store.batches
        assert server.batch(job.batch_id)["metadata"]["retry_of"] == batch_id

        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(on_top(pilot), ResultsScreen))
        listing = batches_screen(pilot)
        for _ in range(3):  # the inspector, then anything the submit left below it
            if on_top(pilot) is not listing:
                await pilot.press("escape")
                await pilot.pause()
        await until(pilot, lambda: on_top(pilot) is listing)
        await pilot.press("dollar_sign")
        await until(pilot, lambda: isinstance(on_top(pilot), SpendScreen))
        spend = on_top(pilot)
        await until(pilot, lambda: spend.spend is not None)
        summary = text_of(spend, "#spend-summary")
        unpriced = text_of(spend, "#spend-unpriced")  # the retry alone: no usage yet
        assert unpriced.startswith("Not priced yet: 1 batch") and f"{job.batch_id} (" in unpriced
        assert summary.startswith("Total $") and "for 2 batches" in summary  # and the retry


def table_rows(table: DataTable[Any]) -> dict[str, list[str]]:
    return {str(key.value): [str(cell) for cell in table.get_row(key)] for key in table.rows}


async def test_list_files_and_cancel(
    server: LocalServer,
    dialect: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The list shows each batch's status (lower case, an unknown one as sent), the
    files screen lists, previews and downloads, and a running batch cancels."""
    ids = seed(server, active=1, final=2)
    app = app_on(server, dialect, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        screen = batches_screen(pilot)
        table = screen.table
        assert set(table.batches) == set(ids)
        rows = table_rows(table)
        early = "queued" if dialect == "quirks" else "validating"  # an unknown status as sent
        assert [rows[i][2] for i in ids] == [early, "completed", "completed"]
        done = "░░░░░░ –" if dialect == "quirks" else "██████ 2/2"  # missing counts: unknown
        assert [rows[i][3] for i in ids] == ["░░░░░░ –", done, done]
        assert [rows[i][6] for i in ids] == ["49m ago", "1d ago", "1d 1h ago"]  # ISO read

        await pilot.press("f")
        await until(pilot, lambda: isinstance(on_top(pilot), FilesScreen))
        files = on_top(pilot)
        await until(pilot, lambda: files.uses_known and not files.fetching)
        await settle(pilot)
        listed = table_rows(files.query_one(DataTable))
        (source,) = [file_id for file_id, row in listed.items() if row[0] == "in.jsonl"]
        assert listed[source][3].endswith("… +2")  # used by the three batches
        files.query_one(DataTable).move_cursor(row=list(listed).index(source))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(on_top(pilot), FilePreviewDialog))
        assert '"custom_id": "req-0"' in text_of(on_top(pilot), "#preview-text")
        await pilot.press("escape")
        await until(pilot, lambda: on_top(pilot) is files)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(on_top(pilot), DownloadFolderDialog))
        folder = tmp_path / "saved"
        on_top(pilot).query_one("#folder-path", Input).value = str(folder)
        await pilot.press("enter")
        await until(pilot, lambda: on_top(pilot) is files and not files._transferring)
        await settle(pilot)
        (saved,) = folder.iterdir()
        assert saved.read_bytes() == server.store.blob_path(source).read_bytes()
        await pilot.press("escape")

        await until(pilot, lambda: on_top(pilot) is screen)
        table.move_cursor(row=table.get_row_index(ids[0]))
        await pilot.press("c")
        await until(pilot, lambda: isinstance(on_top(pilot), ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: server.batch(ids[0])["status"] in ("cancelling", "cancelled"))
        await until(pilot, lambda: table.batches[ids[0]].status.lower() != early)
        await until(pilot, lambda: table_rows(table)[ids[0]][2] in ("cancelling", "cancelled"))


async def test_the_queue_screen_sends_every_part(
    server: LocalServer,
    dialect: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A file queued in three parts under a token limit: the Queue screen (``u``) shows
    them waiting, the app sends them to the dialect's endpoint, and all complete."""
    one = tmp_path / "one.jsonl"
    one.write_bytes(jsonl(chat_lines(2)))
    per_part = estimate_file(one, exact=True).input_tokens
    app = app_on(server, dialect, monkeypatch, token_limits={MODEL: 2 * per_part})
    source = tmp_path / "tickets.jsonl"
    source.write_bytes(jsonl(chat_lines(6)))
    journal = Journal(app.registry, app.client, app.profile)
    enqueue_file(journal, source, description="tickets", part_tokens=per_part)
    app.queue_runner.interval = 0.02
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("u")
        await until(pilot, lambda: isinstance(on_top(pilot), QueueScreen))
        queue = on_top(pilot)
        await until(pilot, lambda: queue.view is not None)
        queue.action_run_now()

        def flowed() -> bool:  # the clock moves only while the test looks
            server.advance(5)
            return queue.view is not None and queue.view.groups[0].status == "completed"

        await until(pilot, flowed)
        groups = queue.groups_table
        assert [str(groups.get_row_at(0)[i]) for i in (1, 2, 3)] == ["completed", "3/3", "6/6"]
    (group,) = groups_of(app.registry.load().values()).values()
    assert group.count(COMPLETED) == 3
    assert all(part.job.batch_id in server.store.batches for part in group.latest.values())
