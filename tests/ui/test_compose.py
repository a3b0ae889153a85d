"""The compose screen with Pilot: template + CSV -> preview -> check -> estimate -> save
or submit (to the embedded server), problems jumping to their line, requests one by one."""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Checkbox, DataTable, Input, Select, Static, TabbedContent, TextArea

from tests.api.conftest import API_KEY, FAST, make_client
from tests.ui.conftest import WAIT_SECONDS, until
from tui.app import make_app, styles_dir
from tui.core import submission
from tui.core.client import BatchClient
from tui.core.config import Config, Profile
from tui.core.registry import Registry
from tui.core.requests import Limits
from tui.localapi.clock import ManualClock
from tui.localapi.server import LocalServer
from tui.screens import compose as compose_module
from tui.screens.compose import ComposeScreen
from tui.widgets.body_form import BodyFormPanel
from tui.widgets.request_list import RequestList

KEY_ENV = "BATCHDECK_TEST_KEY"
SIZE = (120, 36)


class ComposeOnly(App[None]):
    """Just the compose screen (no server needed until a submit)."""

    CSS_PATH = [str(styles_dir() / "app.tcss")]

    def on_mount(self) -> None:
        self.push_screen(ComposeScreen())


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "review"])
        writer.writerows(rows)
    return path


ROWS = [("r1", "Great kettle"), ("r2", "Broke after a week"), ("r3", "Fine, I guess")]


def compose_screen(pilot: Pilot[Any]) -> ComposeScreen:
    for screen in reversed(pilot.app.screen_stack):
        if isinstance(screen, ComposeScreen):
            return screen
    raise AssertionError("no compose screen")


def text_of(screen: ComposeScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def fill_template(
    pilot: Pilot[Any], rows_path: str, *, prompt: str = "Label: {review}"
) -> None:
    screen = compose_screen(pilot)
    screen.query_one(BodyFormPanel).set_values(
        system="One word answers.", prompt=prompt, max_tokens=5
    )
    screen.query_one("#rows-path", Input).value = rows_path
    screen.query_one("#id-pattern", Input).value = "{id}"
    await pilot.pause()


async def check(pilot: Pilot[Any]) -> ComposeScreen:
    screen = compose_screen(pilot)
    before = screen.checks
    await pilot.press("f5")
    await until(pilot, lambda: screen.checks > before)
    await pilot.pause()
    return screen


async def test_the_header_survives_the_screen_going_away_while_it_mounts() -> None:
    """Textual's Header raises NoMatches then; batchdeck's DeckHeader does not."""
    from textual.widgets import Header

    from tui.widgets.header import DeckHeader

    async with ComposeOnly().run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(pilot.app.screen, ComposeScreen))
        assert type(compose_screen(pilot).query_one(Header)) is DeckHeader


async def test_csv_template_preview_check_and_estimate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "reviews.csv", ROWS)
    async with ComposeOnly().run_test(size=SIZE) as pilot:
        await fill_template(pilot, "reviews.csv")
        screen = compose_screen(pilot)
        assert "{id}, {review}" in text_of(screen, "#rows-columns")
        await pilot.press("f8")
        await until(pilot, lambda: "request 1" in text_of(screen, "#preview"))
        preview = text_of(screen, "#preview")
        assert '"custom_id": "r1"' in preview and "Label: Great kettle" in preview
        assert "request 3" in preview and "request 4" not in preview
        assert screen.query_one(TabbedContent).active == "tab-preview"

        await check(pilot)
        assert screen.checked is not None and screen.checked.report.ok
        assert screen.checked.path == Path("reviews.batch.jsonl")
        assert screen.query_one(TabbedContent).active == "tab-check"
        assert "valid: 3 requests" in text_of(screen, "#problems-summary")
        estimate = text_of(screen, "#estimate")
        assert "input tokens" in estimate and "≤ 15" in estimate  # 3 x max 5
        assert "cost, Batch" in estimate and "without the Batch discount" in estimate
        lines = [json.loads(x) for x in Path("reviews.batch.jsonl").read_text().splitlines()]
        assert [x["custom_id"] for x in lines] == ["r1", "r2", "r3"]


async def test_missing_column_is_an_error_naming_the_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "reviews.csv", ROWS)
    async with ComposeOnly().run_test(size=SIZE) as pilot:
        await fill_template(pilot, "reviews.csv", prompt="Label: {revue}")
        screen = await check(pilot)
        status = text_of(screen, "#compose-status")
        assert "row 1" in status and "no column 'revue'" in status and "id, review" in status
        assert screen.checked is None
        assert not (tmp_path / "reviews.batch.jsonl").exists()


async def test_duplicate_ids_from_a_column_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "reviews.csv", [("a", "x"), ("b", "y"), ("a", "z")])
    async with ComposeOnly().run_test(size=SIZE) as pilot:
        await fill_template(pilot, "reviews.csv")
        screen = await check(pilot)
        status = text_of(screen, "#compose-status")
        assert "row 3" in status and "'a' is already used by row 1" in status


async def test_problems_jump_to_their_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    good = {
        "custom_id": "a",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", "messages": []},
    }
    Path("old.jsonl").write_text(
        json.dumps(good) + "\n" + json.dumps({**good, "method": "GET"}) + "\n[bold]oops[/]\n"
    )
    async with ComposeOnly().run_test(size=SIZE) as pilot:
        screen = compose_screen(pilot)
        screen.query_one("#source-kind", Select).value = "jsonl"
        screen.query_one("#jsonl-path", Input).value = "old.jsonl"
        await check(pilot)
        table = screen.query_one("#problems", DataTable)
        assert table.row_count == 3  # duplicate id + GET on line 2, bad JSON on line 3
        assert "line 2" in text_of(screen, "#problem-line")
        table.focus()
        await pilot.press("down", "down")
        await pilot.pause()
        shown = text_of(screen, "#problem-line")
        assert "line 3" in shown and "[bold]oops[/]" in shown  # literal, not markup
        assert "3 problem(s)" in text_of(screen, "#problems-summary")


async def test_requests_one_by_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCHDECK_DATA_DIR", str(tmp_path / "data"))
    async with ComposeOnly().run_test(size=SIZE) as pilot:
        screen = compose_screen(pilot)
        form = screen.query_one(BodyFormPanel)
        screen.query_one("#source-kind", Select).value = "manual"
        await pilot.pause()
        for custom_id, prompt in (("first", "Hello {not a placeholder}"), ("second", "Bye")):
            form.set_values(prompt=prompt)
            screen.query_one("#manual-id", Input).value = custom_id
            screen.action_add_request()
        screen.query_one("#manual-id", Input).value = "first"
        screen.action_add_request()  # a duplicate
        await pilot.pause()
        requests = screen.query_one(RequestList)
        assert [cid for cid, _ in requests.requests] == ["first", "second"]
        assert "already in the list" in text_of(screen, "#compose-status")

        requests.move_cursor(row=1)
        screen.action_edit_request()
        await pilot.pause()
        assert form.mode == "raw" and screen.query_one(TabbedContent).active == "tab-request"
        raw = screen.query_one("#body-raw", TextArea)
        raw.text = raw.text.replace("Bye", "Goodbye")
        screen.action_add_request()
        assert requests.requests[1][1]["messages"][-1]["content"] == "Goodbye"
        assert len(requests.requests) == 2

        await check(pilot)
        assert screen.checked is not None and screen.checked.report.ok
        saved = screen.checked.path.read_text()
        assert "Hello {not a placeholder}" in saved and "Goodbye" in saved


async def test_leaving_during_a_check_paints_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "reviews.csv", ROWS)
    gate, returned = threading.Event(), threading.Event()

    def held_check(inputs: Any) -> Any:
        gate.wait(WAIT_SECONDS)
        try:
            return submission.check_inputs(inputs)
        finally:
            returned.set()

    monkeypatch.setattr(compose_module, "check_inputs", held_check)
    async with ComposeOnly().run_test(size=SIZE) as pilot:
        await fill_template(pilot, "reviews.csv")
        screen = compose_screen(pilot)
        await pilot.press("f5")
        await until(pilot, lambda: "Checking" in text_of(screen, "#compose-status"))
        await pilot.press("escape")  # changes not kept: it asks; d discards them
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "LeaveComposeDialog")
        await pilot.press("d")
        await until(pilot, lambda: not screen.is_running)  # the screen is gone
        gate.set()
        await until(pilot, returned.is_set)
        await pilot.pause()  # whatever the finished check handed back has been handled
        assert screen.checks == 0 and screen.checked is None
        assert (tmp_path / "reviews.batch.jsonl").exists()  # the check did run to its end
        assert pilot.app.is_running


async def test_a_hostile_jsonl_line_is_a_preview_error_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("deep.jsonl").write_text("[" * 100_000 + "\n")
    async with ComposeOnly().run_test(size=SIZE) as pilot:
        screen = compose_screen(pilot)
        screen.query_one("#source-kind", Select).value = "jsonl"
        screen.query_one("#jsonl-path", Input).value = "deep.jsonl"
        await pilot.press("f8")
        await until(pilot, lambda: "Preview:" in text_of(screen, "#compose-status"))
        assert "deep" in text_of(screen, "#compose-status")
        assert pilot.app.is_running and pilot.app.screen is screen


async def test_body_form_follows_the_endpoint() -> None:
    async with ComposeOnly().run_test(size=SIZE) as pilot:
        screen = compose_screen(pilot)
        form = screen.query_one(BodyFormPanel)
        form.query_one("#body-endpoint", Select).value = "/v1/embeddings"
        await pilot.pause()
        assert form.query_one("#body-model", Input).value == "text-embedding-3-small"
        assert not form.query_one("#body-system").display
        assert not form.query_one("#body-options").display
        form.set_values(prompt="{text}")
        assert form.body() == {"model": "text-embedding-3-small", "input": "{text}"}
        form.query_one("#body-endpoint", Select).value = "/v1/responses"
        await pilot.pause()
        form.query_one("#body-format", Select).value = "json_schema"
        await pilot.pause()
        assert form.query_one("#body-schema").display
        form.query_one("#body-schema", TextArea).text = '{"type": "object"}'
        body = form.body()
        assert body["model"] == "gpt-4.1-mini" and body["text"]["format"]["type"] == "json_schema"


async def test_next_tab_reaches_every_tab_by_keyboard() -> None:
    async with ComposeOnly().run_test(size=SIZE) as pilot:
        screen = compose_screen(pilot)
        seen = []
        for _ in range(5):
            await pilot.press("f4")
            await pilot.pause()
            seen.append(screen.query_one(TabbedContent).active)
        assert seen == ["tab-source", "tab-preview", "tab-check", "tab-submit", "tab-request"]


# --- against the embedded server -------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    with LocalServer(
        tmp_path / "server", api_key=API_KEY, clock=ManualClock(), timing=FAST, durable=False
    ) as running:
        yield running


def deck(server: LocalServer, monkeypatch: pytest.MonkeyPatch, registry: Registry) -> Any:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    profile = Profile("test", base_url=server.base_url, api_key_env=KEY_ENV)
    config = Config(profiles={"test": profile}, default_profile="test")
    return make_app(config, BatchClient(profile), registry, profile=profile)


async def test_submit_records_the_job_and_opens_the_inspector(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "reviews.csv", ROWS)
    registry = Registry()
    async with deck(server, monkeypatch, registry).run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.app.push_screen(ComposeScreen())
        await fill_template(pilot, "reviews.csv")
        screen = compose_screen(pilot)
        screen.query_one("#description", Input).value = "reviews run"
        screen.query_one("#metadata", TextArea).text = "team=ml\n\nowner=ann"
        screen.query_one("#expiry", Input).value = "7d"
        await pilot.press("f9")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ConfirmDialog")
        assert not screen.submitted  # nothing sent before the answer
        await pilot.press("y")
        await until(pilot, lambda: bool(screen.submitted))
        (job,) = screen.submitted
        assert job.batch_id and job.description == "reviews run"
        assert registry.find_by_batch(job.batch_id) is not None
        batch = server.batch(job.batch_id)
        assert batch["metadata"]["team"] == "ml" and batch["metadata"]["owner"] == "ann"
        assert batch["request_counts"]["total"] in (0, 3)
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "BatchDetailScreen")
        assert getattr(pilot.app.screen, "batch_id", job.batch_id) == job.batch_id


async def test_split_submit_makes_a_job_group(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "reviews.csv", [(f"r{i}", f"text {i}") for i in range(5)])

    def small_parts(checked: Any, endpoint: str, options: Any) -> Any:
        limits = Limits(max_requests=2)
        return submission.plan_submit(
            checked.path, endpoint, allow_split=options.split, limits=limits
        )

    monkeypatch.setattr(submission, "plan_checked", small_parts)
    registry = Registry()
    async with deck(server, monkeypatch, registry).run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.app.push_screen(ComposeScreen())
        await fill_template(pilot, "reviews.csv")
        screen = compose_screen(pilot)
        await pilot.press("f9")
        await until(pilot, lambda: "split" in text_of(screen, "#compose-status"))
        assert not screen.submitted  # over the (test) limit and split not ticked
        screen.query_one("#split", Checkbox).value = True
        await pilot.press("f9")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ConfirmDialog")
        await pilot.press("y")
        await until(pilot, lambda: bool(screen.submitted))
        jobs = screen.submitted
        assert len(jobs) == 3 and len({job.group_id for job in jobs}) == 1
        assert all(registry.get(job.job_id) for job in jobs)


async def test_declined_submit_sends_nothing(
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
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ConfirmDialog")
        await pilot.press("n")
        await until(pilot, lambda: "Not sent" in text_of(screen, "#compose-status"))
        assert not screen.submitted
        with make_client(server) as sdk:
            assert list(sdk.files.list()) == []


async def test_bad_metadata_sends_nothing(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "reviews.csv", ROWS)
    async with deck(server, monkeypatch, Registry()).run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.app.push_screen(ComposeScreen())
        await fill_template(pilot, "reviews.csv")
        screen = compose_screen(pilot)
        screen.query_one("#metadata", TextArea).text = "no equals sign"
        await pilot.press("f9")
        await until(pilot, lambda: "key=value" in text_of(screen, "#compose-status"))
        assert screen.query_one(TabbedContent).active == "tab-submit"
        assert not screen.submitted
        with make_client(server) as sdk:
            assert list(sdk.files.list()) == []


# --- snapshots ---------------------------------------------------------------------------


def _snapshot_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "reviews.csv", ROWS)


def test_snapshot_request_form(
    snap_compare: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _snapshot_files(tmp_path, monkeypatch)

    async def before(pilot: Pilot[Any]) -> None:
        await fill_template(pilot, "reviews.csv")
        screen = compose_screen(pilot)
        screen.query_one(BodyFormPanel).query_one("#body-temperature", Input).value = "0.2"
        await pilot.pause()

    assert snap_compare(ComposeOnly(), terminal_size=SIZE, run_before=before)


def test_snapshot_check_with_estimate(
    snap_compare: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _snapshot_files(tmp_path, monkeypatch)

    async def before(pilot: Pilot[Any]) -> None:
        await fill_template(pilot, "reviews.csv")
        await check(pilot)

    assert snap_compare(ComposeOnly(), terminal_size=SIZE, run_before=before)


def test_snapshot_problems_80x24(
    snap_compare: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    line = {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions"}
    Path("old.jsonl").write_text(
        json.dumps({**line, "body": {"model": "gpt-4o-mini"}})
        + "\n"
        + json.dumps({**line, "url": "/v1/embeddings", "body": {"model": "m"}})
        + "\nnot json\n"
    )

    async def before(pilot: Pilot[Any]) -> None:
        screen = compose_screen(pilot)
        screen.query_one("#source-kind", Select).value = "jsonl"
        screen.query_one("#jsonl-path", Input).value = "old.jsonl"
        await check(pilot)

    assert snap_compare(ComposeOnly(), terminal_size=(80, 24), run_before=before)


async def test_custom_id_from_a_chosen_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "reviews.csv", ROWS)
    async with ComposeOnly().run_test(size=SIZE) as pilot:
        screen = compose_screen(pilot)
        screen.query_one(BodyFormPanel).set_values(prompt="{review}")
        screen.query_one("#rows-path", Input).value = "reviews.csv"
        await pilot.pause()
        screen.query_one("#id-column", Select).value = "id"
        await pilot.pause()
        assert screen.query_one("#id-pattern", Input).value == "{id}"
        await check(pilot)
        assert screen.checked is not None
        lines = screen.checked.path.read_text().splitlines()
        assert [json.loads(x)["custom_id"] for x in lines] == ["r1", "r2", "r3"]


async def test_every_compose_action_is_in_the_palette_and_has_an_id() -> None:
    from tui.screen_commands import binding_commands

    async with ComposeOnly().run_test(size=SIZE) as pilot:
        screen = compose_screen(pilot)
        titles = {title for title, _, _ in binding_commands(screen)}
        assert len(titles) == len(screen.BINDINGS)
        assert all(title.startswith("Compose: ") for title in titles)
        assert "Compose: Build, validate, estimate" in titles
        assert "Compose: Upload and create" in titles
        assert all(getattr(b, "id", None) for b in screen.BINDINGS)
