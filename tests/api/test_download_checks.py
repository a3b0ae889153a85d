"""Every download is checked against the Files API before it is published or exits 0:
the size the API reports, and for batch output/error files one JSON object per line.

The embedded server cannot garble a body, so a small stub on 127.0.0.1 (a thread,
the real SDK against it) answers ``GET /v1/files/{id}`` with a size and
``/content`` with something else: 28 bytes of a malformed answer for a 2,135-byte
file, or a file of the right size with a line that is not JSON.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.api._cli import run
from tui.core import errors
from tui.core.client import BatchClient, DownloadCheckError
from tui.core.config import Profile
from tui.core.registry import Job, Registry

Capsys = pytest.CaptureFixture[str]
GOOD = b"".join(
    json.dumps({"id": f"batch_req_{n}", "custom_id": f"r{n}", "response": None}).encode() + b"\n"
    for n in range(40)
)
GARBLED = b'{"error": {"message": "garbl'  # 28 bytes of a malformed answer
BAD_LINE = GOOD[:60].replace(b"\n", b"\n<html>", 1)[:60] + GOOD[60:]
# (path id, purpose, size the Files API reports, content served)
FILES = {
    "file-short": ("batch_output", 2135, GARBLED),
    "file-badline": ("batch_output", len(BAD_LINE), BAD_LINE),
    "file-good": ("batch_output", len(GOOD), GOOD),
    "file-input": ("batch", 11, b"not json!!\n"),  # input files are not line-checked
}
BATCH = {
    "id": "batch_garbled",
    "object": "batch",
    "endpoint": "/v1/chat/completions",
    "input_file_id": "file-input",
    "completion_window": "24h",
    "status": "completed",
    "output_file_id": "file-short",
    "error_file_id": "file-badline",
    "created_at": 1_700_000_000,
    "request_counts": {"total": 40, "completed": 40, "failed": 0},
}
BATCHES = {
    "batch_garbled": BATCH,
    "batch_badline": {**BATCH, "id": "batch_badline", "output_file_id": "file-good"},
}


class Garbling(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        parts = self.path.split("?")[0].strip("/").split("/")  # v1, files, id[, content]
        if parts[1:2] == ["batches"] and parts[2:] and parts[2] in BATCHES:
            return self._send(json.dumps(BATCHES[parts[2]]).encode(), "application/json")
        if len(parts) >= 3 and parts[1] == "files" and parts[2] in FILES:
            purpose, size, content = FILES[parts[2]]
            if parts[3:] == ["content"]:
                return self._send(content, "application/octet-stream")
            if not parts[3:]:
                info = {
                    "id": parts[2],
                    "object": "file",
                    "bytes": size,
                    "created_at": 1_700_000_000,
                    "filename": f"{parts[2]}.jsonl",
                    "purpose": purpose,
                }
                return self._send(json.dumps(info).encode(), "application/json")
        error = {"error": {"message": "no such thing", "type": "invalid_request_error"}}
        self._send(json.dumps(error).encode(), "application/json", status=404)

    def _send(self, body: bytes, kind: str, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))  # the wire agrees with the body
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The stub's base URL; the default profile points at it (for the CLI)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Garbling)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    yield base_url
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
async def bc(stub: str) -> AsyncIterator[BatchClient]:
    client = BatchClient(Profile("stub", base_url=stub, api_key_env="OPENAI_API_KEY"))
    yield client
    await client.close()


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# -- the client method ------------------------------------------------------------------


async def test_a_short_garbled_answer_is_refused_and_leaves_nothing(
    bc: BatchClient, tmp_path: Path
) -> None:
    target = tmp_path / "out" / "output.jsonl"
    with pytest.raises(DownloadCheckError) as caught:
        await bc.download_file("file-short", target)
    assert (caught.value.expected, caught.value.received) == (2135, 28)
    assert "file-short" in str(caught.value) and "2135" in str(caught.value)
    assert isinstance(caught.value, errors.ServerError)  # screens and commands catch these
    assert names(target.parent) == []  # no file, no temp file


async def test_a_line_that_is_not_json_is_refused_by_number(
    bc: BatchClient, tmp_path: Path
) -> None:
    with pytest.raises(DownloadCheckError, match="line 2 is not a JSON object") as caught:
        await bc.download_file("file-badline", tmp_path / "errors.jsonl")
    assert caught.value.line == 2
    assert names(tmp_path) == []


async def test_the_stream_for_a_pipe_is_checked_at_its_end(bc: BatchClient) -> None:
    received = b""
    with pytest.raises(DownloadCheckError):
        async for chunk in bc.iter_file_content("file-short"):
            received += chunk
    assert received == GARBLED


async def test_good_files_still_download(bc: BatchClient, tmp_path: Path) -> None:
    out = await bc.download_file("file-good", tmp_path / "good.jsonl")
    assert out.read_bytes() == GOOD
    raw = await bc.download_file("file-input", tmp_path / "input.jsonl")
    assert raw.read_bytes() == b"not json!!\n"  # an input file's lines are the user's


# -- the commands -------------------------------------------------------------------------


def test_cli_download_exits_1_and_publishes_nothing(
    stub: str, tmp_path: Path, capsys: Capsys
) -> None:
    registry = Registry()
    registry.add(Job(job_id="j1", batch_id="batch_garbled"))
    target = tmp_path / "got" / "output.jsonl"
    ran = run(capsys, "download", "batch_garbled", "--output", str(target))
    assert ran.code == 1 and ran.out == ""
    assert "file-short" in ran.err and "28 bytes" in ran.err and "2135" in ran.err
    assert names(target.parent) == []
    assert Registry().get("j1").downloads == {}  # type: ignore[union-attr]
    ran = run(capsys, "download", "batch_garbled", "--file", "error", "--output", str(target))
    assert ran.code == 1 and "line 2" in ran.err and names(target.parent) == []


def test_cli_files_get_exits_1_and_publishes_nothing(
    stub: str, tmp_path: Path, capsys: Capsys
) -> None:
    target = tmp_path / "f.jsonl"
    for file_id in ("file-short", "file-badline"):
        ran = run(capsys, "files", "get", file_id, "--output", str(target), "--force")
        assert ran.code == 1 and file_id in ran.err
        assert names(tmp_path) == []
    ran = run(capsys, "files", "get", "file-short", "--output", "-")
    assert ran.code == 1 and "28 bytes" in ran.err  # streamed, but never exit 0
    ran = run(capsys, "files", "get", "file-good", "--output", str(target))
    assert ran.code == 0 and target.read_bytes() == GOOD


@pytest.mark.parametrize(
    ("batch_id", "why"), [("batch_garbled", "28 bytes"), ("batch_badline", "line 2")]
)
def test_results_export_refuses_a_garbled_result_file(
    stub: str, tmp_path: Path, capsys: Capsys, batch_id: str, why: str
) -> None:
    from tui.core.results import results_dir

    export = tmp_path / "rows.csv"
    ran = run(capsys, "results", batch_id, "--export", str(export))
    assert ran.code == 1 and why in ran.err
    assert not export.exists()
    kept = names(results_dir(batch_id))  # a good output file may stay, never a bad one
    assert "error.jsonl" not in kept and "manifest.json" not in kept  # nothing to reuse
