"""Two servers chained: B runs its batches with ``upstream`` = A's sync endpoints, the
way ``batchdeck serve --upstream URL`` gives a vLLM/Ollama server a Batch API."""

from __future__ import annotations

import socket

from tests.api.conftest import (
    MakeServer,
    chat_line,
    chat_lines,
    make_client,
    read_lines,
    submit,
    wait_for,
)
from tui.localapi import echo
from tui.localapi.clock import ManualClock, Timing

# The front server waits for real HTTP answers, so its simulated day must be long
# enough in real time (86 s here) for a batch not to expire while they come.
FRONT_SCALE = 1000


def test_a_batch_runs_against_an_upstream_server(make_server: MakeServer) -> None:
    upstream = make_server(api_key="upstream-key", time_scale=100_000)
    front = make_server(
        time_scale=FRONT_SCALE,
        upstream=upstream.base_url,
        upstream_api_key="upstream-key",
        upstream_retries=0,  # the 500s asked of echo would be retried (tested below)
    )
    assert front.executor_name == "upstream"
    lines = chat_lines(12, fail_every=4)
    lines.append(chat_line("bad-temp", "hi", temperature=5))
    with make_client(front) as client:
        done = wait_for(client, submit(client, lines).id)
        assert done.status == "completed" and done.output_file_id and done.error_file_id
        assert done.request_counts and (
            done.request_counts.completed,
            done.request_counts.failed,
        ) == (9, 4)
        outputs = {x["custom_id"]: x for x in read_lines(client, done.output_file_id)}
        errors = {x["custom_id"]: x for x in read_lines(client, done.error_file_id)}
    for line in lines:
        status, expected = echo.respond(line["url"], line["body"])
        result = outputs.get(line["custom_id"]) or errors[line["custom_id"]]
        assert result["response"]["status_code"] == status
        body = result["response"]["body"]
        if status == 200:
            assert body["choices"] == expected["choices"] and body["usage"] == expected["usage"]
        else:
            assert body == expected
        assert result["response"]["request_id"].startswith("req_")
    assert done.usage and done.usage.input_tokens == sum(
        x["response"]["body"]["usage"]["prompt_tokens"] for x in outputs.values()
    )


def test_upstream_rate_limits_and_errors_are_retried(make_server: MakeServer) -> None:
    upstream = make_server(api_key=None, time_scale=100_000)
    upstream.faults.add("429", times=3, path="/v1/embeddings", retry_after=0.01)
    upstream.faults.add("500", times=1, path="/v1/embeddings", retry_after=0.01)
    front = make_server(time_scale=FRONT_SCALE, upstream=upstream.base_url)
    lines = [
        {
            "custom_id": f"e{i}",
            "method": "POST",
            "url": "/v1/embeddings",
            "body": {"model": "text-embedding-3-small", "input": f"text {i}", "dimensions": 4},
        }
        for i in range(3)
    ]
    with make_client(front) as client:
        done = wait_for(client, submit(client, lines, endpoint="/v1/embeddings").id)
        assert done.request_counts and done.request_counts.completed == 3
    assert len(upstream.faults.fired) == 4


def test_an_unreachable_upstream_fails_lines_without_a_response(make_server: MakeServer) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    front = make_server(
        time_scale=FRONT_SCALE, upstream=f"http://127.0.0.1:{port}/v1", upstream_retries=0
    )
    with make_client(front) as client:
        done = wait_for(client, submit(client, chat_lines(2)).id)
        assert done.status == "completed" and done.output_file_id is None and done.error_file_id
        errors = read_lines(client, done.error_file_id)
    assert [x["response"] for x in errors] == [None, None]
    assert {x["error"]["code"] for x in errors} == {"upstream_unreachable"}


def test_an_upstream_refusing_the_key_fails_each_line(make_server: MakeServer) -> None:
    upstream = make_server(api_key="right", time_scale=100_000)
    front = make_server(
        time_scale=FRONT_SCALE, upstream=upstream.base_url, upstream_api_key="wrong"
    )
    with make_client(front) as client:
        done = wait_for(client, submit(client, chat_lines(2)).id)
        assert done.error_file_id
        errors = read_lines(client, done.error_file_id)
    assert {x["response"]["status_code"] for x in errors} == {401}
    assert {x["response"]["body"]["error"]["code"] for x in errors} == {"invalid_api_key"}


def test_upstream_batches_cancel(make_server: MakeServer) -> None:
    upstream = make_server(api_key=None, time_scale=100_000)
    upstream.faults.add("latency", delay=0.2, times=None, path="/v1/chat/completions")
    front = make_server(
        time_scale=FRONT_SCALE,
        upstream=upstream.base_url,
        timing=Timing(validation=1, per_request=0, cancelling=1),
    )
    with make_client(front) as client:
        batch = submit(client, chat_lines(20))
        wait_for(client, batch.id, ("in_progress",))
        client.batches.cancel(batch.id)
        done = wait_for(client, batch.id)
        assert done.status == "cancelled" and done.error_file_id
        errors = read_lines(client, done.error_file_id)
        assert done.request_counts
        assert len(errors) == 20 - done.request_counts.completed
        assert {x["error"]["code"] for x in errors} == {"batch_cancelled"}


def test_upstream_batches_expire(make_server: MakeServer) -> None:
    upstream = make_server(api_key=None, time_scale=100_000)
    upstream.faults.add("latency", delay=0.2, times=None, path="/v1/chat/completions")
    front = make_server(
        clock=ManualClock(),
        upstream=upstream.base_url,
        timing=Timing(validation=1, per_request=0),
    )
    with make_client(front) as client:
        batch = submit(client, chat_lines(20))
        front.advance(1)
        assert client.batches.retrieve(batch.id).status == "in_progress"
        front.advance(86_400)
        done = client.batches.retrieve(batch.id)
        assert done.status == "expired" and done.error_file_id and done.request_counts
        expired = [x for x in read_lines(client, done.error_file_id) if x["response"] is None]
        assert len(expired) == 20 - done.request_counts.completed
        assert {x["error"]["code"] for x in expired} == {"batch_expired"}
