"""Fault injection, and the SDK's retries surviving it: 429 with Retry-After, 5xx,
dropped connections, latency; plus the fault plan's own rules."""

from __future__ import annotations

import time

import openai
import pytest

from tests.api.conftest import chat_lines, make_client, submit, upload
from tui.localapi.faults import Faults
from tui.localapi.server import LocalServer


def test_429_with_retry_after_is_survived(server: LocalServer, client: openai.OpenAI) -> None:
    server.faults.add("429", times=2, path="/v1/batches", retry_after=0.1)
    start = time.monotonic()
    page = client.batches.list()
    assert page.data == []
    assert time.monotonic() - start >= 0.2  # the SDK waited as told, twice
    assert server.faults.fired == [("429", "GET", "/v1/batches")] * 2


def test_too_many_429s_reach_the_caller(server: LocalServer) -> None:
    server.faults.add("429", times=3, retry_after=0.01)
    with make_client(server, max_retries=2) as sdk, pytest.raises(openai.RateLimitError) as caught:
        sdk.batches.list()
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.response.headers["retry-after"] == "1"


def test_500_is_survived(server: LocalServer, client: openai.OpenAI) -> None:
    server.faults.add("500", times=1, path="/v1/files", method="POST", retry_after=0.01)
    file_id = upload(client, chat_lines(2))
    assert [f.id for f in client.files.list()] == [file_id]  # the failed attempt left nothing
    server.faults.add("503", times=1, path="/v1/batches/*", retry_after=0.01)
    batch = client.batches.create(
        input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert client.batches.retrieve(batch.id).id == batch.id
    assert [kind for kind, _, _ in server.faults.fired] == ["500", "503"]


def test_500_without_retry_after_backs_off(server: LocalServer, client: openai.OpenAI) -> None:
    server.faults.add("500", times=1, path="/v1/batches")
    assert client.batches.list().data == []


def test_a_dropped_connection_is_survived(server: LocalServer, client: openai.OpenAI) -> None:
    batch = submit(client, chat_lines(1))
    server.faults.add("drop", times=1, path=f"/v1/batches/{batch.id}")
    assert client.batches.retrieve(batch.id).id == batch.id
    assert server.faults.fired == [("drop", "GET", f"/v1/batches/{batch.id}")]
    with make_client(server, max_retries=0) as sdk:
        server.faults.add("drop", times=1)
        with pytest.raises(openai.APIConnectionError):
            sdk.batches.list()


def test_drop_after_applies_the_request_then_drops(
    server: LocalServer, client: openai.OpenAI
) -> None:
    """The client cannot tell whether its create went through: a blind retry makes a
    second batch (so submitters must reconcile, e.g. by a token in the metadata)."""
    file_id = upload(client, chat_lines(1))
    server.faults.add("drop_after", times=1, path="/v1/batches", method="POST")
    client.batches.create(
        input_file_id=file_id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"token": "t-1"},
    )
    batches = client.batches.list().data
    assert len(batches) == 2 and {b.metadata["token"] for b in batches if b.metadata} == {"t-1"}


def test_latency_can_time_a_client_out(server: LocalServer) -> None:
    server.faults.add("latency", delay=0.3, times=1)
    with (
        make_client(server, max_retries=0, timeout=0.05) as sdk,
        pytest.raises(openai.APITimeoutError),
    ):
        sdk.batches.list()
    server.faults.add("latency", delay=0.05, times=1)
    start = time.monotonic()
    with make_client(server) as sdk:
        sdk.batches.list()
    assert time.monotonic() - start >= 0.05


def test_fault_matching_rules() -> None:
    faults = Faults(seed=7)
    latency = faults.add("latency", delay=0.1, times=None, path="/v1/files*")
    faults.add("500", times=1, method="POST")
    rate = faults.add("429", times=1)
    assert faults.pick("GET", "/v1/files/x") == (0.1, rate)
    delay, fault = faults.pick("POST", "/v1/batches")
    assert delay == 0 and fault is not None and fault.kind == "500"
    assert faults.pick("POST", "/v1/batches") == (0, None)
    assert faults.active == [latency]
    faults.clear()
    assert faults.active == [] and faults.fired == []
    with pytest.raises(ValueError):
        faults.add("teapot")
    with pytest.raises(ValueError):
        faults.add("500", probability=2)


def test_random_faults_from_specs_are_reproducible() -> None:
    def pattern(seed: int) -> list[bool]:
        faults = Faults(seed=seed)
        faults.add_spec("500:0.3")
        faults.add_spec("latency:0.5:1.5")
        return [faults.pick("GET", "/v1/batches")[1] is not None for _ in range(200)]

    first = pattern(3)
    assert first == pattern(3)
    assert 30 < sum(first) < 90
    faults = Faults()
    assert faults.add_spec("drop:0.02").kind == "drop"
    assert faults.add_spec("429:0.1").retry_after == 1.0
    assert faults.add_spec("latency:0.2").delay == 0.5
    for bad in ("500", "x:y", "500:0.1:2:3"):
        with pytest.raises(ValueError):
            faults.add_spec(bad)
