"""The Anthropic submission journal: a submit is in the registry before it is sent; a
lost answer or a crash is settled by creation time and request count, and several
candidates are reported ``ambiguous`` rather than guessed."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from tests.api.conftest import API_KEY, MakeServer
from tui.core.anthropic_client import AnthropicBatchClient
from tui.core.anthropic_journal import AmbiguousBatchError, AnthropicJournal
from tui.core.config import Profile
from tui.core.journal import new_token
from tui.core.registry import Job, Registry
from tui.localapi.clock import ManualClock
from tui.localapi.server import LocalServer

KEY_ENV = "BATCHDECK_TEST_ANTHROPIC_KEY"


def lines(count: int, tag: str = "") -> list[dict[str, Any]]:
    return [
        {
            "custom_id": f"{tag}r{i}",
            "params": {
                "model": "claude-haiku-4-5",
                "max_tokens": 16,
                "messages": [{"role": "user", "content": f"hello {i}"}],
            },
        }
        for i in range(count)
    ]


def write(path: Path, requests: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in requests))
    return path


@pytest.fixture
def aserver(make_server: MakeServer) -> LocalServer:
    return make_server(clock=ManualClock(start=time.time()), dialect="anthropic")


@pytest.fixture
def profile(aserver: LocalServer, monkeypatch: pytest.MonkeyPatch) -> Profile:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    return Profile("claude", base_url=aserver.url, api_key_env=KEY_ENV)


@pytest.fixture
async def journal(profile: Profile) -> AsyncIterator[AnthropicJournal]:
    client = AnthropicBatchClient(profile, max_retries=0)
    yield AnthropicJournal(Registry(), client, profile)
    await client.close()


def sdk_for(server: LocalServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key=API_KEY, max_retries=0)


def crashed_intent(journal: AnthropicJournal, path: Path, count: int) -> str:
    """A submit that crashed after writing its intent (the create may have been sent)."""
    token = new_token()
    journal.registry.add(
        Job(
            job_id=token,
            input_path=str(path),
            profile=journal.profile.name,
            base_url=journal.base_url,
            submission={
                "state": "creating",
                "token": token,
                "provider": "anthropic",
                "endpoint": "/v1/messages",
                "requests": count,
                "started_at": int(time.time()),
            },
        )
    )
    return token


async def test_submit_records_the_batch(journal: AnthropicJournal, tmp_path: Path) -> None:
    job = await journal.submit(write(tmp_path / "a.jsonl", lines(3)), "three")
    assert job.batch_id is not None and job.batch_id.startswith("msgbatch_")
    assert job.submission is not None and job.submission["state"] == "created"
    assert job.snapshot is not None and job.snapshot["request_counts"]["total"] == 3
    assert job.description == "three"


async def test_a_bad_file_sends_nothing(journal: AnthropicJournal, tmp_path: Path) -> None:
    bad = lines(2)
    bad[1]["custom_id"] = bad[0]["custom_id"]
    with pytest.raises(Exception, match="duplicate"):
        await journal.submit(write(tmp_path / "bad.jsonl", bad))
    assert journal.registry.load() == {}


async def test_a_lost_answer_finds_the_batch(
    aserver: LocalServer, journal: AnthropicJournal, tmp_path: Path
) -> None:
    aserver.faults.add("drop_after", path="/v1/messages/batches", method="POST")
    job = await journal.submit(write(tmp_path / "a.jsonl", lines(4)))
    with sdk_for(aserver) as sdk:
        made = list(sdk.messages.batches.list())
    assert [b.id for b in made] == [job.batch_id]  # found, not made twice


async def test_reconcile_found_created_and_ambiguous(
    aserver: LocalServer, journal: AnthropicJournal, tmp_path: Path
) -> None:
    with sdk_for(aserver) as sdk:
        # an owned batch of the same size never matches
        owned = await journal.submit(write(tmp_path / "owned.jsonl", lines(2, "o")))
        one = crashed_intent(journal, write(tmp_path / "one.jsonl", lines(2)), 2)
        sent = sdk.messages.batches.create(requests=lines(2))  # its create did arrive
        results = {s.job_id: s for s in await journal.reconcile()}
        assert results[one].outcome == "found" and results[one].batch_id == sent.id
        assert owned.batch_id != sent.id

        none = crashed_intent(journal, write(tmp_path / "none.jsonl", lines(7)), 7)
        results = {s.job_id: s for s in await journal.reconcile()}
        assert results[none].outcome == "created"
        created = journal.registry.get(none)
        assert created is not None and created.batch_id is not None

        two = crashed_intent(journal, write(tmp_path / "two.jsonl", lines(5)), 5)
        first = sdk.messages.batches.create(requests=lines(5, "x")).id
        second = sdk.messages.batches.create(requests=lines(5, "y")).id
        results = {s.job_id: s for s in await journal.reconcile()}
        assert results[two].outcome == "ambiguous"
        assert first in results[two].detail and second in results[two].detail
        still = journal.registry.get(two)
        assert still is not None and still.batch_id is None
        assert still.submission is not None and still.submission["state"] == "creating"
        total = len(list(sdk.messages.batches.list()))
    assert total == 5  # owned, sent, the one re-created, and the two candidates


async def test_a_lost_answer_among_lookalikes_is_not_guessed(
    aserver: LocalServer, journal: AnthropicJournal, tmp_path: Path
) -> None:
    with sdk_for(aserver) as sdk:
        sdk.messages.batches.create(requests=lines(3, "z"))  # someone else's, same size
    aserver.faults.add("drop_after", path="/v1/messages/batches", method="POST")
    with pytest.raises(AmbiguousBatchError) as caught:
        await journal.submit(write(tmp_path / "a.jsonl", lines(3)))
    assert len(caught.value.candidates) == 2


async def test_the_token_journal_leaves_anthropic_submits_alone(
    journal: AnthropicJournal, tmp_path: Path
) -> None:
    from tui.core.anthropic_journal import journal_for
    from tui.core.journal import Journal

    token = crashed_intent(journal, write(tmp_path / "a.jsonl", lines(1)), 1)
    assert isinstance(
        journal_for(journal.registry, journal.client, journal.profile), AnthropicJournal
    )
    openai_journal = Journal(journal.registry, journal.client, journal.profile)
    assert token not in [job.job_id for job in openai_journal.unsettled()]
    assert [job.job_id for job in journal.unsettled()] == [token]


async def test_retry_of_what_failed_is_a_linked_message_batch(
    aserver: LocalServer, journal: AnthropicJournal, tmp_path: Path
) -> None:
    from tui.core.anthropic_journal import submit_retry
    from tui.core.results import DEFAULT_RETRY, ResultIndex, open_attempts, write_retry_file
    from tui.core.results.store import retry_path

    requests = lines(4)
    requests[2]["params"]["messages"][0]["content"] = "boom [fail:500]"
    first = await journal.submit(write(tmp_path / "a.jsonl", requests))
    assert first.batch_id is not None
    aserver.advance(3600)
    opened = await open_attempts(journal.client, first.batch_id, registry=journal.registry)
    index = ResultIndex(opened.attempts).build_all()
    planned = write_retry_file(index, retry_path(first.batch_id), DEFAULT_RETRY)
    assert planned.custom_ids == ("r2",)
    retry = await submit_retry(journal, planned.path, first.batch_id, planned.count)
    assert retry.retry_of == first.batch_id and retry.batch_id != first.batch_id
    sent = json.loads(planned.path.read_text())
    assert sent["custom_id"] == "r2" and sent["params"]["max_tokens"] == 16
    aserver.advance(3600)
    merged = await open_attempts(journal.client, first.batch_id, registry=journal.registry)
    assert len(merged.attempts) == 2
