"""AnthropicBatchClient against the embedded server's Message Batches API (real
``anthropic`` SDK over loopback, a ManualClock): the batches come back as the same
core models the screens use, errors as tui.core.errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import API_KEY, MakeServer
from tui.core import errors
from tui.core.anthropic_client import AnthropicBatchClient, NoFilesError
from tui.core.config import Profile
from tui.localapi.clock import ManualClock
from tui.localapi.server import LocalServer

KEY_ENV = "BATCHDECK_TEST_ANTHROPIC_KEY"


def requests(count: int, fail: frozenset[int] = frozenset()) -> list[dict[str, Any]]:
    return [
        {
            "custom_id": f"r{i}",
            "params": {
                "model": "claude-haiku-4-5",
                "max_tokens": 32,
                "messages": [
                    {"role": "user", "content": f"q{i}" + (" [fail:500]" if i in fail else "")}
                ],
            },
        }
        for i in range(count)
    ]


@pytest.fixture
def aserver(make_server: MakeServer) -> LocalServer:
    return make_server(clock=ManualClock(), dialect="anthropic")


def client_for(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, key: str = API_KEY
) -> AnthropicBatchClient:
    monkeypatch.setenv(KEY_ENV, key)
    profile = Profile("claude", base_url=server.url, api_key_env=KEY_ENV)
    return AnthropicBatchClient(profile, max_retries=0)


@pytest.fixture
async def ac(
    aserver: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[AnthropicBatchClient]:
    client = client_for(aserver, monkeypatch)
    await client.prepare()
    yield client
    await client.close()


async def test_a_batch_maps_onto_the_core_model(
    aserver: LocalServer, ac: AnthropicBatchClient, tmp_path: Path
) -> None:
    made = await ac.create_message_batch(requests(4, fail={2}))
    assert made.status == "in_progress" and made.endpoint == "/v1/messages"
    assert made.request_counts.total == 4 and made.request_counts.done == 0
    assert made.expires_at == made.created_at + 24 * 3600
    aserver.advance(10)
    done = await ac.retrieve_batch(made.id)
    assert done.status == "completed" and done.is_final
    assert (done.request_counts.completed, done.request_counts.failed) == (3, 1)
    assert done.completed_at is not None and done.completed_at >= done.created_at
    target = await ac.download_results(made.id, tmp_path / "results.jsonl")
    lines = [json.loads(x) for x in target.read_text().splitlines()]
    kinds = {line["custom_id"]: line["result"]["type"] for line in lines}
    assert kinds == {"r0": "succeeded", "r1": "succeeded", "r2": "errored", "r3": "succeeded"}
    assert await ac.delete_batch(made.id)
    with pytest.raises(errors.NotFoundError):
        await ac.retrieve_batch(made.id)


async def test_cancel_and_list(aserver: LocalServer, ac: AnthropicBatchClient) -> None:
    ids = []
    for _ in range(3):
        ids.append((await ac.create_message_batch(requests(20))).id)
        aserver.advance(1)
    cancelling = await ac.cancel_batch(ids[0])
    assert cancelling.status == "cancelling" and cancelling.cancelling_at is not None
    aserver.advance(5)
    cancelled = await ac.retrieve_batch(ids[0])
    assert cancelled.status == "cancelled" and cancelled.cancelled_at is not None
    pages = [page async for page in ac.iter_batch_pages(page_size=2)]
    assert [len(p) for p in pages] == [2, 1]
    assert [b.id for b in await ac.list_batches()] == ids[::-1]
    assert [b.id for b in await ac.list_batches(limit=1)] == [ids[-1]]


async def test_expired_batch(aserver: LocalServer, ac: AnthropicBatchClient) -> None:
    from tui.localapi.clock import Timing

    aserver.timing = Timing(per_request=50_000.0)
    made = await ac.create_message_batch(requests(3))
    aserver.advance(24 * 3600)
    expired = await ac.retrieve_batch(made.id)
    assert expired.status == "expired" and expired.expired_at == made.created_at + 24 * 3600
    assert expired.request_counts.completed == 1


async def test_errors_are_core_errors(
    aserver: LocalServer, ac: AnthropicBatchClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(errors.NotFoundError):
        await ac.retrieve_batch("msgbatch_nope")
    busy = await ac.create_message_batch(requests(1))
    with pytest.raises(errors.RequestError, match="cancel it first"):
        await ac.delete_batch(busy.id)
    with pytest.raises(errors.RequestError, match=r"requests\[0\]\.custom_id"):
        await ac.create_message_batch([{"custom_id": "bad id", "params": {}}])
    with pytest.raises(NoFilesError):
        await ac.create_batch("file-x", "/v1/messages")
    wrong = client_for(aserver, monkeypatch, key="wrong")
    with pytest.raises(errors.AuthError):
        await wrong.list_batches()
    await wrong.close()


def test_no_key_for_anthropic_itself_is_an_auth_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    with pytest.raises(errors.AuthError, match="ANTHROPIC_API_KEY"):
        AnthropicBatchClient(Profile("c", api_key_env="ANTHROPIC_API_KEY"))


async def test_results_join_in_the_results_store_and_price_the_batch(
    aserver: LocalServer, ac: AnthropicBatchClient, tmp_path: Path
) -> None:
    from tui.core.pricing import DEFAULT_PRICES, batch_cost
    from tui.core.registry import Registry
    from tui.core.registry_records import Job
    from tui.core.results import Outcome, ResultIndex, answer_text, fetch_results

    sent = requests(5, fail={1})
    source = tmp_path / "claude.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in sent))
    made = await ac.create_message_batch(sent)
    aserver.advance(1.2)  # two requests ran
    await ac.cancel_batch(made.id)
    aserver.advance(5)
    registry = Registry()
    job = registry.add(Job(batch_id=made.id, input_path=str(source)))
    local = await fetch_results(ac, made.id, registry=registry)
    assert local.batch.status == "cancelled" and local.input is not None
    assert local.batch.model == "claude-haiku-4-5"
    assert local.batch.usage is not None and local.batch.usage.output_tokens > 0
    cost = batch_cost(local.batch, DEFAULT_PRICES)
    assert cost.cost is not None and cost.cost.batch > 0
    index = ResultIndex([local.attempt(0)]).build_all()
    counts = index.counts()
    assert (counts[Outcome.OK], counts[Outcome.HTTP_ERROR]) == (1, 1)
    assert counts[Outcome.NOT_RUN_CANCELLED] == 3
    with index.reader() as reader:
        row = index.row_for("r0")
        assert row is not None
        assert answer_text(reader.result(row)["response"]["body"]) == "Echo: q0"
        assert reader.request(row)["body"]["model"] == "claude-haiku-4-5"
    assert registry.get(job.job_id).downloads["output"] == str(local.output)  # type: ignore[union-attr]
    aserver.stop()  # offline: the local copy opens without the server
    assert await fetch_results(ac, made.id) == local


async def test_it_is_a_batch_client_without_files(ac: AnthropicBatchClient, tmp_path: Path) -> None:
    from tui.core.client import BatchClient

    assert isinstance(ac, BatchClient)
    for call in (
        ac.list_files(),
        ac.retrieve_file("file-x"),
        ac.upload_file(tmp_path / "x.jsonl"),
        ac.download_file("file-x", tmp_path / "y"),
        ac.delete_file("file-x"),
    ):
        with pytest.raises(NoFilesError):
            await call
    with pytest.raises(NoFilesError):
        async for _ in ac.iter_file_pages():
            pass


async def test_once_results_are_fetched_the_batch_has_model_and_usage(
    aserver: LocalServer, ac: AnthropicBatchClient
) -> None:
    from tui.core.results import fetch_results

    made = await ac.create_message_batch(requests(2))
    aserver.advance(10)
    before = await ac.retrieve_batch(made.id)
    assert before.usage is None and before.model is None
    await fetch_results(ac, made.id)
    after = await ac.retrieve_batch(made.id)
    assert after.model == "claude-haiku-4-5"
    assert after.usage is not None and after.usage.input_tokens > 0
