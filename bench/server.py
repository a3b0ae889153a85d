"""Benchmark: requests/s of ``GET /v1/batches?limit=100`` on the embedded server
holding 1,000 finished batches vs a bare aiohttp handler returning the same bytes.

Usage: ``.venv/bin/python bench/server.py [--batches N] [--requests N] [--rounds N]``

Two child processes listen on 127.0.0.1: the embedded server (``LocalServer``,
durable=False, with an API key), seeded straight into its store, and a bare aiohttp
app with one route that returns the embedded server's own first page, fetched once
and precomputed as bytes. This process is the load generator for both: ``--clients``
keep-alive HTTP/1.1 connections (a bare asyncio protocol that counts the bytes)
send ``--requests`` requests in all, one at a time per connection, and every answer
is checked (status 200, the expected length). Rounds alternate between the two
servers. Printed: the ratio of each server's best round, and the median of the ratios
of the rounds run back to back (each pair under about the same load); the goal is
checked on the median, since on a busy machine the best round of either server is
often one lucky quiet moment. Each server's CPU time a request (from /proc)
is printed too. Goal: embedded / bare >= 0.8.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _common import REPO, child_environment, record_verdict, seed_completed

GOAL = 0.8
KEY = "sk-bench-local"
PATH = "/v1/batches?limit=100"
ROUND_TIMEOUT = 120.0


# --- the two servers (child processes) ---------------------------------------------


def serve_embedded(data: Path, count: int) -> None:
    """Seed ``count`` completed batches, start the embedded server, print its port,
    serve until stdin closes."""
    from tui.localapi.server import LocalServer

    server = LocalServer(data, api_key=KEY, durable=False)
    server.start()
    seed_completed(server, count)
    print(server.port, flush=True)
    try:
        sys.stdin.read()
    finally:
        server.stop()


def serve_bare(body_file: Path) -> None:
    """A bare aiohttp app answering every GET of PATH's path with the bytes of
    ``body_file``; prints its port, serves until stdin closes."""
    from aiohttp import web

    body = body_file.read_bytes()

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    async def main() -> None:
        app = web.Application()
        app.router.add_get(PATH.split("?")[0], handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and isinstance(server, asyncio.Server)
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await runner.cleanup()

    asyncio.run(main())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux's /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_child(*args: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout is not None
    port = proc.stdout.readline().strip()
    if not port.isdigit():
        proc.kill()
        raise SystemExit(f"server child {args[0]} did not start")
    return proc, int(port)


def stop_child(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --- the load generator -------------------------------------------------------------


def request_bytes(port: int) -> bytes:
    return (
        f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {KEY}\r\nAccept: application/json\r\n\r\n"
    ).encode()


class Connection(asyncio.Protocol):
    """One keep-alive connection sending ``count`` requests, one at a time. Bodies are
    counted, not kept, so the client costs little next to the servers it measures."""

    def __init__(self, request: bytes, count: int, expected: int) -> None:
        self.request, self.left, self.expected = request, count, expected
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.head = b""
        self.body_left = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        if not self.body_left:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            head, data, self.head = self.head[:end], self.head[end + 4 :], b""
            status = head.split(b" ", 2)[1]
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            if status != b"200" or length != self.expected:
                self.fail(f"unexpected answer: {status!r}, {length} bytes")
                return
            self.body_left = length
        self.body_left -= len(data)
        if self.body_left == 0:
            self.left -= 1
            if self.left == 0:
                self.done.set_result(None)
            elif self.transport is not None:
                self.transport.write(self.request)
        elif self.body_left < 0:
            self.fail("more bytes than the answer's Content-Length")

    def fail(self, message: str) -> None:
        if not self.done.done():
            self.done.set_exception(SystemExit(message))

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(f"connection lost ({exc})")


async def connection(port: int, count: int, expected: int) -> None:
    """Send ``count`` requests on one keep-alive connection, one at a time."""
    loop = asyncio.get_running_loop()
    request = request_bytes(port)
    transport, protocol = await loop.create_connection(
        lambda: Connection(request, count, expected), "127.0.0.1", port
    )
    try:
        await protocol.done
    finally:
        transport.close()


async def load(port: int, requests: int, clients: int, expected: int) -> float:
    """Requests per second for ``requests`` requests over ``clients`` connections."""
    shares = [requests // clients + (i < requests % clients) for i in range(clients)]
    start = time.perf_counter()
    await asyncio.wait_for(
        asyncio.gather(*(connection(port, n, expected) for n in shares)), ROUND_TIMEOUT
    )
    return requests / (time.perf_counter() - start)


def fetch_page(port: int) -> bytes:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{PATH}", headers={"Authorization": f"Bearer {KEY}"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        body: bytes = response.read()
    page = json.loads(body)
    if len(page["data"]) != 100 or not page["has_more"]:
        raise SystemExit("the embedded server's page is not 100 batches with more to come")
    return body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--child-embedded", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--child-bare", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_embedded:
        serve_embedded(Path(args.child_embedded[0]), int(args.child_embedded[1]))
        return
    if args.child_bare:
        serve_bare(Path(args.child_bare))
        return

    tmp = Path(tempfile.mkdtemp(prefix="batchdeck-bench-"))
    child_environment(tmp, private_dirs=True)
    data, count = str(tmp / "server"), str(args.batches)
    embedded, embedded_port = start_child("--child-embedded", data, count)
    bare = None
    try:
        body = fetch_page(embedded_port)
        (tmp / "page.json").write_bytes(body)
        bare, bare_port = start_child("--child-bare", str(tmp / "page.json"))
        ours: list[float] = []
        theirs: list[float] = []
        cpu = {embedded.pid: 0.0, bare.pid: 0.0}  # the servers' CPU seconds in the rounds
        warm = max(args.clients, args.requests // 10)
        for port in (embedded_port, bare_port):
            asyncio.run(load(port, warm, args.clients, len(body)))
        for _ in range(args.rounds):
            for proc, port, rates in ((embedded, embedded_port, ours), (bare, bare_port, theirs)):
                before = cpu_seconds(proc.pid)
                rates.append(asyncio.run(load(port, args.requests, args.clients, len(body))))
                cpu[proc.pid] += cpu_seconds(proc.pid) - before
    finally:
        stop_child(embedded)
        if bare is not None:
            stop_child(bare)
        shutil.rmtree(tmp, ignore_errors=True)
    ratio = max(ours) / max(theirs)
    paired = sorted(a / b for a, b in zip(ours, theirs, strict=True))[len(ours) // 2]
    per_request = [cpu[p.pid] / (args.rounds * args.requests) * 1e6 for p in (embedded, bare)]
    verdict = "PASS" if paired >= GOAL else "FAIL"
    record_verdict(
        "server GET /v1/batches req/s / bare aiohttp", paired, f">= {GOAL}", paired >= GOAL
    )
    print(
        f"{verdict} GET {PATH} with {args.batches} batches ({len(body) / 1000:.1f} kB a page): "
        f"embedded server {max(ours):.0f} req/s vs bare aiohttp {max(theirs):.0f} req/s, "
        f"median ratio of paired rounds {paired:.2f} (goal >= {GOAL}), ratio of the best "
        f"rounds {ratio:.2f}; {args.requests} requests over {args.clients} "
        f"connections a round, best of {args.rounds} interleaved rounds "
        f"(embedded {', '.join(f'{x:.0f}' for x in ours)}; "
        f"bare {', '.join(f'{x:.0f}' for x in theirs)}); server CPU a request: embedded "
        f"{per_request[0]:.0f} us, bare {per_request[1]:.0f} us"
    )
    if verdict != "PASS":
        raise SystemExit(1)


if __name__ == "__main__":
    main()
