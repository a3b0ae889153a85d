"""BatchClient against servers that misbehave in ways the embedded one does not:
a body cut off mid-stream, gzip bodies, login pages and off-schema objects."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from tui.core import errors
from tui.core.client import BatchClient
from tui.core.config import Profile
from tui.core.models import FileInfo

PAYLOAD = b'{"custom_id": "x", "response": null}\n' * 5000


def described(file_id: str, size: int = len(PAYLOAD)) -> FileInfo:
    """The Files API object such a server would give for ``file_id``."""
    return FileInfo(file_id, "out.jsonl", "batch_output", size, 0)


async def cut_short(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Length": str(len(PAYLOAD))})
    await response.prepare(request)
    await response.write(PAYLOAD[:1000])
    assert request.transport is not None
    request.transport.abort()
    return response


async def gzipped(request: web.Request) -> web.Response:
    return web.Response(body=gzip.compress(PAYLOAD), headers={"Content-Encoding": "gzip"})


async def login_page(request: web.Request) -> web.Response:
    return web.Response(text="<html>please log in</html>", content_type="text/html")


async def iso_dates(request: web.Request) -> web.Response:
    batch = {"id": "batch-1", "status": "completed", "created_at": "2024-01-01T00:00:00Z"}
    return web.json_response({"object": "list", "data": [batch], "has_more": False})


async def null_id(request: web.Request) -> web.Response:
    return web.json_response({"id": None, "status": "completed"})


@pytest.fixture
async def odd_server(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[BatchClient]:
    app = web.Application()
    app.router.add_get("/v1/files/short/content", cut_short)
    app.router.add_get("/v1/files/gz/content", gzipped)
    app.router.add_get("/v1/batches", iso_dates)
    app.router.add_get("/v1/batches/login", login_page)
    app.router.add_get("/v1/batches/nullid", null_id)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    monkeypatch.setenv("ODD_KEY", "k")
    client = BatchClient(
        Profile("odd", base_url=f"http://127.0.0.1:{port}/v1", api_key_env="ODD_KEY"),
        max_retries=0,
    )
    yield client
    await client.close()
    await runner.cleanup()


async def test_body_cut_mid_stream_is_a_network_error(
    odd_server: BatchClient, tmp_path: Path
) -> None:
    with pytest.raises(errors.NetworkError):
        await odd_server.download_file("short", tmp_path / "out.jsonl", info=described("short"))
    assert list(tmp_path.iterdir()) == []  # no partial file, no temp file


async def test_gzip_body_downloads_whole(odd_server: BatchClient, tmp_path: Path) -> None:
    seen: list[tuple[int, int | None]] = []
    path = await odd_server.download_file(
        "gz",
        tmp_path / "out.jsonl",
        progress=lambda d, t: seen.append((d, t)),
        info=described("gz"),
    )
    assert path.read_bytes() == PAYLOAD
    assert seen[-1][0] == seen[-1][1]  # progress ends at 100 %


async def test_size_mismatch_with_file_object_is_refused(
    odd_server: BatchClient, tmp_path: Path
) -> None:
    with pytest.raises(
        errors.ServerError, match="received 185000 bytes, but the Files API reports 7"
    ):
        await odd_server.download_file("gz", tmp_path / "out.jsonl", info=described("gz", 7))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("call", "message"),
    [("login", "not JSON"), ("nullid", "not a valid API object")],
)
async def test_off_schema_answers_are_server_errors(
    odd_server: BatchClient, call: str, message: str
) -> None:
    with pytest.raises(errors.ServerError, match=message):
        await odd_server.retrieve_batch(call)


async def test_iso_dates_are_read_as_seconds(odd_server: BatchClient) -> None:
    """Services that send ISO 8601 timestamps are read, not refused (issue 13)."""
    (batch,) = await odd_server.list_batches()
    assert batch.created_at == 1704067200
    assert batch.is_final
