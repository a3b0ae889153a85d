"""The real ``openai`` SDK end to end over loopback: upload, create, watch, download,
cancel, expire, paginate, validation failures."""

from __future__ import annotations

import openai

from tests.api.conftest import (
    chat_line,
    chat_lines,
    jsonl,
    read_lines,
    submit,
    upload,
    wait_for,
)
from tui.localapi.clock import ManualClock, Timing
from tui.localapi.server import LocalServer


def test_upload_create_watch_and_download(server: LocalServer, client: openai.OpenAI) -> None:
    lines = chat_lines(20, fail_every=5)
    file = client.files.create(file=("tickets.jsonl", jsonl(lines)), purpose="batch")
    assert file.purpose == "batch" and file.status == "processed"
    batch = client.batches.create(
        input_file_id=file.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"description": "nightly summaries"},
    )
    assert batch.status == "validating" and batch.metadata == {"description": "nightly summaries"}
    done = wait_for(client, batch.id)
    assert done.status == "completed"
    assert done.request_counts and (done.request_counts.completed, done.request_counts.failed) == (
        16,
        4,
    )
    assert done.output_file_id and done.error_file_id
    output = client.files.retrieve(done.output_file_id)
    assert output.purpose == "batch_output" and output.filename == f"{done.id}_output.jsonl"
    outputs = read_lines(client, done.output_file_id)
    errors = read_lines(client, done.error_file_id)
    by_id = {x["custom_id"]: x for x in outputs + errors}
    assert set(by_id) == {x["custom_id"] for x in lines}
    for request in lines:
        result = by_id[request["custom_id"]]
        if "[fail:500]" in request["body"]["messages"][0]["content"]:
            assert result["response"]["status_code"] == 500
        else:
            reply = result["response"]["body"]["choices"][0]["message"]["content"]
            assert reply.startswith("Echo: Summarise ticket")
    assert [b.id for b in client.batches.list()] == [done.id]


def test_cancel_through_the_sdk(server: LocalServer, client: openai.OpenAI) -> None:
    server.timing = Timing(validation=1, per_request=2_000, cancelling=1)
    batch = submit(client, chat_lines(50))
    wait_for(client, batch.id, ("in_progress",))
    cancelled = client.batches.cancel(batch.id)
    assert cancelled.status in ("cancelling", "cancelled")
    final = wait_for(client, batch.id)
    assert final.status == "cancelled" and final.request_counts
    done = final.request_counts.completed
    assert done < 50
    assert final.error_file_id
    errors = read_lines(client, final.error_file_id)
    assert len(errors) == 50 - done
    assert {x["error"]["code"] for x in errors} == {"batch_cancelled"}


def test_expire_through_the_sdk(manual_server: LocalServer, manual_client: openai.OpenAI) -> None:
    manual_server.timing = Timing(validation=60, per_request=3 * 3600)
    batch = submit(manual_client, chat_lines(12))
    manual_server.advance(86_400)
    expired = manual_client.batches.retrieve(batch.id)
    assert expired.status == "expired" and expired.request_counts
    assert expired.request_counts.completed == 7  # (86400 - 60) // 10800
    assert expired.output_file_id and expired.error_file_id
    assert len(read_lines(manual_client, expired.output_file_id)) == 7
    unfinished = read_lines(manual_client, expired.error_file_id)
    assert [x["error"]["code"] for x in unfinished] == ["batch_expired"] * 5


def test_list_pages_over_many_batches(
    manual_server: LocalServer, manual_client: openai.OpenAI
) -> None:
    manual_server.timing = Timing(validation=10**6)  # they all stay validating
    file_id = upload(manual_client, chat_lines(1))
    clock = manual_server.clock
    assert isinstance(clock, ManualClock)

    def seed() -> list[str]:  # most through the engine directly, to keep the test quick
        made = []
        for i in range(255):
            if i % 7 == 0:
                clock.advance(1)  # several per second: ties are ordered by creation
            record = manual_server.engine.create_batch(
                input_file_id=file_id,
                endpoint="/v1/chat/completions",
                metadata=None,
                timing=manual_server.timing,
            )
            made.append(record["id"])
        return made

    created = manual_server.call(seed)
    for _ in range(5):
        created.append(
            manual_client.batches.create(
                input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
            ).id
        )
    newest_first = list(reversed(created))
    first = manual_client.batches.list()
    assert len(first.data) == 20 and first.has_more
    assert [b.id for b in first.data] == newest_first[:20]
    pages = list(manual_client.batches.list(limit=100).iter_pages())
    assert [len(p.data) for p in pages] == [100, 100, 60]
    assert [b.id for p in pages for b in p.data] == newest_first
    assert [p.has_more for p in pages] == [True, True, False]
    assert [b.id for b in manual_client.batches.list(limit=7)] == newest_first
    tail = manual_client.batches.list(after=newest_first[249], limit=100)
    assert [b.id for b in tail.data] == newest_first[250:] and not tail.has_more


def test_validation_failures_through_the_sdk(server: LocalServer, client: openai.OpenAI) -> None:
    lines = [
        chat_line("a", "x"),
        chat_line("a", "y"),
        {**chat_line("b", "z"), "url": "/v1/responses"},
    ]
    batch = submit(client, lines)
    failed = wait_for(client, batch.id)
    assert failed.status == "failed" and failed.errors and failed.errors.data
    assert [(e.code, e.line) for e in failed.errors.data] == [
        ("duplicate_custom_id", 2),
        ("url_mismatch", 3),
    ]


def test_every_endpoint_runs_in_a_batch(server: LocalServer, client: openai.OpenAI) -> None:
    from tests.api.test_sdk_endpoints import BATCH_BODIES, RESPONSE_TYPES

    batches = {}
    for endpoint, body in BATCH_BODIES.items():
        lines = [
            {"custom_id": f"{endpoint}-{i}", "method": "POST", "url": endpoint, "body": body}
            for i in range(2)
        ]
        batches[endpoint] = submit(client, lines, endpoint=endpoint).id
    for endpoint, batch_id in batches.items():
        done = wait_for(client, batch_id)
        assert done.status == "completed" and done.output_file_id, (endpoint, done)
        for line in read_lines(client, done.output_file_id):
            RESPONSE_TYPES[endpoint].model_validate(line["response"]["body"])
