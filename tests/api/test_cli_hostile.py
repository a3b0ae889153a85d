"""Headless commands against a hostile server: its messages and batch fields carry
terminal escapes and Rich markup, and every line on stderr shows them as ``\\xNN``."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.api._cli import run

EVIL = "boom \x1b]2;PWNED\x07 [bold red]x[/] \x1b[2J"
BATCH = {
    "id": "batch_evil",
    "object": "batch",
    "endpoint": "/v1/chat/completions",
    "errors": None,
    "input_file_id": "file-in",
    "completion_window": "24h",
    "status": EVIL,
    "output_file_id": None,
    "error_file_id": None,
    "created_at": 1_700_000_000,
    "request_counts": {"total": 2, "completed": 0, "failed": 0},
    "metadata": {},
}


class _Hostile(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _refuse(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        self._send(400, {"error": {"message": EVIL, "type": "invalid_request_error"}})

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/v1/batches/batch_evil":
            self._send(200, BATCH)
        else:
            self._refuse()

    def do_POST(self) -> None:
        self._refuse()


@pytest.fixture
def hostile(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{httpd.server_port}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    yield "batch_evil"
    httpd.shutdown()
    httpd.server_close()


def assert_escaped(err: str) -> None:
    assert err.startswith("batchdeck")
    assert "\x1b" not in err and "\x07" not in err, repr(err)
    assert "\\x1b]2;PWNED\\x07" in err


def test_results_export_escapes_the_batch_status(
    hostile: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = run(capsys, "results", hostile, "--export", str(tmp_path / "r.csv"))
    assert ran.code == 1
    assert "not ready yet" in ran.err
    assert_escaped(ran.err)
    assert not (tmp_path / "r.csv").exists()


def test_submit_escapes_the_servers_message(
    hostile: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = {
        "custom_id": "a",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
    }
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(line) + "\n")
    ran = run(capsys, "submit", str(path))
    assert ran.code == 1
    assert_escaped(ran.err)
