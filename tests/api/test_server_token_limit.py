"""The embedded server's enqueued-token limit (``--token-limit MODEL=TOKENS``) and the
``file_404`` fault (a file the API does not show yet right after its upload), seen
through the real ``openai`` SDK."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.api._cli import run
from tests.api.conftest import (
    MakeServer,
    chat_line,
    chat_lines,
    jsonl,
    make_client,
    raw,
    submit,
    upload,
)
from tui.core.tokens import estimate_file
from tui.localapi.clock import ManualClock, Timing
from tui.localapi.faults import Faults
from tui.localapi.server import LocalServer
from tui.localapi.token_limits import parse_token_limit

# Lines take 100 simulated seconds each: a batch holds its tokens until told otherwise.
SLOW = Timing(validation=2.0, per_request=100.0, finalizing=2.0, cancelling=2.0)
MESSAGE = (
    "Enqueued token limit reached for gpt-4o-mini in organization org-batchdeck-local. "
    "Limit: {limit:,} enqueued tokens. Please try again once some in_progress batches "
    "have been completed."
)


def tokens_of(lines: list[dict[str, Any]], tmp_path: Path) -> int:
    """The input tokens the client's estimator gives ``lines``."""
    path = tmp_path / "count.jsonl"
    path.write_bytes(jsonl(lines))
    return estimate_file(path, exact=True).input_tokens


def part(name: str) -> list[dict[str, Any]]:
    """Three requests with their own custom_ids; every part has the same tokens."""
    return chat_lines(3, prefix=name)


@pytest.fixture
def per_part(tmp_path: Path) -> int:
    return tokens_of(part("a"), tmp_path)


def limited(make_server: MakeServer, limit: int, **kwargs: Any) -> LocalServer:
    kwargs.setdefault("clock", ManualClock())
    kwargs.setdefault("timing", SLOW)
    return make_server(token_limits={"gpt-4o-mini": limit}, **kwargs)


def test_a_batch_at_the_limit_runs(make_server: MakeServer, per_part: int) -> None:
    server = limited(make_server, per_part)
    with make_client(server) as client:
        batch = submit(client, part("a"))
        server.advance(2)
        assert client.batches.retrieve(batch.id).status == "in_progress"


def test_a_batch_over_the_limit_fails_like_openai(make_server: MakeServer, per_part: int) -> None:
    server = limited(make_server, per_part - 1)
    with make_client(server) as client:
        batch = submit(client, part("a"))
        server.advance(2)
        failed = client.batches.retrieve(batch.id)
    assert failed.status == "failed" and failed.failed_at is not None
    assert failed.errors is not None and failed.errors.object == "list"
    assert failed.errors.data is not None and len(failed.errors.data) == 1
    error = failed.errors.data[0]
    assert error.code == "token_limit_exceeded"
    assert error.message == MESSAGE.format(limit=per_part - 1)
    assert error.param is None and error.line is None
    assert failed.output_file_id is None and failed.error_file_id is None


def test_batches_add_up_to_the_limit(make_server: MakeServer, per_part: int) -> None:
    server = limited(make_server, 2 * per_part)
    with make_client(server) as client:
        first, second, third = (submit(client, part(name)) for name in "abc")
        other_model = submit(
            client, [chat_line(f"d-{i}", "Hello", model="gpt-4.1") for i in range(3)]
        )
        server.advance(2)
        statuses = [client.batches.retrieve(b.id).status for b in (first, second, third)]
        assert statuses == ["in_progress", "in_progress", "failed"]
        assert server.call(lambda: server.engine.enqueued_tokens("gpt-4o-mini")) == 2 * per_part
        assert client.batches.retrieve(other_model.id).status == "in_progress"  # no limit


def test_a_final_batch_frees_its_tokens(make_server: MakeServer, per_part: int) -> None:
    server = limited(make_server, per_part, timing=Timing(2.0, 1.0, 2.0, 2.0))
    with make_client(server) as client:
        first = submit(client, part("a"))
        server.advance(2)
        waiting = submit(client, part("b"))
        server.advance(2)
        assert client.batches.retrieve(waiting.id).status == "failed"  # the first holds it
        server.advance(10)
        assert client.batches.retrieve(first.id).status == "completed"
        again = submit(client, part("b"))
        server.advance(2)
        assert client.batches.retrieve(again.id).status == "in_progress"
        client.batches.cancel(again.id)
        server.advance(2)
        assert client.batches.retrieve(again.id).status == "cancelled"
        after_cancel = submit(client, part("c"))
        server.advance(2)
        assert client.batches.retrieve(after_cancel.id).status == "in_progress"


def test_a_cancelling_batch_still_holds_its_tokens(make_server: MakeServer, per_part: int) -> None:
    server = limited(make_server, per_part, timing=Timing(2.0, 100.0, 2.0, 50.0))
    with make_client(server) as client:
        first = submit(client, part("a"))
        server.advance(2)
        assert client.batches.cancel(first.id).status == "cancelling"
        second = submit(client, part("b"))
        server.advance(2)
        assert client.batches.retrieve(second.id).status == "failed"


def test_counts_survive_a_restart(make_server: MakeServer, tmp_path: Path, per_part: int) -> None:
    data, clock = tmp_path / "data", ManualClock()
    first = limited(make_server, 2 * per_part, data_dir=data, clock=clock, durable=True)
    with make_client(first) as client:
        held = [submit(client, part(name)).id for name in "ab"]
        first.advance(2)
    first.stop()
    on_disk = [json.loads((data / "batches" / f"{b}.json").read_bytes()) for b in held]
    assert [r["_input_tokens"] for r in on_disk] == [per_part, per_part]
    second = limited(make_server, 2 * per_part, data_dir=data, clock=clock)
    with make_client(second) as client:
        assert [client.batches.retrieve(b).status for b in held] == ["in_progress"] * 2
        assert "_input_tokens" not in client.batches.retrieve(held[0]).model_dump()
        late = submit(client, part("c"))
        second.advance(2)
        assert client.batches.retrieve(late.id).status == "failed"


def test_a_limit_set_on_a_running_server_applies_to_the_next_batch(
    make_server: MakeServer, per_part: int
) -> None:
    server = make_server(clock=ManualClock(), timing=SLOW)
    with make_client(server) as client:
        free = submit(client, part("a"))
        server.advance(2)
        assert client.batches.retrieve(free.id).status == "in_progress"
        server.token_limits["gpt-4o-mini"] = per_part - 1
        capped = submit(client, part("b"))
        server.advance(2)
        assert client.batches.retrieve(capped.id).status == "failed"


def test_bad_token_limits_are_refused(tmp_path: Path) -> None:
    for bad in ({"gpt-4o-mini": 0}, {"gpt-4o-mini": -5}, {"gpt-4o-mini": 1.5}, {"": 10}):
        with pytest.raises(ValueError, match="token limit"):
            LocalServer(tmp_path, token_limits=bad)  # type: ignore[arg-type]
    assert parse_token_limit("gpt-4o-mini=2_000_000") == ("gpt-4o-mini", 2_000_000)
    assert parse_token_limit(" gpt-4o = 90,000 ") == ("gpt-4o", 90_000)
    for spec in ("gpt-4o-mini", "=5", "gpt-4o-mini=", "gpt-4o-mini=lots", "gpt-4o-mini=0"):
        with pytest.raises(ValueError, match=r"MODEL=TOKENS|whole number"):
            parse_token_limit(spec)


def test_serve_takes_token_limits(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: dict[str, Any] = {}

    def fake_serve_main(**kwargs: Any) -> int:
        seen.update(kwargs)
        return 0

    monkeypatch.setattr("tui.localapi.server.serve_main", fake_serve_main)
    data = str(tmp_path / "data")
    ok = run(capsys, "serve", "--data-dir", data, "--token-limit", "gpt-4o-mini=2000000",
             "--token-limit", "gpt-4o=90_000")  # fmt: skip
    assert ok.code == 0 and seen["token_limits"] == {"gpt-4o-mini": 2_000_000, "gpt-4o": 90_000}
    bad = run(capsys, "serve", "--data-dir", data, "--token-limit", "gpt-4o-mini=lots")
    assert bad.code == 2 and "--token-limit" in bad.err and "whole number" in bad.err
    twice = run(capsys, "serve", "--data-dir", data, "--token-limit", "m=5", "--token-limit", "m=6")
    assert twice.code == 2 and "m is given twice" in twice.err


# --- the file_404 fault ----------------------------------------------------------------


def test_a_just_uploaded_file_is_missing_for_the_next_tries(manual_server: LocalServer) -> None:
    with make_client(manual_server, max_retries=0) as client:
        file_id = upload(client, part("a"))
        manual_server.faults.add("file_404", times=2)
        with pytest.raises(openai.NotFoundError) as missing:
            client.files.retrieve(file_id)
        assert missing.value.message.endswith(f"No such File object: {file_id}")
        with pytest.raises(openai.NotFoundError) as refused:
            client.batches.create(
                input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
            )
        assert refused.value.body == {
            "message": f"No such File object: {file_id}",
            "type": "invalid_request_error",
            "param": "input_file_id",
            "code": None,
        }
        assert client.files.retrieve(file_id).id == file_id  # the third try sees it
        batch = client.batches.create(
            input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
        )
    assert batch.status == "validating"
    assert [kind for kind, _, _ in manual_server.faults.fired] == ["file_404", "file_404"]
    assert [method for _, method, _ in manual_server.faults.fired] == ["GET", "POST"]


def test_file_404_from_the_command_line_fires_at_random() -> None:
    plan = Faults(seed=1)
    plan.add_spec("file_404:0.5")
    hidden = [plan.file_missing("file-x", "GET", "/v1/files/file-x") for _ in range(200)]
    assert 60 < sum(hidden) < 140
    assert plan.pick("GET", "/v1/files/file-x") == (0.0, None)  # not a transport fault


def test_the_file_404_fault_leaves_other_requests_alone(manual_server: LocalServer) -> None:
    with make_client(manual_server, max_retries=0) as client:
        manual_server.faults.add("file_404", times=1)
        file_id = upload(client, part("a"))  # an upload is not a lookup
        assert [f.id for f in client.files.list()] == [file_id]
        assert client.files.content(file_id).content == jsonl(part("a"))
        code, _, body = raw(manual_server.url, "GET", f"/v1/files/{file_id}")
    assert code == 404 and body["error"]["message"] == f"No such File object: {file_id}"
    assert manual_server.faults.active == []
