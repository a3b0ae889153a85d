"""The queue on an Anthropic profile against the embedded server's Message Batches with
a limit of requests in the processing queue: a 60-part job of 3 parts' worth of limit
goes through whole, each custom_id exactly once; a configured limit is never
exceeded (no 429 at all), an unknown one is learned from the first 429 at create,
and the refused part goes back to the queue and is sent once, later."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import anthropic
import pytest

from tests.api._cli import run
from tests.api.conftest import API_KEY, FAST, MakeServer
from tests.api.test_anthropic_cli import FAST as CLI_FAST
from tests.api.test_anthropic_cli import claude_profile, requests_file
from tui.core import paths
from tui.core.anthropic_client import AnthropicBatchClient
from tui.core.anthropic_journal import AnthropicJournal
from tui.core.config import Profile
from tui.core.queue import enqueue_file, queue_dir, queue_view, run_queue_pass
from tui.core.queue_limits import LimitBook
from tui.core.queue_view import COMPLETED, groups_of
from tui.core.registry import Registry
from tui.localapi.clock import ManualClock
from tui.localapi.server import LocalServer

MODEL = "claude-haiku-4-5"
PARTS = 60
PER_PART = 2  # requests a part
LIMIT = 3 * PER_PART  # requests in the processing queue
KEY_ENV = "BD_ANTHROPIC_QUEUE_KEY"


def job_lines() -> list[dict[str, Any]]:
    return [
        {
            "custom_id": f"q-{i:04d}",
            "params": {
                "model": MODEL,
                "max_tokens": 32,
                "messages": [{"role": "user", "content": f"Summarise ticket {i}."}],
            },
        }
        for i in range(PARTS * PER_PART)
    ]


def write_job(tmp_path: Path) -> Path:
    path = tmp_path / "claude-job.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in job_lines()))
    return path


def sdk_for(server: LocalServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key=API_KEY, max_retries=2)


def all_batches(sdk: anthropic.Anthropic) -> list[Any]:
    return list(sdk.messages.batches.list(limit=1000))


def joined_ids(sdk: anthropic.Anthropic) -> Counter[str]:
    """The custom_ids in the results of every message batch on the server."""
    ids: Counter[str] = Counter()
    for batch in all_batches(sdk):
        assert batch.processing_status == "ended"
        ids.update(result.custom_id for result in sdk.messages.batches.results(batch.id))
    return ids


def peak_processing(sdk: anthropic.Anthropic) -> int:
    """The most requests the server ever held in its processing queue, from the
    batches' own times (each holds its requests from creation until it ended)."""
    events: list[tuple[datetime, int]] = []
    for batch in all_batches(sdk):
        total = sum(batch.request_counts.to_dict().values())
        assert batch.ended_at is not None
        events += [(batch.created_at, total), (batch.ended_at, -total)]
    peak = held = 0
    for _, change in sorted(events, key=lambda e: (e[0], e[1])):  # frees before holds
        held += change
        peak = max(peak, held)
    return peak


def claude_config(server: LocalServer, limit: int | None) -> None:
    path = paths.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    limits = f'\n[profiles.claude.token_limits]\n"{MODEL}" = {limit}\n' if limit else ""
    path.write_text(
        f'[settings]\nprofile = "claude"\n\n[profiles.claude]\nprovider = "anthropic"\n'
        f'base_url = "{server.url}"\napi_key_env = "{KEY_ENV}"\n{limits}',
        encoding="utf-8",
    )


def test_a_configured_limit_of_requests_is_never_exceeded(
    make_server: MakeServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = make_server(
        dialect="anthropic", time_scale=50, timing=FAST, anthropic_queue_limit=LIMIT
    )
    monkeypatch.setenv(KEY_ENV, API_KEY)
    claude_config(server, LIMIT)
    source = write_job(tmp_path)

    queued = run(
        capsys, "submit", str(source), "--queue", "--part-requests", str(PER_PART), "--json"
    )
    assert queued.code == 0, queued.err
    rows = json.loads(queued.out)["queued"]
    assert len(rows) == PARTS and {row["requests"] for row in rows} == {PER_PART}

    done = run(
        capsys, "queue", "run", "--until-done", "--interval", "20ms", "--timeout", "300", "--json"
    )
    assert done.code == 0, done.err
    passes = [json.loads(line) for line in done.out.splitlines() if line.startswith("{")]
    assert passes and not any(p["refused"] for p in passes)  # the server never said 429

    registry = Registry()
    (group,) = groups_of(registry.load().values()).values()
    assert group.status == "completed" and group.count(COMPLETED) == PARTS
    assert group.attempts == PARTS  # no part was sent twice
    sent_at = [part.in_flight_at_send for part in group.latest.values()]
    assert all(weight is not None and weight <= LIMIT for weight in sent_at)
    with sdk_for(server) as sdk:
        assert len(all_batches(sdk)) == PARTS
        assert peak_processing(sdk) <= LIMIT
        assert joined_ids(sdk) == Counter({line["custom_id"]: 1 for line in job_lines()})
    listed = run(capsys, "queue", "ls", "--json")
    (lane,) = json.loads(listed.out)["lanes"]
    assert lane["unit"] == "requests" and lane["limit"]["tokens"] == LIMIT
    assert lane["limit"]["source"] == "configured"


async def test_an_unknown_limit_is_learned_from_the_first_429(
    make_server: MakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server: LocalServer = make_server(
        dialect="anthropic",
        clock=ManualClock(start=time.time()),
        timing=FAST,
        anthropic_queue_limit=LIMIT,
    )
    monkeypatch.setenv(KEY_ENV, API_KEY)
    profile = Profile("claude", provider="anthropic", base_url=server.url, api_key_env=KEY_ENV)
    registry = Registry(durable=False)
    client = AnthropicBatchClient(profile, max_retries=0)
    journal = AnthropicJournal(registry, client, profile)
    jobs = enqueue_file(journal, write_job(tmp_path), part_requests=PER_PART)
    assert len(jobs) == PARTS

    first = await run_queue_pass(registry, client, profile)
    assert len(first.sent) == 3 and len(first.refused) == 1  # the 4th met a 429
    assert first.learned == [(MODEL, 4 * PER_PART - 1)]
    refused = first.refused[0]
    assert (registry.get(refused).submission or {})["state"] == "queued"
    (lane,) = queue_view(registry, _config()).lanes
    waits = {w.job_id: w.reason for w in lane.waiting}
    assert "in flight (learned)" in waits[refused]

    refusals = 1
    for _ in range(400):
        server.advance(1)
        report = await run_queue_pass(registry, client, profile)
        refusals += len(report.refused)
        if report.done:
            break
    await client.close()
    assert report.done and not report.failed and not report.problems
    assert refusals == 1  # within the learned limit the server never refused again
    learned = LimitBook(queue_dir(registry)).learned("claude", MODEL)
    assert learned is not None and LIMIT <= learned.tokens < LIMIT + PER_PART
    (group,) = groups_of(registry.load().values()).values()
    assert group.status == "completed" and group.attempts == PARTS  # refused ≠ sent
    assert registry.get(refused).batch_id is not None
    with sdk_for(server) as sdk:
        assert len(all_batches(sdk)) == PARTS
        assert peak_processing(sdk) <= LIMIT
        assert joined_ids(sdk) == Counter({line["custom_id"]: 1 for line in job_lines()})


def _config() -> Any:
    from tui.core.config import Config

    return Config()


async def test_a_part_refused_with_retry_after_waits_and_holds_the_parts_after_it(
    make_server: MakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server: LocalServer = make_server(
        dialect="anthropic", time_scale=1, timing=FAST, anthropic_queue_limit=PER_PART
    )
    monkeypatch.setenv(KEY_ENV, API_KEY)
    profile = Profile("claude", provider="anthropic", base_url=server.url, api_key_env=KEY_ENV)
    registry = Registry(durable=False)
    client = AnthropicBatchClient(profile, max_retries=0)
    source = tmp_path / "three.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in job_lines()[: 3 * PER_PART]))
    enqueue_file(AnthropicJournal(registry, client, profile), source, part_requests=PER_PART)
    first = await run_queue_pass(registry, client, profile)
    again = await run_queue_pass(registry, client, profile)
    await client.close()
    assert len(first.sent) == 1 and len(first.refused) == 1
    assert again.sent == [] and again.refused == []  # the refused part waits its retry-after
    (part,) = [
        p
        for g in groups_of(registry.load().values()).values()
        for p in g.latest.values()
        if p.job.job_id == first.refused[0]
    ]
    assert part.held_until(time.time()) is not None  # FAST: the first batch ends in 3 s
    (lane,) = queue_view(registry, _config()).lanes
    assert "429" in lane.waiting[0].reason and "after part 2" in lane.waiting[1].reason


def test_retry_queue_puts_what_failed_in_the_queue_linked_to_its_parent(
    make_server: MakeServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = make_server(dialect="anthropic", time_scale=100_000, anthropic_queue_limit=LIMIT)
    claude_profile(server, monkeypatch)
    sent = run(capsys, "submit", str(requests_file(tmp_path, 4, fail=(1, 3))), "--json")
    assert sent.code == 0, sent.err
    (parent,) = [row["batch_id"] for row in json.loads(sent.out)["batches"]]
    assert run(capsys, "watch", parent, *CLI_FAST).code == 1  # two requests failed
    ran = run(capsys, "retry", parent, "--outcome", "failed", "--queue", "--json")
    assert ran.code == 0, ran.err
    (record,) = ran.json_lines()
    assert record["batch_id"] is None and len(record["queued"]) == 1
    assert record["custom_ids"] == ["req-1", "req-3"]
    done = run(capsys, "queue", "run", "--until-done", "--interval", "10ms", "--timeout", "60")
    assert done.code == 0, done.err
    (part,) = [Registry().get(job) for job in record["queued"]]
    assert part is not None and part.batch_id is not None and part.batch_id != parent
    assert (part.submission or {})["queue"]["retry_of_batch"] == parent
    with sdk_for(server) as sdk:
        ids = [r.custom_id for r in sdk.messages.batches.results(part.batch_id)]
    assert ids == ["req-1", "req-3"]


def test_a_bad_line_is_named_and_nothing_is_queued(
    make_server: MakeServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = make_server(dialect="anthropic", clock=ManualClock(start=time.time()))
    monkeypatch.setenv(KEY_ENV, API_KEY)
    claude_config(server, None)
    lines = job_lines()[:4]
    del lines[2]["params"]["max_tokens"]
    source = tmp_path / "bad.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    ran = run(capsys, "submit", str(source), "--queue", "--part-requests", "2")
    assert ran.code == 1
    assert f"{source}:3: params.max_tokens: required by Anthropic" in ran.err
    assert Registry().load() == {}  # nothing queued
    ran = run(capsys, "submit", str(source), "--part-requests", "2")
    assert ran.code == 2 and "--part-requests goes with --queue" in ran.err
