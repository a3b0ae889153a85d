"""No key and no URL password reaches a file or a terminal, in a whole session.

A distinctive key (not shaped like ``sk-...``, so only its registration can cut it
out) and a base URL carrying ``user:password@``; a full session on the embedded
server (CLI submit, watch, ls, show, results --export, registry; the app listing and
opening the batch) and on a stub server that echoes the ``Authorization`` header in
its errors and in a batch's validation errors. Every byte written to stdout/stderr
and every file under the test's directories (config, data, server data, exports) is
searched for the key, the password and the Basic auth form of both.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.api._cli import Ran, run
from tests.api.conftest import FAST, chat_lines, jsonl
from tests.reliability.conftest import Figures
from tui.core.client import BatchClient
from tui.core.config import Config, Profile
from tui.core.registry import Job, Registry
from tui.localapi.server import LocalServer

KEY = "bdkey-LEAKCANARY-7f3a9c1e5b2d4f60"
USER = "alice"
PASSWORD = "pw-LEAKCANARY-91c4e2"
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
NEEDLES = (KEY, PASSWORD, BASIC)
ECHO_BATCH = "batch_echo"

Capsys = pytest.CaptureFixture[str]


class EchoHandler(BaseHTTPRequestHandler):
    """A hostile server: every answer quotes the request's Authorization header."""

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization", "")
        if self.path.startswith(f"/v1/batches/{ECHO_BATCH}"):
            self._answer(200, echo_batch(auth))
            return
        message = f"Invalid header Authorization: {auth} (you sent {auth!r}; key {auth[7:]})"
        self._answer(401, {"error": {"message": message, "type": "auth", "code": auth}})

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


def echo_batch(auth: str) -> dict[str, Any]:
    bare = auth.partition(" ")[2]
    return {
        "id": ECHO_BATCH,
        "object": "batch",
        "endpoint": "/v1/chat/completions",
        "input_file_id": "file_x",
        "completion_window": "24h",
        "status": "failed",
        "created_at": 1_700_000_000,
        "metadata": {"seen": bare},
        "errors": {
            "object": "list",
            "data": [{"code": "bad_auth", "message": f"rejected {auth} / {bare}", "line": 1}],
        },
        "request_counts": {"total": 1, "completed": 0, "failed": 1},
    }


@pytest.fixture
def echo_url() -> Iterator[str]:
    stub = ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
    thread = threading.Thread(target=stub.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{stub.server_address[1]}/v1"
    finally:
        stub.shutdown()
        stub.server_close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    # No key on the server: a URL with user:password makes the SDK's transport send
    # Basic auth in place of the bearer key (as to a gateway that wants a login).
    running = LocalServer(
        tmp_path / "server-data", api_key=None, timing=FAST, durable=False, time_scale=100_000
    )
    running.start()
    yield running
    running.stop()


def with_password(url: str) -> str:
    return url.replace("http://", f"http://{USER}:{PASSWORD}@", 1)


def leaks_in(text: str) -> list[str]:
    return [needle for needle in NEEDLES if needle in text]


def test_no_key_or_url_password_in_any_output_or_file(
    server: LocalServer,
    echo_url: str,
    tmp_path: Path,
    capsys: Capsys,
    monkeypatch: pytest.MonkeyPatch,
    figures: Figures,
) -> None:
    ran: list[Ran] = []

    def cli(*argv: str) -> Ran:
        result = run(capsys, *argv)
        ran.append(result)
        return result

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", with_password(server.base_url))
    source = tmp_path / "work" / "in.jsonl"
    source.parent.mkdir()
    source.write_bytes(jsonl(chat_lines(4, fail_every=4)))
    exports = tmp_path / "exports"
    exports.mkdir()

    submitted = cli("submit", str(source), "--description", "leak test", "--tag", "t", "--json")
    assert submitted.code == 0, submitted.err
    batch_id = json.loads(submitted.out)["batches"][0]["batch_id"]
    watched = cli("watch", batch_id, "--interval", "0.05", "--timeout", "60")
    assert watched.code in (0, 1), watched.err  # one request fails on purpose
    for argv in (
        ("ls",),
        ("ls", "--json"),
        ("show", batch_id),
        ("show", batch_id, "--json"),
        ("registry", "ls"),
        ("registry", "ls", "--json"),
        ("results", batch_id, "--export", str(exports / "out.csv")),
        ("results", batch_id, "--export", str(exports / "out.jsonl")),
        ("reconcile",),
    ):
        assert cli(*argv).code == 0, ran[-1].err
    assert (exports / "out.csv").stat().st_size > 0
    stored = Registry().find_by_batch(batch_id)
    assert stored is not None and stored.base_url == server.base_url  # no user:password@

    # A server that echoes the Authorization header, with the bearer key and with Basic.
    Registry().add(Job(job_id="job_echo", batch_id=ECHO_BATCH))
    for url in (echo_url, with_password(echo_url)):
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        refused = cli("ls")
        assert refused.code != 0 and "Invalid header" in refused.err
        assert cli("show", ECHO_BATCH).code == 0
        assert cli("show", ECHO_BATCH, "--json").code == 0
    echoed = Registry().get("job_echo")
    assert echoed is not None and echoed.snapshot and "rejected" in str(echoed.snapshot)

    monkeypatch.setenv("OPENAI_BASE_URL", with_password(server.base_url))
    shown_by_app = _run_app(server)

    outputs = [part for result in ran for part in (result.out, result.err)] + shown_by_app
    scanned = 0
    leaks: list[str] = []
    for root, _dirs, names in os.walk(tmp_path):
        for name in names:
            path = Path(root) / name
            if path.is_symlink() or not path.is_file():
                continue
            scanned += 1
            data = path.read_bytes().decode("utf-8", "replace")
            leaks += [f"{path}: {needle}" for needle in leaks_in(data)]
    leaks += [f"output: {needle}" for text in outputs for needle in leaks_in(text)]
    figures("files scanned", scanned)
    figures("leaks found", len(leaks))
    assert scanned >= 8
    assert leaks == [], "\n".join(leaks)


def _run_app(server: LocalServer) -> list[str]:
    """The app on the password URL: list the batches (the server's and the echoed
    one the registry keeps), open the first; what it showed (every notification and
    the detail screen's text)."""
    import asyncio

    from textual.widgets import Static

    from tests.ui.batches_support import batches_screen, loaded, wait_for
    from tests.ui.test_batch_detail_support import text_of
    from tui.app import make_app

    profile = Profile("leak", base_url=with_password(server.base_url))
    config = Config(profiles={"leak": profile}, default_profile="leak")
    app = make_app(config, BatchClient(profile), Registry(durable=False), profile=profile)
    shown: list[str] = []

    async def session() -> None:
        async with app.run_test(size=(120, 36)) as pilot:
            await loaded(pilot)
            table = batches_screen(pilot).table
            await wait_for(pilot, lambda: table.row_count >= 2)  # this batch, the echoed one
            await pilot.press("enter")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "BatchDetailScreen")
            await wait_for(pilot, lambda: "window 24h" in text_of(app.screen, "#detail-head"))
            shown.extend(text_of(app.screen, f"#{s.id}") for s in app.screen.query(Static) if s.id)
            shown.append(str(app.sub_title))
            shown.extend(str(n.message) for n in app._notifications)

    asyncio.run(session())
    return shown
