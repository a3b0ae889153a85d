"""``batchdeck web``: the app served through textual-serve, seen over its websocket."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import openai
import pytest

from tests.api._cli import REPO, env_for
from tests.api.conftest import chat_lines, submit
from tui.localapi.server import LocalServer

ANSI = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[@-_][^\x1b]*?(?:\x1b\\|\x07)?")
DEADLINE = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def web(server: LocalServer, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``batchdeck web`` on a free loopback port, pointed at the embedded server."""
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "web", "--port", str(port)],
        env=env_for(server, tmp_path),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            assert child.poll() is None, child.communicate()[1]
            assert time.monotonic() < deadline, "batchdeck web did not start listening"
            time.sleep(0.05)
    try:
        yield url, child
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


async def screen_text_until(url: str, wanted: str) -> str:
    """Open the page's websocket like the browser does and collect the terminal's
    output (escape sequences removed) until ``wanted`` shows up or time runs out."""
    seen = ""
    async with aiohttp.ClientSession() as session:
        async with session.get(url + "/") as page:
            assert page.status == 200
            html = await page.text()
        assert f"{url.replace('http', 'ws')}/ws" in html
        async with session.ws_connect(url + "/ws?width=120&height=36") as ws:
            loop = asyncio.get_running_loop()
            end = loop.time() + DEADLINE
            raw = b""
            while wanted not in seen and loop.time() < end:
                try:
                    message = await ws.receive(timeout=max(end - loop.time(), 0.1))
                except TimeoutError:
                    break
                if message.type == aiohttp.WSMsgType.BINARY:
                    raw += message.data
                    seen = ANSI.sub("", raw.decode("utf-8", "replace"))
                elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                    break
    return seen


async def test_the_browser_sees_the_batches_screen(
    client: openai.OpenAI, web: tuple[str, subprocess.Popen[str]]
) -> None:
    batch = submit(client, chat_lines(2))
    url, child = web
    text = await screen_text_until(url, batch.id)
    assert batch.id in text, text[-2000:]
    assert child.poll() is None  # still serving


def test_loopback_by_default_and_a_warning_elsewhere(server: LocalServer, tmp_path: Path) -> None:
    port = free_port()
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tui.cli",
            "web",
            "--demo",
            "--host",
            "0.0.0.0",
            "--port",
            str(port),
        ],
        env=env_for(None, tmp_path),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stderr is not None
        first = child.stderr.readline()
        assert first.startswith("batchdeck: WARNING: serving on 0.0.0.0, not on loopback.")
        assert "no login" in child.stderr.readline() + child.stderr.readline()
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=15)
