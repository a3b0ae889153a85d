"""BatchClient against the embedded server through the real SDK over loopback."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import API_KEY, chat_lines, jsonl
from tui.core import errors
from tui.core.client import BatchClient
from tui.core.config import Profile
from tui.localapi.server import LocalServer

KEY_ENV = "BATCHDECK_TEST_KEY"


def client_for(base_url: str, monkeypatch: pytest.MonkeyPatch, key: str = API_KEY) -> BatchClient:
    monkeypatch.setenv(KEY_ENV, key)
    return BatchClient(Profile("test", base_url=base_url, api_key_env=KEY_ENV))


@pytest.fixture
async def bc(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[BatchClient]:
    client = client_for(server.base_url, monkeypatch)
    yield client
    await client.close()


def write_input(tmp_path: Path, count: int = 5, **kw: Any) -> Path:
    path = tmp_path / "input.jsonl"
    path.write_bytes(jsonl(chat_lines(count, **kw)))
    return path


async def wait_final(bc: BatchClient, batch_id: str) -> Any:
    for _ in range(2000):
        batch = await bc.retrieve_batch(batch_id)
        if batch.is_final:
            return batch
    raise AssertionError(f"{batch_id} never finished")


async def test_upload_create_watch_download(bc: BatchClient, tmp_path: Path) -> None:
    path = write_input(tmp_path, 12, fail_every=4)
    seen: list[tuple[int, int | None]] = []
    info = await bc.upload_file(path, progress=lambda done, total: seen.append((done, total)))
    assert info.purpose == "batch" and info.bytes == path.stat().st_size
    assert seen and seen[-1] == (path.stat().st_size, path.stat().st_size)

    created = await bc.create_batch(info.id, "/v1/chat/completions", metadata={"k": "v"})
    assert created.status == "validating" and created.metadata == {"k": "v"}
    batch = await wait_final(bc, created.id)
    assert batch.status == "completed"
    assert batch.request_counts.total == 12 and batch.request_counts.failed == 3
    assert batch.usage is not None and batch.usage.input_tokens > 0
    assert batch.output_file_id and batch.error_file_id

    progress: list[tuple[int, int | None]] = []
    out = await bc.download_file(
        batch.output_file_id,
        tmp_path / "out" / "output.jsonl",
        progress=lambda d, t: progress.append((d, t)),
    )
    assert len(out.read_text().splitlines()) == 9
    assert progress[-1][0] == out.stat().st_size
    err = await bc.download_file(batch.error_file_id, tmp_path / "errors.jsonl")
    assert len(err.read_text().splitlines()) == 3
    assert oct(out.stat().st_mode & 0o777) == "0o600"


async def test_cancel(bc: BatchClient, tmp_path: Path, server: LocalServer) -> None:
    server.timing = server.timing.__class__(validation=1e6, per_request=1, finalizing=1)
    info = await bc.upload_file(write_input(tmp_path))
    created = await bc.create_batch(info.id, "/v1/chat/completions")
    cancelling = await bc.cancel_batch(created.id)
    assert cancelling.status in ("cancelling", "cancelled")
    assert (await wait_final(bc, created.id)).status == "cancelled"
    with pytest.raises(errors.RequestError):
        await bc.cancel_batch(created.id)


async def test_pages_arrive_one_at_a_time(
    bc: BatchClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = await bc.upload_file(write_input(tmp_path, 1))
    ids = [(await bc.create_batch(info.id, "/v1/chat/completions")).id for _ in range(253)]
    calls: list[dict[str, Any]] = []
    original = bc._get_list

    async def counting(path: str, query: dict[str, Any]) -> dict[str, Any]:
        calls.append(query)
        return await original(path, query)

    monkeypatch.setattr(bc, "_get_list", counting)
    pages = []
    async for page in bc.iter_batch_pages():
        assert len(calls) == len(pages) + 1  # nothing fetched ahead of the caller
        pages.append(page)
    assert [len(p) for p in pages] == [100, 100, 53]
    listed = [b.id for p in pages for b in p]
    assert listed == list(reversed(ids))  # newest first, none lost or repeated
    assert len(await bc.list_batches(limit=150)) == 150


async def test_files_list_retrieve_delete(bc: BatchClient, tmp_path: Path) -> None:
    path = write_input(tmp_path)
    uploaded = [await bc.upload_file(path, filename=f"f{i}.jsonl") for i in range(3)]
    listed = await bc.list_files(purpose="batch")
    assert [f.id for f in listed] == [f.id for f in reversed(uploaded)]
    assert (await bc.retrieve_file(uploaded[0].id)).filename == "f0.jsonl"
    assert await bc.delete_file(uploaded[0].id) is True
    with pytest.raises(errors.NotFoundError):
        await bc.retrieve_file(uploaded[0].id)


async def test_failed_download_leaves_nothing(
    bc: BatchClient, tmp_path: Path, server: LocalServer
) -> None:
    info = await bc.upload_file(write_input(tmp_path))
    target = tmp_path / "copy.jsonl"
    target.write_text("old content\n")
    server.faults.add("drop", path="/v1/files/*/content", times=None)
    bc._client = bc._client.with_options(max_retries=1)
    with pytest.raises(errors.NetworkError):
        await bc.download_file(info.id, target)
    assert target.read_text() == "old content\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


async def test_faults_survived_by_retries(
    bc: BatchClient, tmp_path: Path, server: LocalServer
) -> None:
    server.faults.add("429", times=2, path="/v1/batches", retry_after=0.01)
    server.faults.add("500", times=1, path="/v1/batches", retry_after=0.01)
    server.faults.add("drop", times=1, path="/v1/batches")
    assert await bc.list_batches() == []  # the fifth attempt (fourth retry) gets through
    assert [kind for kind, _, _ in server.faults.fired] == ["429", "429", "500", "drop"]


@pytest.mark.parametrize(
    ("kind", "error"),
    [("429", errors.RateLimitedError), ("500", errors.ServerError), ("503", errors.ServerError)],
)
async def test_faults_beyond_retries_become_plain_errors(
    bc: BatchClient, server: LocalServer, kind: str, error: type[errors.ApiError]
) -> None:
    server.faults.add(kind, times=None, path="/v1/batches", retry_after=0.01)
    with pytest.raises(error) as info:
        await bc.list_batches()
    assert info.value.kind in ("rate_limited", "server")
    assert "Traceback" not in info.value.message


async def test_error_kinds(
    server: LocalServer, bc: BatchClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(errors.NotFoundError, match="batch_nope"):
        await bc.retrieve_batch("batch_nope")
    with pytest.raises(errors.NotFoundError, match="file_nope"):
        await bc.create_batch("file_nope", "/v1/chat/completions")
    with pytest.raises(errors.RequestError, match=r"'/v1/nope'.*\(param: endpoint\)"):
        await bc.create_batch("file_nope", "/v1/nope")
    wrong = client_for(server.base_url, monkeypatch, key="wrong-key")
    with pytest.raises(errors.AuthError) as info:
        await wrong.list_batches()
    assert "wrong-key" not in info.value.message
    await wrong.close()


async def test_unreachable_server_is_a_network_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = client_for(f"http://127.0.0.1:{port}/v1", monkeypatch)
    client._client = client._client.with_options(max_retries=0)
    with pytest.raises(errors.NetworkError, match="Cannot reach"):
        await client.list_batches()
    await client.close()


async def test_an_unreachable_server_is_named_without_its_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = client_for(f"http://proxyuser:hunter2pw@127.0.0.1:{port}/v1", monkeypatch)
    client._client = client._client.with_options(max_retries=0)
    with pytest.raises(errors.NetworkError) as info:
        await client.list_batches()
    await client.close()
    message = str(info.value)
    assert message.startswith(f"Cannot reach the server at http://127.0.0.1:{port}: ")
    assert "hunter2pw" not in message and "proxyuser" not in message


def test_no_key_for_openai_is_an_auth_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(errors.AuthError, match=KEY_ENV):
        BatchClient(Profile("p", api_key_env=KEY_ENV))


# -- file names on the wire -------------------------------------------------------------

HOSTILE_NAME = "in\x1b]0;owned\x07\x1b[31mput\nnext\u202e.jsonl"


def test_wire_name_is_printable_and_keeps_the_rest() -> None:
    from tui.core.client import wire_name
    from tui.core.text import one_line

    sent = wire_name(HOSTILE_NAME)
    assert one_line(sent) == sent  # nothing left to escape
    assert sent == "in_]0;owned__[31mput_next_.jsonl"
    assert wire_name("bd-x--façade résumé.jsonl") == "bd-x--façade résumé.jsonl"
    assert wire_name("") == "upload.jsonl"


def test_submit_of_a_file_with_an_escape_and_a_newline_in_its_name(
    server: LocalServer,
    client: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    from tests.api._cli import point_at, run
    from tui.core.registry import Registry
    from tui.core.text import one_line

    point_at(server, monkeypatch)
    path = tmp_path / HOSTILE_NAME
    path.write_bytes(jsonl(chat_lines(2)))
    ran = run(capsys, "submit", str(path), "--json")
    assert ran.code == 0, ran.err
    (job,) = Registry().load().values()
    assert job.batch_id and job.submission and job.submission["state"] != "intent"
    assert job.input_path == str(path.resolve()) and path.exists()  # the local name stays
    sent = client.files.retrieve(job.submission["input_file_id"]).filename
    assert one_line(sent) == sent and sent.endswith("--in_]0;owned__[31mput_next_.jsonl")
    assert client.batches.retrieve(job.batch_id).input_file_id == job.submission["input_file_id"]
