"""Take ``screenshots/web.png``: ``batchdeck web --demo`` in a real headless browser.

Needs Debian's ``chromium`` (not part of CI). The page connects its websocket after
it loads, so instead of ``--screenshot`` (which fires before the app has drawn) this
drives the browser over the DevTools protocol: open the page, wait until the
terminal shows the batches screen, capture.

    .venv/bin/python screenshots/web.py [--wait 8]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "screenshots" / "web.png"
WIDTH, HEIGHT = 1280, 800


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port}")


async def capture(debug_port: int, url: str, wait: float) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{debug_port}/json/list") as answer:
        targets = json.load(answer)
    page = next(t for t in targets if t.get("type") == "page")
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws,
    ):
        ids = iter(range(1, 1_000_000))

        async def call(method: str, **params: object) -> dict:
            number = next(ids)
            await ws.send_json({"id": number, "method": method, "params": params})
            async for message in ws:
                data = json.loads(message.data)
                if data.get("id") == number:
                    return dict(data.get("result", {}))
            raise RuntimeError("browser closed the connection")

        await call(
            "Emulation.setDeviceMetricsOverride",
            width=WIDTH,
            height=HEIGHT,
            deviceScaleFactor=1,
            mobile=False,
        )
        await call("Page.navigate", url=url)
        await asyncio.sleep(wait)  # the app starts, imports the SDK, loads batches
        shot = await call("Page.captureScreenshot", format="png")
    return base64.b64decode(shot["data"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wait", type=float, default=8.0, help="seconds to let the app draw")
    args = parser.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("needs chromium (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory(prefix="batchdeck-shot-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "BATCHDECK_"))}
        env["BATCHDECK_CONFIG_DIR"] = f"{tmp}/config"
        env["BATCHDECK_DATA_DIR"] = f"{tmp}/data"
        web_port, debug_port = free_port(), free_port()
        web = subprocess.Popen(
            [sys.executable, "-m", "tui.cli", "web", "--demo", "--port", str(web_port)],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
        )
        chrome = subprocess.Popen(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={tmp}/chrome",
                f"--window-size={WIDTH},{HEIGHT}",
                f"--remote-debugging-port={debug_port}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(web_port)
            wait_for_port(debug_port)
            png = asyncio.run(capture(debug_port, f"http://127.0.0.1:{web_port}/", args.wait))
        finally:
            chrome.terminate()
            web.send_signal(signal.SIGTERM)
            chrome.wait(timeout=15)
            web.wait(timeout=15)
    OUT.write_bytes(png)
    print(f"wrote {OUT} ({len(png)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
