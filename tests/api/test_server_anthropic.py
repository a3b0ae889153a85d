"""The embedded server's Anthropic Message Batches API, through the real ``anthropic``
SDK: every answer parses with the SDK's types (``MessageBatch``,
``MessageBatchIndividualResponse``, ``DeletedMessageBatch``, its pages and errors).

Time is a :class:`ManualClock`: ``FAST`` timing (0.5 s a request, 2 s to finish, 2 s to
cancel) makes every state exact.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic.types.messages import MessageBatch, MessageBatchIndividualResponse

from tests.api._cli import serving
from tests.api.conftest import API_KEY, MakeServer
from tui.localapi.clock import ManualClock
from tui.localapi.server import LocalServer


def req(custom_id: str, text: str = "hello", **params: Any) -> dict[str, Any]:
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": text}],
    }
    body.update(params)
    return {"custom_id": custom_id, "params": body}


@pytest.fixture
def aserver(make_server: MakeServer) -> LocalServer:
    return make_server(clock=ManualClock())


@pytest.fixture
def claude(aserver: LocalServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=aserver.url, api_key=API_KEY, max_retries=0) as sdk:
        yield sdk


def results(claude: anthropic.Anthropic, batch_id: str) -> dict[str, Any]:
    lines = list(claude.messages.batches.results(batch_id))
    assert all(isinstance(line, MessageBatchIndividualResponse) for line in lines)
    return {line.custom_id: line.result for line in lines}


def test_a_batch_runs_to_its_end(aserver: LocalServer, claude: anthropic.Anthropic) -> None:
    requests = [req("a", "say hi"), req("b", "boom [fail:529]"), req("c", system="be brief")]
    batch = claude.messages.batches.create(requests=requests)
    assert isinstance(batch, MessageBatch)
    assert batch.id.startswith("msgbatch_")
    assert batch.processing_status == "in_progress"
    assert batch.request_counts.processing == 3
    assert batch.results_url is None
    assert (batch.expires_at - batch.created_at).total_seconds() == 24 * 3600

    aserver.advance(1.0)  # two requests done: still processing, counts not told yet
    mid = claude.messages.batches.retrieve(batch.id)
    assert mid.processing_status == "in_progress" and mid.request_counts.processing == 3

    aserver.advance(3.0)
    done = claude.messages.batches.retrieve(batch.id)
    assert done.processing_status == "ended"
    assert done.ended_at is not None and done.results_url is not None
    counts = done.request_counts
    assert (counts.succeeded, counts.errored, counts.processing) == (2, 1, 0)

    got = results(claude, batch.id)
    assert set(got) == {"a", "b", "c"}
    ok = got["a"]
    assert ok.type == "succeeded"
    assert ok.message.content[0].type == "text"
    assert ok.message.content[0].text == "Echo: say hi"
    assert ok.message.usage.input_tokens > 0 and ok.message.usage.output_tokens > 0
    failed = got["b"]
    assert failed.type == "errored"
    assert failed.error.error.type == "overloaded_error"


def test_cancel_marks_the_unfinished_canceled(
    aserver: LocalServer, claude: anthropic.Anthropic
) -> None:
    batch = claude.messages.batches.create(requests=[req(f"r{i}") for i in range(10)])
    aserver.advance(1.2)  # two requests finished
    canceling = claude.messages.batches.cancel(batch.id)
    assert canceling.processing_status == "canceling"
    assert canceling.cancel_initiated_at is not None
    assert claude.messages.batches.cancel(batch.id).processing_status == "canceling"
    aserver.advance(2.0)
    ended = claude.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended"
    assert (ended.request_counts.succeeded, ended.request_counts.canceled) == (2, 8)
    kinds = [r.type for r in results(claude, batch.id).values()]
    assert kinds.count("canceled") == 8
    with pytest.raises(anthropic.BadRequestError):
        claude.messages.batches.cancel(batch.id)


def test_a_batch_past_its_window_expires(aserver: LocalServer, claude: anthropic.Anthropic) -> None:
    from tui.localapi.clock import Timing

    aserver.timing = Timing(per_request=30_000.0)  # 3 fit in 24 h
    batch = claude.messages.batches.create(requests=[req(f"r{i}") for i in range(5)])
    aserver.advance(24 * 3600)
    ended = claude.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended"
    assert (ended.request_counts.succeeded, ended.request_counts.expired) == (2, 3)
    assert [r.type for r in results(claude, batch.id).values()].count("expired") == 3


def test_delete_only_an_ended_batch(aserver: LocalServer, claude: anthropic.Anthropic) -> None:
    batch = claude.messages.batches.create(requests=[req("only")])
    with pytest.raises(anthropic.BadRequestError, match="cancel it first"):
        claude.messages.batches.delete(batch.id)
    aserver.advance(10)
    deleted = claude.messages.batches.delete(batch.id)
    assert (deleted.id, deleted.type) == (batch.id, "message_batch_deleted")
    with pytest.raises(anthropic.NotFoundError):
        claude.messages.batches.retrieve(batch.id)


def test_list_pages_newest_first(aserver: LocalServer, claude: anthropic.Anthropic) -> None:
    made = []
    for n in range(5):
        made.append(claude.messages.batches.create(requests=[req(f"n{n}")]).id)
        aserver.advance(1)
    newest_first = made[::-1]
    page = claude.messages.batches.list(limit=2)
    assert [b.id for b in page.data] == newest_first[:2]
    assert page.has_more and page.first_id == newest_first[0] and page.last_id == newest_first[1]
    assert [b.id for b in claude.messages.batches.list(limit=2)] == newest_first  # auto-paging
    before = claude.messages.batches.list(before_id=newest_first[3], limit=2)
    assert [b.id for b in before.data] == newest_first[1:3] and before.has_more


@pytest.mark.parametrize(
    ("requests", "says"),
    [
        ([req("a"), req("a")], "requests[1].custom_id"),
        ([req("bad id!")], "requests[0].custom_id"),
        ([req("x" * 65)], "requests[0].custom_id"),
        ([{"custom_id": "m", "params": {"model": "m", "messages": []}}], "max_tokens"),
        ([req("ok"), {"custom_id": "p"}], "requests[1].params"),
        ([], "requests"),
    ],
)
def test_bad_requests_are_refused_naming_the_request(
    claude: anthropic.Anthropic, requests: list[dict[str, Any]], says: str
) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        claude.messages.batches.create(requests=requests)
    assert says in str(caught.value)
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["error"]["type"] == "invalid_request_error"


def test_auth_and_version_headers(aserver: LocalServer) -> None:
    wrong = anthropic.Anthropic(base_url=aserver.url, api_key="wrong", max_retries=0)
    with wrong, pytest.raises(anthropic.AuthenticationError):
        wrong.messages.batches.list()
    url = aserver.url + "/v1/messages/batches"
    answer = httpx2.get(url, headers={"x-api-key": API_KEY})
    assert answer.status_code == 400
    assert "anthropic-version" in answer.json()["error"]["message"]


def test_batches_survive_a_restart(make_server: MakeServer, tmp_path: Any) -> None:
    data = tmp_path / "kept"
    first = make_server(data, clock=ManualClock())
    with anthropic.Anthropic(base_url=first.url, api_key=API_KEY, max_retries=0) as sdk:
        batch_id = sdk.messages.batches.create(requests=[req("k")]).id
    first.stop()
    second = make_server(data, clock=ManualClock())
    second.advance(10)
    with anthropic.Anthropic(base_url=second.url, api_key=API_KEY, max_retries=0) as sdk:
        assert sdk.messages.batches.retrieve(batch_id).processing_status == "ended"
        assert [r.custom_id for r in sdk.messages.batches.results(batch_id)] == ["k"]


def test_the_anthropic_dialect_and_its_401(make_server: MakeServer) -> None:
    server = make_server(clock=ManualClock(), dialect="anthropic")
    with anthropic.Anthropic(base_url=server.url, api_key=API_KEY, max_retries=0) as sdk:
        assert sdk.messages.batches.create(requests=[req("d")]).request_counts.processing == 1
    answer = httpx2.get(
        server.url + "/v1/messages/batches",
        headers={"x-api-key": "nope", "anthropic-version": "2023-06-01"},
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == {
        "type": "authentication_error",
        "message": "invalid x-api-key",
    }


def test_the_demo_seed_shows_every_state(make_server: MakeServer) -> None:
    from tui.localapi.anthropic_demo import seed_anthropic_demo

    server = make_server(clock=ManualClock())
    seeded = seed_anthropic_demo(server, ahead=100.0)
    with anthropic.Anthropic(base_url=server.url, api_key=API_KEY, max_retries=0) as sdk:
        got = {s["id"]: sdk.messages.batches.retrieve(s["id"]) for s in seeded}
        counts = [got[s["id"]].request_counts for s in seeded]
        statuses = [got[s["id"]].processing_status for s in seeded]
        assert statuses == ["ended", "in_progress", "ended", "ended"]
        assert (counts[0].succeeded, counts[0].errored) == (10, 2)
        assert (counts[2].succeeded, counts[2].canceled) == (8, 12)
        assert counts[3].expired == 8
        server.advance(110)
        assert sdk.messages.batches.retrieve(seeded[1]["id"]).processing_status == "ended"


def test_batchdeck_serve_dialect_anthropic(tmp_path: Any) -> None:
    import os

    env = {**os.environ, "BATCHDECK_SERVE_API_KEY": API_KEY}
    args = ["--port", "0", "--data-dir", str(tmp_path / "data"), "--dialect", "anthropic"]
    with serving(*args, "--anthropic-queue-limit", "2", env=env) as served:
        url = served.url.removesuffix("/v1")
        with anthropic.Anthropic(base_url=url, api_key=API_KEY, max_retries=0) as sdk:
            made = sdk.messages.batches.create(requests=[req("s")])
            assert sdk.messages.batches.retrieve(made.id).id == made.id
            with pytest.raises(anthropic.RateLimitError):  # 1 waiting + 2 > the limit of 2
                sdk.messages.batches.create(requests=[req("t"), req("u")])
    assert served.code == 0, served.err
    shown = served.shown
    assert "dialect:    anthropic" in shown and f"ANTHROPIC_BASE_URL={url}" in shown
    assert "Anthropic: 2 requests in the processing queue" in shown
    assert API_KEY not in shown


def test_a_bad_anthropic_queue_limit_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from tui.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["serve", "--anthropic-queue-limit", "0"])
    assert exited.value.code == 2
    assert "'0' is not a whole number above 0" in capsys.readouterr().err
