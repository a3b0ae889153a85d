"""Hostile input to the embedded server: one bad batch stays that batch's problem, and
text that is not Unicode is refused with a 400 before anything is created.

- A batch input line of 100,000 ``[`` once made ``GET /v1/batches`` answer 500 forever
  (a RecursionError while validating, in every refresh, across restarts).
- A lone surrogate (``"\\ud800"``) in metadata once gave a 500 while the batch half
  existed: listed, running, gone after a restart.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import API_KEY, FAST, chat_lines, make_client, raw, upload
from tests.reliability.conftest import Figures
from tui.localapi.clock import ManualClock
from tui.localapi.server import LocalServer

DEEP = "[" * 100_000
# A request line whose body nests 100,000 deep: an object, so only the depth bound refuses it.
DEEP_REQUEST = (
    '{"custom_id": "deep", "method": "POST", "url": "/v1/chat/completions", "body": ' + DEEP
)
LONE = b'"\\ud800"'  # the JSON text of a string holding a lone surrogate


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def server(data: Path, clock: ManualClock) -> Iterator[LocalServer]:
    with LocalServer(data, api_key=API_KEY, clock=clock, timing=FAST, durable=False) as running:
        yield running


def _restart(server: LocalServer, data: Path, clock: ManualClock) -> LocalServer:
    server.stop()
    return LocalServer(data, api_key=API_KEY, clock=clock, timing=FAST, durable=False)


def _post(server: LocalServer, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    code, _, payload = raw(server.url, "POST", path, body)
    return code, payload


def _form(fields: list[tuple[bytes, bytes, bytes | None]]) -> tuple[bytes, dict[str, str]]:
    """A multipart body of (name, value, filename) parts, bytes as given."""
    body = b""
    for name, value, filename in fields:
        disposition = b'form-data; name="' + name + b'"'
        if filename is not None:
            disposition += b'; filename="' + filename + b'"'
        body += b"--B\r\nContent-Disposition: " + disposition + b"\r\n\r\n" + value + b"\r\n"
    return body + b"--B--\r\n", {"Content-Type": "multipart/form-data; boundary=B"}


def test_a_deep_line_fails_its_batch_only(
    server: LocalServer, data: Path, clock: ManualClock, figures: Figures
) -> None:
    with make_client(server) as client:
        bad_file = upload(client, [DEEP, DEEP_REQUEST, *chat_lines(1)])
        bad = client.batches.create(
            input_file_id=bad_file, endpoint="/v1/chat/completions", completion_window="24h"
        )
        server.advance(100)
        assert [b.id for b in client.batches.list()] == [bad.id]
        failed = client.batches.retrieve(bad.id)
        good = client.batches.create(
            input_file_id=upload(client, chat_lines(2)),
            endpoint="/v1/chat/completions",
            completion_window="24h",
        )
        server.advance(100)
        assert client.batches.retrieve(good.id).status == "completed"
    assert failed.status == "failed" and failed.errors and failed.errors.data
    by_line = {error.line: error.message or "" for error in failed.errors.data}
    assert by_line[1]  # refused with its line number (it is not even a JSON object)
    assert "nested deeper" in by_line[2]
    figures("deep line: batch status", failed.status)
    again = _restart(server, data, clock)
    with again, make_client(again) as client:
        listed = {b.id: b.status for b in client.batches.list()}
        assert listed == {bad.id: "failed", good.id: "completed"}


def test_an_unexpected_error_fails_one_batch_and_spares_the_rest(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever breaks inside one batch's step (here: its work files' index) fails that
    batch with a plain message; listing, retrieval and other batches go on."""
    with make_client(server) as client:
        doomed = client.batches.create(
            input_file_id=upload(client, chat_lines(3)),
            endpoint="/v1/chat/completions",
            completion_window="24h",
        )
        server.advance(2.5)  # in progress: a line done
        run = server.call(lambda: server.engine._runs[doomed.id])
        monkeypatch.setattr(run, "body", lambda ref: 1 / 0)
        server.advance(100)
        spared = client.batches.create(
            input_file_id=upload(client, chat_lines(2)),
            endpoint="/v1/chat/completions",
            completion_window="24h",
        )
        server.advance(100)
        broken = client.batches.retrieve(doomed.id)
        assert broken.status == "failed" and broken.errors and broken.errors.data
        assert "ZeroDivisionError" in (broken.errors.data[0].message or "")
        assert client.batches.retrieve(spared.id).status == "completed"
        assert len(client.batches.list().data) == 2


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/batches", DEEP.encode()),
        ("/v1/batches", b'{"metadata": ' + b'{"a": ' * 200 + b"1" + b"}" * 201),
        ("/v1/chat/completions", b'{"model": "m", "messages": ' + DEEP.encode() + b"}"),
    ],
    ids=["batch body", "batch metadata", "sync body"],
)
def test_a_deep_body_is_a_400(server: LocalServer, path: str, body: bytes) -> None:
    code, payload = _post(server, path, body)
    assert code == 400, payload
    assert "nested deeper than 128 levels" in payload["error"]["message"]
    assert raw(server.url, "GET", "/v1/batches")[0] == 200


def test_deep_multipart_fields_are_a_400(server: LocalServer) -> None:
    for fields in (
        [(b"purpose", DEEP.encode(), None), (b"file", b"{}\n", b"a.jsonl")],
        [
            (b"purpose", b"batch", None),
            (b"expires_after[anchor]", b"created_at", None),
            (b"expires_after[seconds]", DEEP.encode(), None),
            (b"file", b"{}\n", b"a.jsonl"),
        ],
    ):
        body, headers = _form(fields)
        code, _, payload = raw(server.url, "POST", "/v1/files", body, headers=headers)
        assert code == 400, payload
    assert raw(server.url, "GET", "/v1/files")[2]["data"] == []


def _create_body(file_id: str, **fields: bytes) -> bytes:
    """A create-batch JSON body, each field's JSON text as given."""
    parts = {
        "input_file_id": json.dumps(file_id).encode(),
        "endpoint": b'"/v1/chat/completions"',
        "completion_window": b'"24h"',
        **fields,
    }
    return b"{" + b", ".join(json.dumps(k).encode() + b": " + v for k, v in parts.items()) + b"}"


@pytest.mark.parametrize(
    "fields",
    [
        {"metadata": b'{"note": ' + LONE + b"}"},
        {"metadata": b"{" + LONE + b': "x"}'},
        {"endpoint": LONE},
        {"completion_window": LONE},
        {"input_file_id": LONE},
        {"output_expires_after": b'{"anchor": ' + LONE + b', "seconds": 3600}'},
    ],
    ids=["metadata value", "metadata key", "endpoint", "window", "file id", "expires"],
)
def test_a_lone_surrogate_creates_nothing(
    server: LocalServer, data: Path, clock: ManualClock, fields: dict[str, bytes]
) -> None:
    with make_client(server) as client:
        file_id = upload(client, chat_lines(1))
    code, payload = _post(server, "/v1/batches", _create_body(file_id, **fields))
    assert code == 400 and "surrogate" in payload["error"]["message"], payload
    assert raw(server.url, "GET", "/v1/batches")[2]["data"] == []
    again = _restart(server, data, clock)
    with again:
        assert raw(again.url, "GET", "/v1/batches")[2]["data"] == []
        assert not list((data / "batches").iterdir())


@pytest.mark.parametrize(
    "fields",
    [
        [(b"purpose", b"batch", None), (b"file", b"{}\n", b"bad\xff.jsonl")],
        [(b"purpose", b"batch", None), (b"file", b"{}\n", b"bad\xed\xa0\x80.jsonl")],
        [(b"purpose", b"bat\xed\xa0\x80", None), (b"file", b"{}\n", b"a.jsonl")],
        [(b"purpose", b"batch", None), (b"no\xff", b"x", None), (b"file", b"{}\n", b"a")],
    ],
    ids=["filename byte", "filename surrogate", "purpose", "field name"],
)
def test_upload_text_that_is_not_unicode_is_a_400(
    server: LocalServer, fields: list[tuple[bytes, bytes, bytes | None]]
) -> None:
    body, headers = _form(fields)
    code, _, payload = raw(server.url, "POST", "/v1/files", body, headers=headers)
    assert code == 400 and payload["error"]["type"] == "invalid_request_error", payload
    assert raw(server.url, "GET", "/v1/files")[2]["data"] == []
    assert not list((server.data_dir / "files").iterdir())


@pytest.mark.parametrize("value", [b"\xff", b"\xed\xa0\x80"], ids=["byte", "surrogate"])
def test_a_sync_form_that_is_not_unicode_is_a_400(server: LocalServer, value: bytes) -> None:
    body, headers = _form(
        [(b"model", b"gpt-image-1", None), (b"prompt", value, None), (b"image", b"PNG", b"a")]
    )
    code, _, payload = raw(server.url, "POST", "/v1/images/edits", body, headers=headers)
    assert code == 400 and payload["error"]["code"] == "invalid_form", payload


@pytest.mark.parametrize(
    "path",
    [
        "/v1/files?purpose=%ED%A0%80",
        "/v1/files?order=%FF",
        "/v1/batches?after=%ED%A0%80",
        "/v1/batches/batch_%FF",
        "/v1/files/file-%ED%A0%80/content",
    ],
)
def test_urls_that_are_not_utf8_are_a_400(server: LocalServer, path: str) -> None:
    code, _, payload = raw(server.url, "GET", path)
    assert code == 400 and "not UTF-8" in payload["error"]["message"], payload


def test_an_upstream_answer_nested_deep_is_a_failed_line(
    server: LocalServer, tmp_path: Path
) -> None:
    from aiohttp import web

    async def deep(request: web.Request) -> web.Response:
        return web.Response(body=DEEP.encode(), content_type="application/json")

    async def run() -> tuple[int | None, str]:
        from tui.localapi.executors import UpstreamExecutor

        app = web.Application()
        app.router.add_post("/v1/chat/completions", deep)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        executor = UpstreamExecutor(f"http://127.0.0.1:{port}/v1", retries=0)
        try:
            result = await executor.execute("/v1/chat/completions", {}, seed="s", now=0.0)
        finally:
            await executor.close()
            await runner.cleanup()
        message = (result.body or {}).get("error", {}).get("message", "")
        return result.status_code, str(message)

    status, message = server.run(run)
    assert status == 502 and "nested deeper" in message
