"""The queue against the embedded server with an enqueued-token limit: a 60-part job
of 3 parts' worth of limit goes through whole, each request exactly once, and the
limit is kept when configured, or learned from the first failure when not."""

from __future__ import annotations

import json
import shlex
import time
from collections import Counter
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.api._cli import run
from tests.api.conftest import API_KEY, FAST, MakeServer, chat_line, jsonl, make_client
from tui.core import errors
from tui.core import journal as journal_module
from tui.core.client import BatchClient
from tui.core.config import Profile
from tui.core.journal import Journal
from tui.core.queue import enqueue_file, queue_dir, run_queue_pass
from tui.core.queue_limits import LimitBook
from tui.core.queue_view import COMPLETED, groups_of
from tui.core.registry import Registry
from tui.core.tokens import estimate_file
from tui.localapi.clock import ManualClock
from tui.localapi.server import LocalServer

MODEL = "gpt-4o-mini"
PARTS = 60
LINES_PER_PART = 2
TEXT = "Summarise ticket 7: the parcel is late and the customer wants a refund."


def job_lines() -> list[dict[str, Any]]:
    """Every request has the same body, so every part has the same tokens."""
    return [chat_line(f"q-{i:04d}", TEXT) for i in range(PARTS * LINES_PER_PART)]


def part_tokens(tmp_path: Path) -> int:
    path = tmp_path / "one-part.jsonl"
    path.write_bytes(jsonl(job_lines()[:LINES_PER_PART]))
    return estimate_file(path, exact=True).input_tokens


def write_job(tmp_path: Path) -> Path:
    path = tmp_path / "job.jsonl"
    path.write_bytes(jsonl(job_lines()))
    return path


def all_batches(client: openai.OpenAI) -> list[Any]:
    return list(client.batches.list(limit=100))  # the SDK's page iterates every page


def joined_ids(client: openai.OpenAI) -> Counter[str]:
    """The custom_ids in the output and error files of every batch on the server."""
    ids: Counter[str] = Counter()
    for batch in all_batches(client):
        for file_id in (batch.output_file_id, batch.error_file_id):
            if file_id:
                text = client.files.content(file_id).text
                ids.update(json.loads(line)["custom_id"] for line in text.splitlines() if line)
    return ids


def limit_failures(client: openai.OpenAI) -> int:
    return sum(
        1
        for batch in all_batches(client)
        if batch.errors and any(e.code == "token_limit_exceeded" for e in batch.errors.data or [])
    )


def peak_enqueued(client: openai.OpenAI, per_part: int) -> int:
    """The most input tokens the server ever held at once, from the batches' own times:
    each holds its part's tokens from ``in_progress_at`` until it is final."""
    events: list[tuple[int, int]] = []
    for batch in all_batches(client):
        end = batch.completed_at or batch.failed_at or batch.cancelled_at or batch.expired_at
        if batch.in_progress_at is not None and end is not None:
            events += [(batch.in_progress_at, per_part), (end, -per_part)]
    peak = held = 0
    for _, change in sorted(events, key=lambda e: (e[0], e[1])):  # frees before holds
        held += change
        peak = max(peak, held)
    return peak


def test_a_configured_limit_is_never_exceeded(
    make_server: MakeServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    per_part = part_tokens(tmp_path)
    limit = 3 * per_part
    server = make_server(time_scale=50, token_limits={MODEL: limit})
    config = tmp_path / "bd-config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f'[profiles.default]\nbase_url = "{server.base_url}"\n\n'
        f'[profiles.default.token_limits]\n"{MODEL}" = {limit}\n'
    )
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    source = write_job(tmp_path)

    queued = run(capsys, "submit", str(source), "--queue", "--part-tokens", str(per_part), "--json")
    assert queued.code == 0, queued.err
    assert len(json.loads(queued.out)["queued"]) == PARTS

    done = run(
        capsys, "queue", "run", "--until-done", "--interval", "20ms", "--timeout", "300", "--json"
    )
    assert done.code == 0, done.err

    registry = Registry()
    (group,) = groups_of(registry.load().values()).values()
    assert group.status == "completed" and group.count(COMPLETED) == PARTS
    sent_at = [part.in_flight_at_send for part in group.latest.values()]
    assert all(tokens is not None and tokens <= limit for tokens in sent_at)
    with make_client(server) as client:
        assert limit_failures(client) == 0
        assert peak_enqueued(client, per_part) <= limit
        ids = joined_ids(client)
    assert ids == Counter({line["custom_id"]: 1 for line in job_lines()})
    listed = run(capsys, "queue", "ls", "--json")
    (lane,) = json.loads(listed.out)["lanes"]
    assert lane["limit"] == {
        "tokens": limit,
        "source": "configured",
        "configured": limit,
        "learned": None,
    }


async def test_an_unknown_limit_is_learned_from_the_first_failure(
    make_server: MakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    per_part = part_tokens(tmp_path)
    server: LocalServer = make_server(
        clock=ManualClock(), timing=FAST, token_limits={MODEL: 3 * per_part}
    )
    monkeypatch.setenv("BATCHDECK_TEST_KEY", API_KEY)
    profile = Profile("t", base_url=server.base_url, api_key_env="BATCHDECK_TEST_KEY")
    registry = Registry(durable=False)
    client = BatchClient(profile)
    enqueue_file(Journal(registry, client, profile), write_job(tmp_path), part_tokens=per_part)
    first = await run_queue_pass(registry, client, profile)
    assert len(first.sent) == PARTS  # nothing known: everything goes
    learned_at: list[int] = []
    for _ in range(400):
        server.advance(1)
        report = await run_queue_pass(registry, client, profile)
        learned_at += [tokens for _, tokens in report.learned]
        if report.done:
            break
    await client.close()
    assert report.done and not report.failed and not report.problems
    learned = LimitBook(queue_dir(registry)).learned("t", MODEL)
    assert learned is not None and 3 * per_part <= learned.tokens < 4 * per_part
    assert learned_at == [learned.tokens]  # learned once, from the first failure's figure
    (group,) = groups_of(registry.load().values()).values()
    assert group.status == "completed" and group.attempts > PARTS
    again = [part for part in group.latest.values() if part.job.retry_of]
    assert len(again) == PARTS - 3  # sent again once each, within the learned limit
    assert all((part.in_flight_at_send or 0) <= learned.tokens for part in again)
    with make_client(server) as sdk:
        assert limit_failures(sdk) == PARTS - 3
        assert joined_ids(sdk) == Counter({line["custom_id"]: 1 for line in job_lines()})


@pytest.fixture
def journal_at(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> Journal:
    monkeypatch.setenv("BATCHDECK_TEST_KEY", API_KEY)
    profile = Profile("t", base_url=server.base_url, api_key_env="BATCHDECK_TEST_KEY")
    return Journal(Registry(durable=False), BatchClient(profile), profile)


async def test_a_file_missing_just_after_its_upload_is_waited_for(
    server: LocalServer, journal_at: Journal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_module, "FILE_404_WAITS", (0.01, 0.02, 0.04))
    source = write_job(tmp_path)
    server.faults.add("file_404", times=2)  # the create sees "No such File object" twice
    job = await journal_at.submit(source, "/v1/chat/completions")
    assert job.submission and job.submission["state"] == "created" and job.batch_id
    assert [kind for kind, _, _ in server.faults.fired] == ["file_404", "file_404"]

    server.faults.add("file_404", times=None)  # gone for good: abandoned, and says why
    with pytest.raises(errors.NotFoundError):
        await journal_at.submit(source, "/v1/chat/completions")
    await journal_at.client.close()
    (abandoned,) = [j for j in journal_at.registry.load().values() if j.batch_id is None]
    note = (abandoned.submission or {}).get("note", "")
    assert abandoned.submission and abandoned.submission["state"] == "abandoned"
    assert "still not found after 3 retries over 0.07 s" in note


async def test_hooks_tell_of_the_group_not_of_parts_the_queue_sends_again(
    make_server: MakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A part failed over the (unknown) limit goes back to the queue: no "batch
    failed" notification for it (``alerts.due``, as in the app and ``watch``), nor
    for each completed part: the group's end is news once, completed."""
    from tests._hooks import recorder, runs
    from tui.core.hook_settings import HookSettings

    parts = 6
    per_part = part_tokens(tmp_path)
    server: LocalServer = make_server(  # its time is now: no batch is stuck or expiring
        clock=ManualClock(time.time()), timing=FAST, token_limits={MODEL: 3 * per_part}
    )
    monkeypatch.setenv("BATCHDECK_TEST_KEY", API_KEY)
    profile = Profile("t", base_url=server.base_url, api_key_env="BATCHDECK_TEST_KEY")
    registry = Registry(durable=False)
    client = BatchClient(profile)
    source = tmp_path / "six.jsonl"
    source.write_bytes(jsonl(job_lines()[: parts * LINES_PER_PART]))
    enqueue_file(Journal(registry, client, profile), source, part_tokens=per_part)
    out, command = recorder(tmp_path)
    hooks = HookSettings(on_final=tuple(shlex.split(command)))
    report = await run_queue_pass(registry, client, profile, hooks=hooks)
    for _ in range(100):
        server.advance(1)
        report = await run_queue_pass(registry, client, profile, hooks=hooks)
        if report.done:
            break
    await client.close()
    assert report.done and not report.failed and not report.problems
    jobs = list(registry.load().values())
    over_limit = [job for job in jobs if job.status == "failed"]
    completed = [job for job in jobs if job.status == "completed"]
    assert len(over_limit) == parts - 3 and len(completed) == parts
    assert all("final" not in job.notified for job in jobs)
    assert all(job.notified == {} for job in over_limit)  # no news: nothing fired
    (fired,) = [hook["env"] for hook in runs(out)]
    assert fired["BATCHDECK_STATUS"] == "completed" and fired["BATCHDECK_GROUP_ID"]
