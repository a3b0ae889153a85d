"""Benchmark: a 10,000-line batch through the gateway (``serve --upstream A
--upstream B``) over two upstreams that each answer after a fixed delay, as lines/s
against the ideal ``upstreams × concurrency / delay``.

Usage: ``.venv/bin/python bench/gateway.py [--lines N] [--delay S] [--concurrency N]
[--rounds N]``

Three child processes listen on 127.0.0.1: two upstreams (bare aiohttp apps that
answer ``POST /v1/chat/completions`` with a fixed chat completion after ``--delay``
seconds, 20 ms by default) and the gateway (``LocalServer``, durable as ``batchdeck
serve`` is, with both upstreams and ``--concurrency`` per upstream, 8 by default, and
a timing that makes every line due at once). This process submits the batch through
the real ``openai`` SDK and polls it until it completes; a round's rate is its lines
divided by the time from the create call to the completed status. Printed: the best
round's lines/s, the ideal, their ratio, each round's rate, what a bare aiohttp
client sending the same number of requests straight to the upstreams (same
concurrency) reaches between the rounds (the machine's own limit under its current
load), and the CPU time a line of each child (the upstreams' includes the bare
client's requests). Goal: ratio >= 0.8 (the gateway keeps the upstreams 80 % busy).
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
from pathlib import Path

from _common import REPO, child_environment

GOAL = 0.8
KEY = "sk-bench-gateway"
MEASURE = "gateway: 10k-line batch over 2 upstreams, lines/s vs ideal"
ROUND_TIMEOUT = 600.0

ANSWER = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 0,
        "model": "bench-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "A short fixed answer."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
    }
).encode()


# --- the children ----------------------------------------------------------------------


def serve_upstream(delay: float) -> None:
    """A model server answering every chat completion after ``delay`` seconds; prints
    its port, serves until stdin closes."""
    from aiohttp import web

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(delay)
        return web.Response(body=ANSWER, content_type="application/json")

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", answer)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(runner.addresses[0][1], flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await runner.cleanup()

    asyncio.run(main())


def serve_gateway(data: Path, concurrency: int, durable: bool, upstreams: list[str]) -> None:
    """The gateway over ``upstreams``; prints its port, serves until stdin closes."""
    from tui.localapi.clock import Timing
    from tui.localapi.server import LocalServer

    server = LocalServer(
        data,
        api_key=KEY,
        upstream=upstreams,
        upstream_concurrency=concurrency,
        durable=durable,
        timing=Timing(validation=0, per_request=0, finalizing=0, cancelling=0),
    )
    server.start()
    print(server.port, flush=True)
    try:
        sys.stdin.read()
    finally:
        server.stop()


def start_child(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def port_of(proc: subprocess.Popen[str]) -> int:
    assert proc.stdout is not None
    port = proc.stdout.readline().strip()
    if not port.isdigit():
        proc.kill()
        raise SystemExit(f"child {proc.args!r} did not start")
    return int(port)


def stop_child(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux's /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- one round ---------------------------------------------------------------------------


def batch_input(lines: int) -> bytes:
    rows = []
    for i in range(lines):
        body = {
            "model": "bench-model",
            "messages": [{"role": "user", "content": f"Summarise ticket {i}: the parcel is late."}],
        }
        line = {"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions"}
        rows.append(json.dumps({**line, "body": body}))
    return ("\n".join(rows) + "\n").encode()


def one_round(port: int, data: bytes, lines: int) -> float:
    """Lines/s of one batch, from the create call to the completed status."""
    import openai

    with openai.OpenAI(
        base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, max_retries=2
    ) as client:
        file_id = client.files.create(file=("bench.jsonl", data), purpose="batch").id
        start = time.perf_counter()
        batch = client.batches.create(
            input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        while batch.status not in ("completed", "failed", "expired", "cancelled"):
            if time.perf_counter() - start > ROUND_TIMEOUT:
                raise SystemExit(f"the batch did not finish in {ROUND_TIMEOUT:.0f} s")
            time.sleep(0.1)  # 1 % of a round at most; polling costs the gateway little
            batch = client.batches.retrieve(batch.id)
        seconds = time.perf_counter() - start
    counts = batch.request_counts
    if batch.status != "completed" or counts is None or counts.completed != lines:
        raise SystemExit(f"the batch ended {batch.status} with {counts}")
    return lines / seconds


async def bare_client(urls: list[str], lines: int, concurrency: int) -> float:
    """Lines/s of a bare aiohttp client sending ``lines`` requests straight to the
    upstreams, ``concurrency`` at a time each: what this machine allows right now."""
    import aiohttp

    body = json.loads(batch_input(1))["body"]
    left = [lines]

    async def worker(session: aiohttp.ClientSession, url: str) -> None:
        while left[0] > 0:
            left[0] -= 1
            async with session.post(url + "/chat/completions", json=body) as response:
                await response.read()
                if response.status != 200:
                    raise SystemExit(f"upstream answered {response.status}")

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        start = time.perf_counter()
        await asyncio.gather(*(worker(session, url) for url in urls for _ in range(concurrency)))
        return lines / (time.perf_counter() - start)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--upstream-child":
        serve_upstream(float(sys.argv[2]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--gateway-child":
        serve_gateway(Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "durable", sys.argv[5:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--delay", type=float, default=0.02, help="upstream delay (s)")
    parser.add_argument("--concurrency", type=int, default=8, help="per upstream")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--no-fsync", action="store_true", help="a gateway that does not fsync (diagnosis only)"
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    child_environment(tmp)
    data = batch_input(args.lines)
    children: list[subprocess.Popen[str]] = []
    try:
        ups = [start_child("--upstream-child", str(args.delay)) for _ in range(2)]
        children += ups
        urls = [f"http://127.0.0.1:{port_of(proc)}/v1" for proc in ups]
        durable = "no-fsync" if args.no_fsync else "durable"
        gateway = start_child(
            "--gateway-child", str(tmp / "data"), str(args.concurrency), durable, *urls
        )
        children.append(gateway)
        port = port_of(gateway)
        before = [cpu_seconds(proc.pid) for proc in children]
        rates, bare = [], []
        for _ in range(args.rounds):
            rates.append(one_round(port, data, args.lines))
            bare.append(asyncio.run(bare_client(urls, args.lines, args.concurrency)))
        cpu = [cpu_seconds(proc.pid) - b for proc, b in zip(children, before, strict=True)]
    finally:
        for proc in children:
            stop_child(proc)
        shutil.rmtree(tmp, ignore_errors=True)
    ideal = len(urls) * args.concurrency / args.delay
    best = max(rates)
    ratio = best / ideal
    met = ratio >= GOAL
    per_line = [seconds / (args.rounds * args.lines) * 1e6 for seconds in cpu]
    print(
        f"{'PASS' if met else 'FAIL'} {args.lines:,}-line batch over {len(urls)} upstreams "
        f"({args.delay * 1000:g} ms each, {args.concurrency} at a time): best round "
        f"{best:.0f} lines/s, ideal {ideal:.0f} lines/s, ratio {ratio:.2f} (goal >= {GOAL}); "
        f"rounds {', '.join(f'{r:.0f}' for r in rates)} lines/s; a bare aiohttp client "
        f"straight to the upstreams, between the rounds: {max(bare):.0f} requests/s "
        f"(ratio {max(bare) / ideal:.2f}: the machine's own limit now); CPU a line: gateway "
        f"{per_line[2]:.0f} us, upstreams {per_line[0]:.0f} + {per_line[1]:.0f} us"
    )
    record(ratio, met)
    if not met:
        raise SystemExit(1)


def record(ratio: float, met: bool) -> None:
    """The verdict row: in ``make bench``'s summary table when ``_common`` keeps one,
    and always as the last line printed."""
    import _common

    keep = getattr(_common, "record_verdict", None)
    if keep is not None:
        keep(MEASURE, ratio, f">= {GOAL}", met)
    print(f"{MEASURE} / {ratio:.2f} / >= {GOAL} / {'met' if met else 'not met'}")


if __name__ == "__main__":
    main()
