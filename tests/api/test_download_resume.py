"""A download that breaks part way resumes with a Range request and ends byte for byte
the file the server holds; a server that ignores Range is followed from the start.

The embedded server's ``cut`` fault sends the full Content-Length but only half the
bytes, then closes the connection; ``no_range`` answers every Range request whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import API_KEY, chat_lines, jsonl
from tui.core import downloads
from tui.core.client import BatchClient
from tui.core.config import Profile
from tui.core.throughput import Pace
from tui.localapi.server import LocalServer

KEY_ENV = "BATCHDECK_TEST_KEY"
CONTENT = "/v1/files/*/content"


@pytest.fixture
async def bc(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[BatchClient]:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    client = BatchClient(Profile("test", base_url=server.base_url, api_key_env=KEY_ENV))
    yield client
    await client.close()


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, str]]:
    """(start asked, status, Content-Range) of every resume request's answer."""
    seen: list[tuple[int, int, str]] = []
    real = downloads._resumes_at

    def spy(response: Any, start: int) -> bool:
        seen.append((start, response.status_code, response.headers.get("content-range", "")))
        return real(response, start)

    monkeypatch.setattr(downloads, "_resumes_at", spy)
    return seen


async def uploaded(bc: BatchClient, tmp_path: Path) -> tuple[str, bytes]:
    data = jsonl(chat_lines(3000))  # about 500 kB
    source = tmp_path / "input.jsonl"
    source.write_bytes(data)
    info = await bc.upload_file(source, purpose="batch")
    return info.id, data


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_a_cut_download_resumes_with_range(
    bc: BatchClient, server: LocalServer, tmp_path: Path, answers: list[tuple[int, int, str]]
) -> None:
    file_id, data = await uploaded(bc, tmp_path)
    server.faults.add("cut", path=CONTENT, method="GET", fraction=0.5)
    seen: list[tuple[int, int | None]] = []
    target = await bc.download_file(
        file_id, tmp_path / "out.jsonl", progress=lambda d, t: seen.append((d, t))
    )
    assert ("cut", "GET", f"/v1/files/{file_id}/content") in server.faults.fired
    half = len(data) // 2
    assert answers == [(half, 206, f"bytes {half}-{len(data) - 1}/{len(data)}")]
    assert sha(target.read_bytes()) == sha(data)
    assert seen[-1] == (len(data), len(data))
    assert list(tmp_path.glob(".*tmp*")) == []  # no temp file left behind


async def test_a_server_ignoring_range_restarts_cleanly(
    bc: BatchClient, server: LocalServer, tmp_path: Path, answers: list[tuple[int, int, str]]
) -> None:
    file_id, data = await uploaded(bc, tmp_path)
    server.faults.add("cut", path=CONTENT, method="GET", fraction=0.5)
    server.faults.add("no_range", path=CONTENT, method="GET", times=None)
    target = await bc.download_file(file_id, tmp_path / "out.jsonl")
    assert [(start, status) for start, status, _ in answers] == [(len(data) // 2, 200)]
    assert target.read_bytes() == data  # the half kept before was dropped, not doubled


async def test_a_break_that_brings_nothing_is_an_error(
    bc: BatchClient, server: LocalServer, tmp_path: Path
) -> None:
    from tui.core import errors

    file_id, _ = await uploaded(bc, tmp_path)
    server.faults.add("cut", path=CONTENT, method="GET", fraction=0.0, times=None)
    with pytest.raises(errors.NetworkError):
        await bc.download_file(file_id, tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()


def test_rate_line_words_rate_and_time_left() -> None:
    pace = Pace()
    assert downloads.rate_line(pace, 0, 1000) == ""
    pace.add(0.0, 0)
    pace.add(2.0, 2_000_000)
    assert downloads.rate_line(pace, 2_000_000, 12_000_000) == "1.0 MB/s, 10s left"
    assert downloads.rate_line(pace, 2_000_000, None) == "1.0 MB/s"


def test_cli_progress_shows_rate_and_time_left_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io
    import sys

    from tui.commands import _shared

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Tty()
    monkeypatch.setattr(sys, "stderr", err)
    ticks = iter([0.0, 2.0])
    monkeypatch.setattr("time.monotonic", lambda: next(ticks))
    show = _shared.stderr_progress("file-1")
    assert show is not None
    show(0, 12_000_000)
    show(2_000_000, 12_000_000)
    assert err.getvalue().endswith("file-1: 2.0 MB / 12.0 MB (16%), 1.0 MB/s, 10s left\x1b[K")


def test_progress_line_adds_a_sample_and_words_it(monkeypatch: pytest.MonkeyPatch) -> None:
    ticks = iter([10.0, 12.0, 13.0])
    monkeypatch.setattr("time.monotonic", lambda: next(ticks))
    pace = Pace()
    assert downloads.progress_line(pace, 0, 12_000_000) == "0%"
    assert downloads.progress_line(pace, 2_000_000, 12_000_000) == "16% (1.0 MB/s, 10s left)"
    assert downloads.progress_line(Pace(), 2_000_000, None) == "2.0 MB"


def test_cli_download_resumes_a_cut_download(
    server: LocalServer,
    client: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    answers: list[tuple[int, int, str]],
) -> None:
    from tests.api._cli import point_at, run
    from tests.api.conftest import submit

    point_at(server, monkeypatch)
    batch = submit(client, chat_lines(2000))
    data = client.files.content(batch.input_file_id).read()
    server.faults.add("cut", path=CONTENT, method="GET", fraction=0.5)
    target = tmp_path / "input.jsonl"
    ran = run(capsys, "download", batch.id, "--file", "input", "-o", str(target))
    assert ran.code == 0, ran.err
    assert [start for start, _, _ in answers] == [len(data) // 2]
    assert sha(target.read_bytes()) == sha(data)
