"""The batch lifecycle on a pinned clock: every intermediate state is exact.

The ``manual_server`` runs on a ManualClock with the conftest's FAST timing
(validation 2 s, 0.5 s a line, finalizing 2 s, cancelling 2 s, all simulated), and
``server.advance(seconds)`` moves time and settles every batch before returning.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.api.conftest import chat_line, chat_lines, read_lines, submit, upload
from tui.localapi.clock import Timing
from tui.localapi.server import LocalServer


def test_steps_happen_at_their_simulated_times(
    manual_server: LocalServer, manual_client: openai.OpenAI
) -> None:
    start = manual_server.clock()
    batch = submit(manual_client, chat_lines(4))
    assert batch.status == "validating" and batch.created_at == int(start)
    assert batch.expires_at == int(start) + 86_400
    manual_server.advance(1.9)
    assert manual_client.batches.retrieve(batch.id).status == "validating"
    manual_server.advance(0.1)
    batch = manual_client.batches.retrieve(batch.id)
    assert batch.status == "in_progress" and batch.in_progress_at == int(start + 2)
    assert batch.model == "gpt-4o-mini"
    assert batch.request_counts and batch.request_counts.total == 4
    seen = []
    for _ in range(4):
        manual_server.advance(0.5)
        counts = manual_client.batches.retrieve(batch.id).request_counts
        assert counts is not None
        seen.append(counts.completed)
    assert seen == [1, 2, 3, 4]
    batch = manual_client.batches.retrieve(batch.id)
    assert batch.status == "finalizing" and batch.finalizing_at == int(start + 4)
    assert batch.output_file_id is None
    manual_server.advance(2)
    batch = manual_client.batches.retrieve(batch.id)
    assert batch.status == "completed" and batch.completed_at == int(start + 6)
    assert batch.output_file_id and batch.error_file_id is None


def test_usage_adds_up_the_lines(manual_server: LocalServer, manual_client: openai.OpenAI) -> None:
    batch = submit(manual_client, chat_lines(6))
    manual_server.advance(2 + 3 * 0.5)
    half = manual_client.batches.retrieve(batch.id).usage
    assert half is not None and half.input_tokens > 0 and half.output_tokens > 0
    manual_server.advance(10)
    done = manual_client.batches.retrieve(batch.id)
    assert done.usage is not None and done.output_file_id
    assert done.usage.input_tokens > half.input_tokens
    lines = read_lines(manual_client, done.output_file_id)
    prompt = sum(x["response"]["body"]["usage"]["prompt_tokens"] for x in lines)
    completion = sum(x["response"]["body"]["usage"]["completion_tokens"] for x in lines)
    assert done.usage.input_tokens == prompt and done.usage.output_tokens == completion
    assert done.usage.total_tokens == prompt + completion
    assert done.usage.input_tokens_details.cached_tokens == 0


def test_outputs_come_shuffled_but_complete(
    manual_server: LocalServer, manual_client: openai.OpenAI
) -> None:
    lines = chat_lines(40, fail_every=5)
    batch = submit(manual_client, lines)
    manual_server.advance(100)
    batch = manual_client.batches.retrieve(batch.id)
    assert batch.status == "completed" and batch.output_file_id and batch.error_file_id
    outputs = read_lines(manual_client, batch.output_file_id)
    errors = read_lines(manual_client, batch.error_file_id)
    assert len(outputs) == 32 and len(errors) == 8
    got = [x["custom_id"] for x in outputs + errors]
    assert sorted(got) == sorted(x["custom_id"] for x in lines)
    assert [x["custom_id"] for x in outputs] != [
        x["custom_id"] for x in lines if "fail" not in json.dumps(x)
    ]
    for line in errors:
        assert line["response"]["status_code"] == 500
        assert set(line["response"]["body"]["error"]) == {"message", "type", "param", "code"}
    assert len({x["id"] for x in outputs + errors}) == 40


def test_validation_failures_name_codes_and_lines(
    manual_server: LocalServer, manual_client: openai.OpenAI
) -> None:
    good = chat_line("ok-1", "hello")
    bad_lines: list[Any] = [
        "{not json",  # 1
        {"method": "POST", "url": "/v1/chat/completions", "body": {"model": "gpt-4o-mini"}},  # 2
        {**chat_line("m", "x"), "method": "GET"},  # 3
        {**chat_line("u", "x"), "url": "/v1/embeddings"},  # 4
        {**chat_line("b", "x"), "body": "text"},  # 5
        {"custom_id": "nm", "method": "POST", "url": "/v1/chat/completions", "body": {}},  # 6
        good,  # 7
        good,  # 8: duplicate custom_id
        chat_line("other", "x", model="gpt-4o"),  # 9: model mismatch
        "",  # 10: a blank line is refused (the same rule as `batchdeck validate`)
        "[1, 2]",  # 11
    ]
    batch = submit(manual_client, bad_lines)
    manual_server.advance(2)
    batch = manual_client.batches.retrieve(batch.id)
    assert batch.status == "failed" and batch.failed_at is not None
    assert batch.errors and batch.errors.data
    found = [(e.code, e.line, e.param) for e in batch.errors.data]
    assert found == [
        ("invalid_json_line", 1, None),
        ("missing_required_parameter", 2, "custom_id"),
        ("invalid_value", 3, "method"),
        ("url_mismatch", 4, "url"),
        ("invalid_value", 5, "body"),
        ("missing_required_parameter", 6, "body.model"),
        ("duplicate_custom_id", 8, "custom_id"),
        ("model_mismatch", 9, "body.model"),
        ("invalid_json_line", 10, None),
        ("invalid_json_line", 11, None),
    ]
    assert all(e.message for e in batch.errors.data)
    assert batch.output_file_id is None and batch.error_file_id is None
    assert batch.request_counts and batch.request_counts.total == 0


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_an_empty_file_fails(
    manual_server: LocalServer, manual_client: openai.OpenAI, content: bytes
) -> None:
    file_id = manual_client.files.create(file=("empty.jsonl", content), purpose="batch").id
    batch = manual_client.batches.create(
        input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    manual_server.advance(2)
    batch = manual_client.batches.retrieve(batch.id)
    assert batch.status == "failed" and batch.errors and batch.errors.data
    assert [(e.code, e.line) for e in batch.errors.data] == [("empty_file", None)]


def test_more_than_50000_requests_fail(
    manual_server: LocalServer, manual_client: openai.OpenAI
) -> None:
    line = '{"custom_id":"%d","method":"POST","url":"/v1/embeddings",'
    line += '"body":{"model":"m","input":"x"}}\n'
    data = "".join(line % i for i in range(50_001)).encode()
    file_id = manual_client.files.create(file=("big.jsonl", data), purpose="batch").id
    batch = manual_client.batches.create(
        input_file_id=file_id, endpoint="/v1/embeddings", completion_window="24h"
    )
    manual_server.advance(2)
    batch = manual_client.batches.retrieve(batch.id)
    assert batch.status == "failed" and batch.errors and batch.errors.data
    assert [e.code for e in batch.errors.data] == ["too_many_tasks", "too_many_embedding_inputs"]


def test_expiry_keeps_partial_results(
    manual_server: LocalServer, manual_client: openai.OpenAI
) -> None:
    manual_server.timing = Timing(validation=2, per_request=4 * 3600)  # 5 fit in 24 h
    batch = submit(manual_client, chat_lines(10, fail_every=3))
    manual_server.advance(86_399)
    assert manual_client.batches.retrieve(batch.id).status == "in_progress"
    manual_server.advance(1)
    batch = manual_client.batches.retrieve(batch.id)
    assert batch.status == "expired" and batch.expired_at == batch.expires_at
    assert batch.request_counts is not None
    done = batch.request_counts.completed + batch.request_counts.failed
    assert done == 5 and batch.request_counts.total == 10
    assert batch.output_file_id and batch.error_file_id
    outputs = read_lines(manual_client, batch.output_file_id)
    errors = read_lines(manual_client, batch.error_file_id)
    expired = [x for x in errors if x["response"] is None]
    assert len(outputs) == batch.request_counts.completed
    assert len(errors) - len(expired) == batch.request_counts.failed
    assert len(expired) == 5
    assert all(x["error"]["code"] == "batch_expired" for x in expired)
    assert len({x["custom_id"] for x in outputs + errors}) == 10


def test_cancel_keeps_partial_results(
    manual_server: LocalServer, manual_client: openai.OpenAI
) -> None:
    batch = submit(manual_client, chat_lines(10))
    manual_server.advance(2 + 3 * 0.5)
    cancelling = manual_client.batches.cancel(batch.id)
    assert cancelling.status == "cancelling" and cancelling.cancelling_at is not None
    assert manual_client.batches.cancel(batch.id).status == "cancelling"  # idempotent
    manual_server.advance(1.9)
    assert manual_client.batches.retrieve(batch.id).status == "cancelling"
    manual_server.advance(0.1)
    batch = manual_client.batches.retrieve(batch.id)
    assert batch.status == "cancelled" and batch.cancelled_at is not None
    assert batch.request_counts and batch.request_counts.completed == 3
    assert batch.output_file_id and batch.error_file_id
    assert len(read_lines(manual_client, batch.output_file_id)) == 3
    errors = read_lines(manual_client, batch.error_file_id)
    assert len(errors) == 7
    assert {x["error"]["code"] for x in errors} == {"batch_cancelled"}
    assert all(x["response"] is None for x in errors)


def test_cancel_while_validating_leaves_no_files(
    manual_server: LocalServer, manual_client: openai.OpenAI
) -> None:
    batch = submit(manual_client, chat_lines(3))
    assert manual_client.batches.cancel(batch.id).status == "cancelling"
    manual_server.advance(10)
    batch = manual_client.batches.retrieve(batch.id)
    assert batch.status == "cancelled" and batch.in_progress_at is None
    assert batch.output_file_id is None and batch.error_file_id is None


def test_cancelling_a_final_batch_is_a_conflict(
    manual_server: LocalServer, manual_client: openai.OpenAI
) -> None:
    batch = submit(manual_client, chat_lines(1))
    manual_server.advance(100)
    with pytest.raises(openai.ConflictError) as caught:
        manual_client.batches.cancel(batch.id)
    assert "completed" in caught.value.message
    with pytest.raises(openai.NotFoundError):
        manual_client.batches.cancel("batch_unknown")


def test_a_batch_where_every_line_failed_is_completed_without_output(
    manual_server: LocalServer, manual_client: openai.OpenAI
) -> None:
    lines = [chat_line(f"r{i}", "hi", model="fail-404") for i in range(4)]
    batch = submit(manual_client, lines)
    manual_server.advance(100)
    batch = manual_client.batches.retrieve(batch.id)
    assert batch.status == "completed"
    assert batch.output_file_id is None and batch.error_file_id
    assert batch.request_counts and batch.request_counts.failed == 4
    errors = read_lines(manual_client, batch.error_file_id)
    assert {x["response"]["status_code"] for x in errors} == {404}
    assert {x["response"]["body"]["error"]["code"] for x in errors} == {"model_not_found"}


def test_status_and_timestamps_never_go_backwards(
    manual_server: LocalServer, manual_client: openai.OpenAI
) -> None:
    order = ["validating", "in_progress", "finalizing", "completed"]
    batch = submit(manual_client, chat_lines(5))
    seen: list[str] = []
    stamps: list[int] = []
    for _ in range(30):
        manual_server.advance(0.25)
        current = manual_client.batches.retrieve(batch.id)
        if not seen or seen[-1] != current.status:
            seen.append(current.status)
        stamps.append(
            max(
                v
                for k, v in current.model_dump().items()
                if k.endswith("_at") and v and k != "expires_at"
            )
        )
    assert seen == order[order.index(seen[0]) :]
    assert seen[-1] == "completed"
    assert stamps == sorted(stamps)


def test_files_expire(manual_server: LocalServer, manual_client: openai.OpenAI) -> None:
    file_id = upload(manual_client, chat_lines(1))
    created = manual_client.files.retrieve(file_id)
    assert created.expires_at == created.created_at + 30 * 86_400
    batch = manual_client.batches.create(
        input_file_id=file_id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        output_expires_after={"anchor": "created_at", "seconds": 7200},
    )
    manual_server.advance(100)
    batch = manual_client.batches.retrieve(batch.id)
    assert batch.output_file_id
    output = manual_client.files.retrieve(batch.output_file_id)
    assert output.purpose == "batch_output" and output.expires_at == output.created_at + 7200
    manual_server.advance(7200)
    with pytest.raises(openai.NotFoundError):
        manual_client.files.retrieve(batch.output_file_id)
    manual_server.advance(30 * 86_400)
    with pytest.raises(openai.NotFoundError):
        manual_client.files.content(file_id)
    assert [f.id for f in manual_client.files.list()] == []


def test_deleting_the_input_file_does_not_break_its_batch(
    manual_server: LocalServer, manual_client: openai.OpenAI
) -> None:
    batch = submit(manual_client, chat_lines(3))
    manual_client.files.delete(batch.input_file_id)
    manual_server.advance(100)
    batch = manual_client.batches.retrieve(batch.id)
    assert batch.status == "completed" and batch.request_counts
    assert batch.request_counts.completed == 3
