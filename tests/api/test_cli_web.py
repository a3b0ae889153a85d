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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Web:
    url: str  # the served address, http://127.0.0.1:PORT
    login: str  # the address batchdeck web printed: url/?token=...
    child: subprocess.Popen[str]


def jar() -> aiohttp.CookieJar:
    return aiohttp.CookieJar(unsafe=True)  # keep cookies of 127.0.0.1 like a browser


@pytest.fixture
def web(server: LocalServer, tmp_path: Path) -> Iterator[Web]:
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
    assert child.stderr is not None
    first = child.stderr.readline()  # printed as it starts (or '' if it died)
    assert first.startswith(f"batchdeck web: open {url}/?token="), first
    login = first.split(" open ", 1)[1].strip()
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
        yield Web(url, login, child)
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


async def screen_text_until(web: Web, wanted: str) -> str:
    """Open the page with its token and then its websocket, like the browser does, and
    collect the terminal's output (escape sequences removed) until ``wanted`` shows up
    or time runs out."""
    seen = ""
    url = web.url
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        async with session.get(web.login) as page:
            assert page.status == 200
            html = await page.text()
        assert f"{url.replace('http', 'ws')}/ws" in html
        ws_url = url + "/ws?width=120&height=36"
        async with session.ws_connect(ws_url, headers={"Origin": url}) as ws:
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


async def test_the_browser_sees_the_batches_screen(client: openai.OpenAI, web: Web) -> None:
    batch = submit(client, chat_lines(2))
    text = await screen_text_until(web, batch.id)
    assert batch.id in text, text[-2000:]
    assert web.child.poll() is None  # still serving


async def test_no_token_or_a_foreign_origin_is_refused(web: Web) -> None:
    url = web.url
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        for address in (url + "/", url + "/?token=wrong", url + "/download/x"):
            async with session.get(address) as page:
                assert page.status == 403, address
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(url + "/ws", headers={"Origin": url})
        assert refused.value.status == 403  # the right origin, but no token
        async with session.get(web.login) as page:  # now the session has the cookie
            assert page.status == 200
        for origin in ("http://evil.example", "http://localhost:1", "null"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(url + "/ws", headers={"Origin": origin})
            assert refused.value.status == 403, origin
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(url + "/ws")  # no Origin at all
        assert refused.value.status == 403
        async with session.get(web.login, headers={"Origin": "http://evil.example"}) as page:
            assert page.status == 403
        async with session.ws_connect(url + "/ws", headers={"Origin": url}) as ws:
            assert not ws.closed


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
        assert "token" in child.stderr.readline() + child.stderr.readline()
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=15)
