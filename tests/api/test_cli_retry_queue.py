"""``batchdeck retry BATCH_ID --queue``: the retry goes into the local queue, split by
the model's token limit into one job group whose every part stays linked to the
parent; ``queue run --until-done`` sends it through the limit, and the parent's
results merge every part's (each custom_id once, the latest attempt wins)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest

from tests.api._cli import run
from tests.api.conftest import API_KEY, MakeServer, chat_line, make_client, submit, wait_for
from tests.api.test_queue_flow import LINES_PER_PART, MODEL, TEXT, part_tokens
from tui.core.queue_view import COMPLETED, groups_of
from tui.core.registry import Registry
from tui.core.results import retries_of, retry_links
from tui.localapi.clock import ManualClock, ScaledClock
from tui.localapi.server import LocalServer

Capsys = pytest.CaptureFixture[str]
REQUESTS = 9


class StillThenRunning(ManualClock):
    """Stands still (``server.advance`` moves it) until :meth:`run`, then runs fast."""

    def __init__(self) -> None:
        super().__init__()
        self._running: ScaledClock | None = None

    def __call__(self) -> float:
        return self._running() if self._running is not None else super().__call__()

    def run(self, scale: float) -> None:
        self._running = ScaledClock(scale, start=super().__call__())


@dataclass
class Parent:
    batch_id: str
    answered: set[str]  # custom_ids the parent completed
    clock: StillThenRunning
    sdk: openai.OpenAI
    limit: int  # the server's, in tokens
    server: LocalServer


def make_parent(
    make_server: MakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, configured: bool
) -> Parent:
    """A cancelled batch, some of its requests never run, on a server with an
    enqueued-token limit of LINES_PER_PART requests (in the profile if ``configured``)."""
    limit = part_tokens(tmp_path)
    clock = StillThenRunning()
    server = make_server(clock=clock)  # the limit comes after the parent
    config = tmp_path / "bd-config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    known = f'\n[profiles.default.token_limits]\n"{MODEL}" = {limit}\n' if configured else ""
    config.write_text(f'[profiles.default]\nbase_url = "{server.base_url}"\n{known}')
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    sdk = make_client(server)
    batch = submit(sdk, [chat_line(f"r-{i}", TEXT) for i in range(REQUESTS)])
    server.advance(2.0 + 1.6)  # validation, then three requests at 0.5 s each
    sdk.batches.cancel(batch.id)
    server.advance(10)
    done = wait_for(sdk, batch.id)
    assert done.status == "cancelled" and 0 < done.request_counts.completed < REQUESTS
    output = sdk.files.content(done.output_file_id).text if done.output_file_id else ""
    answered = {json.loads(line)["custom_id"] for line in output.splitlines() if line}
    server.token_limits[MODEL] = limit  # the engine holds this dict
    return Parent(batch.id, answered, clock, sdk, limit, server)


@pytest.fixture
def parent(make_server: MakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Parent:
    return make_parent(make_server, tmp_path, monkeypatch, configured=True)


def test_retry_queue_splits_links_sends_and_merges(parent: Parent, capsys: Capsys) -> None:
    not_run = {f"r-{i}" for i in range(REQUESTS)} - parent.answered
    queued = run(capsys, "retry", parent.batch_id, "--queue", "--outcome", "expired", "--json")
    assert queued.code == 0, queued.err
    (record,) = queued.json_lines()
    assert record["batch_id"] is None and record["requests"] == len(not_run)
    assert set(record["custom_ids"]) == not_run
    expected_parts = -(-len(not_run) // LINES_PER_PART)
    assert len(record["queued"]) == expected_parts > 1  # split by the configured limit
    registry = Registry()
    jobs = registry.load()
    (group,) = groups_of(jobs.values()).values()
    assert group.group_id == record["group_id"] and group.status == "waiting"
    for job_id in record["queued"]:
        table = (jobs[job_id].submission or {})["queue"]
        assert table["retry_of_batch"] == parent.batch_id and jobs[job_id].retry_of is None
    assert retries_of(registry, parent.batch_id) == []  # nothing sent yet

    parent.clock.run(50)
    done = run(
        capsys, "queue", "run", "--until-done", "--interval", "20ms", "--timeout", "300", "--json"
    )
    assert done.code == 0, done.err
    (group,) = groups_of(registry.load().values()).values()
    assert group.status == "completed" and group.count(COMPLETED) == expected_parts
    children = retries_of(registry, parent.batch_id)
    assert len(children) == expected_parts
    assert sorted(retry_links(registry, parent.batch_id).retried_by) == sorted(children)
    for child in children:
        assert retry_links(registry, child).retry_of == parent.batch_id
        remote = parent.sdk.batches.retrieve(child)
        assert remote.metadata is not None and remote.metadata["retry_of"] == parent.batch_id

    rows = run(capsys, "results", parent.batch_id, "--json")
    assert rows.code == 0, rows.err
    merged = rows.json_lines()
    ids = [row["custom_id"] for row in merged]
    assert sorted(ids) == sorted(f"r-{i}" for i in range(REQUESTS))  # each once
    assert all(row["outcome"] == "ok" for row in merged), merged


def test_part_tokens_goes_with_queue(parent: Parent, capsys: Capsys) -> None:
    ran = run(capsys, "retry", parent.batch_id, "--part-tokens", "10")
    assert ran.code == 2 and "--part-tokens goes with --queue" in ran.err
    text = run(capsys, "retry", parent.batch_id, "--queue", "--outcome", "expired")
    assert text.code == 0 and f"queued a retry of {parent.batch_id} with" in text.out
    assert "`batchdeck queue run` sends them" in text.out


def test_a_retry_part_sent_again_over_an_unknown_limit_still_merges_once(
    make_server: MakeServer, tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = make_parent(make_server, tmp_path, monkeypatch, configured=False)
    part = str(parent.limit)  # each part alone fits; two at once do not
    queued = run(
        capsys,
        "retry",
        parent.batch_id,
        "--queue",
        "--outcome",
        "expired",
        "--part-tokens",
        part,
        "--json",
    )
    assert queued.code == 0, queued.err
    for _ in range(400):  # one pass a simulated second, as in test_queue_flow
        (report,) = run(capsys, "queue", "run", "--once", "--json").json_lines()
        if report["waiting"] == report["active"] == 0:
            break
        parent.server.advance(1)
    assert not report["failed"] and not report["problems"], report
    registry = Registry()
    jobs = registry.load()
    (group,) = groups_of(jobs.values()).values()
    assert group.status == "completed" and group.attempts > group.parts  # some sent again
    again = [job for job in jobs.values() if job.retry_of]  # the queue's attempt links
    assert again and all(
        (job.submission or {})["queue"]["retry_of_batch"] == parent.batch_id for job in again
    )
    children = retries_of(registry, parent.batch_id)
    assert sorted(children) == sorted(part.job.batch_id or "" for part in group.latest.values())
    assert all(retry_links(registry, child).retry_of == parent.batch_id for child in children)
    rows = run(capsys, "results", parent.batch_id, "--json")
    assert rows.code == 0, rows.err
    merged = rows.json_lines()
    assert sorted(row["custom_id"] for row in merged) == sorted(f"r-{i}" for i in range(REQUESTS))
    assert all(row["outcome"] == "ok" for row in merged), merged
    assert "not included" not in rows.err
