"""The embedded server's provider dialects, driven by the real SDK clients.

``azure``: ``AzureOpenAI``/``AsyncAzureOpenAI`` with ``azure_endpoint=server.url``, the
``api-key`` header and ``?api-version=``; ``groq``: ``OpenAI`` at ``/openai/v1``;
``quirks``: the odd batch answers a tolerant client must read.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.api._cli import serving
from tests.api.conftest import (
    API_KEY,
    MakeServer,
    chat_line,
    chat_lines,
    jsonl,
    raw,
    read_lines,
    upload,
    wait_for,
)
from tui.cli import main
from tui.localapi.clock import ManualClock
from tui.localapi.dialects import AZURE, GROQ
from tui.localapi.server import LocalServer

API_VERSION = "2024-10-21"
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
DEPLOYMENT = "gpt-4o-mini-batch"


def azure_client(server: LocalServer, **kwargs: Any) -> openai.AzureOpenAI:
    kwargs.setdefault("api_key", API_KEY)
    kwargs.setdefault("api_version", API_VERSION)
    return openai.AzureOpenAI(azure_endpoint=server.url, max_retries=0, timeout=20.0, **kwargs)


def deployment_lines(count: int) -> list[dict]:
    return [chat_line(f"req-{i}", f"line {i}", model=DEPLOYMENT) for i in range(count)]


# --- azure ---------------------------------------------------------------------------


def test_azure_openai_client_uploads_creates_lists_cancels_and_downloads(
    make_server: MakeServer,
) -> None:
    server = make_server(dialect="azure", time_scale=100_000)
    assert server.base_url == server.url + "/openai"
    with azure_client(server) as client:
        file_id = upload(client, deployment_lines(3))
        assert re.fullmatch("file-[0-9a-f]{32}", file_id)
        assert client.files.retrieve(file_id).purpose == "batch"
        assert file_id in [f.id for f in client.files.list()]
        batch = client.batches.create(
            input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        assert re.fullmatch(f"batch_{UUID}", batch.id)
        assert batch.id in [b.id for b in client.batches.list()]
        done = wait_for(client, batch.id)
        assert done.status == "completed" and done.model == DEPLOYMENT
        assert done.request_counts is not None and done.request_counts.completed == 3
        assert done.output_file_id is not None
        answers = read_lines(client, done.output_file_id)
        assert sorted(a["custom_id"] for a in answers) == ["req-0", "req-1", "req-2"]
        assert {a["response"]["body"]["model"] for a in answers} == {DEPLOYMENT}

        server.timing = dataclasses.replace(server.timing, validation=1e9)
        other = client.batches.create(
            input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        assert client.batches.cancel(other.id).status in ("cancelling", "cancelled")
        # the model endpoints sit under /deployments/{deployment}
        chat = client.chat.completions.create(
            model=DEPLOYMENT, messages=[{"role": "user", "content": "hi"}]
        )
        assert chat.model == DEPLOYMENT


def test_async_azure_openai_client_works_too(make_server: MakeServer) -> None:
    server = make_server(dialect="azure", clock=ManualClock())

    async def main() -> tuple[str, str, str]:
        async with openai.AsyncAzureOpenAI(
            azure_endpoint=server.url, api_key=API_KEY, api_version=API_VERSION, max_retries=0
        ) as client:
            uploaded = await client.files.create(
                file=("in.jsonl", jsonl(deployment_lines(2))), purpose="batch"
            )
            batch = await client.batches.create(
                input_file_id=uploaded.id,
                endpoint="/v1/chat/completions",
                completion_window="24h",
            )
            seen = await client.batches.retrieve(batch.id)
            cancelled = await client.batches.cancel(batch.id)
            return batch.id, seen.status, cancelled.status

    batch_id, status, cancelled = asyncio.run(main())
    assert re.fullmatch(f"batch_{UUID}", batch_id)
    assert (status, cancelled) == ("validating", "cancelling")


def test_azure_refuses_a_missing_or_wrong_key_like_azure(make_server: MakeServer) -> None:
    server = make_server(dialect="azure", clock=ManualClock())
    query = f"?api-version={API_VERSION}"
    status, _, body = raw(server.url, "GET", "/openai/batches" + query, key=None)
    assert status == 401 and body["error"]["code"] == "401"
    assert "missing subscription key" in body["error"]["message"]
    wrong = {"api-key": "not-the-key"}
    status, _, body = raw(server.url, "GET", "/openai/batches" + query, key=None, headers=wrong)
    assert status == 401 and "invalid subscription key" in body["error"]["message"]
    # OpenAI's bearer key is not Azure's api-key: a wrong bearer token is refused
    assert raw(server.url, "GET", "/openai/batches" + query, key="nope")[0] == 401
    with (
        azure_client(server, api_key="not-the-key") as client,
        pytest.raises(openai.AuthenticationError),
    ):
        client.batches.list()
    right = {"api-key": API_KEY}
    assert raw(server.url, "GET", "/openai/batches" + query, key=None, headers=right)[0] == 200
    # Authorization: Bearer stands in for an Entra ID token
    with azure_client(server, api_key=None, azure_ad_token=API_KEY) as client:
        assert client.batches.list().data == []


def test_azure_needs_a_known_api_version(make_server: MakeServer) -> None:
    server = make_server(dialect="azure", clock=ManualClock())
    right = {"api-key": API_KEY}
    for query in ("", "?api-version=1999-01-01"):
        status, _, body = raw(server.url, "GET", "/openai/batches" + query, key=None, headers=right)
        assert (status, body) == (404, {"error": {"code": "404", "message": "Resource not found"}})
    with (
        azure_client(server, api_version="1999-01-01") as client,
        pytest.raises(openai.NotFoundError),
    ):
        client.files.list()
    # OpenAI's paths are not served
    status, _, _ = raw(
        server.url, "GET", f"/v1/batches?api-version={API_VERSION}", key=None, headers=right
    )
    assert status == 404


def test_azure_validation_refuses_a_bom_and_counts_up_to_its_own_limit(
    make_server: MakeServer,
) -> None:
    assert AZURE.max_requests == 100_000
    small = dataclasses.replace(AZURE, max_requests=3)  # the same plumbing, a cheap file
    server = make_server(dialect=small, clock=ManualClock())
    assert isinstance(server.clock, ManualClock)
    with azure_client(server) as client:
        bom_file = client.files.create(
            file=("bom.jsonl", b"\xef\xbb\xbf" + jsonl(deployment_lines(1))), purpose="batch"
        )
        too_many = upload(client, deployment_lines(4))
        enough = upload(client, deployment_lines(3))
        ids = [
            client.batches.create(
                input_file_id=f, endpoint="/v1/chat/completions", completion_window="24h"
            ).id
            for f in (bom_file.id, too_many, enough)
        ]
        server.advance(10)
        bom, over, ok = (client.batches.retrieve(i) for i in ids)
    assert bom.status == "failed" and bom.errors is not None and bom.errors.data
    assert (bom.errors.data[0].code, bom.errors.data[0].line) == ("invalid_json_line", 1)
    assert over.status == "failed" and over.errors is not None and over.errors.data
    assert over.errors.data[0].code == "too_many_tasks"
    assert ok.status != "failed"


# --- groq ----------------------------------------------------------------------------


def groq_client(server: LocalServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=API_KEY, max_retries=0, timeout=20.0)


def test_groq_serves_chat_batches_under_openai_v1(make_server: MakeServer) -> None:
    server = make_server(dialect="groq", time_scale=100_000)
    assert server.base_url == server.url + "/openai/v1"
    with groq_client(server) as client:
        file_id = upload(client, chat_lines(2))
        assert client.files.retrieve(file_id).id == file_id
        batch = client.batches.create(
            input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        assert batch.id in [b.id for b in client.batches.list()]
        done = wait_for(client, batch.id)
        assert done.status == "completed" and done.output_file_id is not None
        assert len(read_lines(client, done.output_file_id)) == 2
        server.timing = dataclasses.replace(server.timing, validation=1e9)
        other = client.batches.create(
            input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        assert client.batches.cancel(other.id).status in ("cancelling", "cancelled")
        with pytest.raises(openai.BadRequestError, match="not supported for batch"):
            client.batches.create(
                input_file_id=file_id, endpoint="/v1/embeddings", completion_window="24h"
            )
        chat = client.chat.completions.create(
            model="llama-3.1-8b-instant", messages=[{"role": "user", "content": "hi"}]
        )
        assert chat.model == "llama-3.1-8b-instant"
    assert raw(server.url, "GET", "/v1/batches")[0] == 404


def test_groq_windows_run_from_24h_to_7d(make_server: MakeServer) -> None:
    server = make_server(dialect="groq", clock=ManualClock())
    with groq_client(server) as client:
        file_id = upload(client, chat_lines(1))
        for window, hours in (("24h", 24), ("48h", 48), ("7d", 168), ("168h", 168)):
            batch = client.batches.create(
                input_file_id=file_id,
                endpoint="/v1/chat/completions",
                completion_window=window,  # type: ignore[arg-type]
            )
            assert batch.completion_window == window
            assert batch.expires_at == batch.created_at + hours * 3600
        for window in ("23h", "8d", "169h", "1w", "24", ""):
            with pytest.raises(openai.BadRequestError):
                client.batches.create(
                    input_file_id=file_id,
                    endpoint="/v1/chat/completions",
                    completion_window=window,  # type: ignore[arg-type]
                )


def test_a_groq_batch_expires_at_the_end_of_its_own_window(make_server: MakeServer) -> None:
    server = make_server(dialect="groq", clock=ManualClock())
    server.timing = dataclasses.replace(server.timing, validation=30 * 3600)
    with groq_client(server) as client:
        file_id = upload(client, chat_lines(1))
        short, long = (
            client.batches.create(
                input_file_id=file_id,
                endpoint="/v1/chat/completions",
                completion_window=w,  # type: ignore[arg-type]
            ).id
            for w in ("24h", "48h")
        )
        server.advance(25 * 3600)
        assert client.batches.retrieve(short).status == "expired"
        assert client.batches.retrieve(long).status == "validating"


def test_groq_files_over_its_limit_fail_validation(make_server: MakeServer) -> None:
    assert GROQ.max_bytes == 100_000_000
    server = make_server(dialect=dataclasses.replace(GROQ, max_bytes=300), clock=ManualClock())
    with groq_client(server) as client:
        big = upload(client, chat_lines(4))
        batch = client.batches.create(
            input_file_id=big, endpoint="/v1/chat/completions", completion_window="24h"
        )
        server.advance(10)
        failed = client.batches.retrieve(batch.id)
    assert failed.status == "failed" and failed.errors is not None and failed.errors.data
    assert failed.errors.data[0].code == "file_too_large"


# --- quirks --------------------------------------------------------------------------


def iso_seconds(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z").timestamp())


def test_quirks_shape_batch_answers_as_documented(make_server: MakeServer) -> None:
    server = make_server(quirks=True, clock=ManualClock())
    base = server.base_url
    with openai.OpenAI(base_url=base, api_key=API_KEY, max_retries=0) as client:
        file_id = upload(client, chat_lines(2))
        created = client.batches.create(
            input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
        )
    assert created.status == "queued"  # the SDK reads it (no crash), as it is
    _, _, first = raw(base, "GET", f"/batches/{created.id}")
    assert first["status"] == "queued" and first["request_counts"] is None
    assert isinstance(first["created_at"], str) and isinstance(first["expires_at"], str)
    assert iso_seconds(first["expires_at"]) - iso_seconds(first["created_at"]) == 24 * 3600
    assert first["in_progress_at"] is None
    assert first["provider_note"] and isinstance(first["quirk_details"], dict)

    server.advance(server.timing.validation * 0.6)
    assert raw(base, "GET", f"/batches/{created.id}")[2]["status"] == "VALIDATING"
    server.advance(server.timing.validation)
    _, _, running = raw(base, "GET", f"/batches/{created.id}")
    assert running["status"] in ("IN_PROGRESS", "FINALIZING", "COMPLETED")
    assert running["request_counts"]["total"] == 2
    assert isinstance(running["in_progress_at"], str)

    server.advance(3600)
    _, _, listed = raw(base, "GET", "/batches")
    (entry,) = listed["data"]
    assert entry["status"] == "COMPLETED" and "request_counts" not in entry
    assert isinstance(entry["completed_at"], str) and "quirk_details" in entry
    # files and errors keep OpenAI's shape
    _, _, meta = raw(base, "GET", f"/files/{file_id}")
    assert isinstance(meta["created_at"], int)


def test_quirks_and_a_dialect_combine(make_server: MakeServer) -> None:
    server = make_server(dialect="azure", quirks=True, clock=ManualClock())
    with azure_client(server) as client:
        file_id = upload(client, deployment_lines(1))
        batch = client.batches.create(
            input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        assert batch.status == "queued" and isinstance(batch.created_at, str)


# --- batchdeck serve ------------------------------------------------------------------


def test_batchdeck_serve_speaks_the_dialect_it_is_given(tmp_path: Path) -> None:
    env = {**os.environ, "BATCHDECK_SERVE_API_KEY": API_KEY}
    args = ["--port", "0", "--data-dir", str(tmp_path / "data"), "--dialect", "azure", "--quirks"]
    with serving(*args, env=env) as served:
        url = served.url.removesuffix("/openai")
        query = f"?api-version={API_VERSION}"
        key = {"api-key": API_KEY}
        status, _, body = raw(url, "GET", "/openai/batches" + query, key=None, headers=key)
        assert status == 200 and body["object"] == "list"
        assert raw(url, "GET", "/openai/batches", key=None, headers=key)[0] == 404
    assert served.code == 0, served.err
    shown = served.shown
    assert "dialect:    azure with quirks" in shown and "AzureOpenAI(azure_endpoint=" in shown
    assert API_KEY not in shown


def test_batchdeck_serve_refuses_an_unknown_dialect(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve", "--dialect", "bedrock"])
    assert info.value.code == 2
    assert "argument --dialect: invalid choice: 'bedrock'" in capsys.readouterr().err
