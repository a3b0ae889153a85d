"""A server SIGKILLed again and again while a batch runs still finishes it whole.

``batchdeck serve`` runs in a child process on a fixed port and data dir; a batch is
submitted through the real ``openai`` SDK; then the server is killed with SIGKILL at
seeded random moments and started again, :data:`KILLS` times, and finally left to
finish. The output and error files together must hold each input ``custom_id``
exactly once and no NUL byte. A kill comes the moment the server answers (4 in 10)
or once its partial output files have grown by a random 180-260 KB, some 240-350
lines: past the 234 entries after which the old line journal's 8 KB buffer reached
the disk ahead of the lines it described (that code lost 39-80 ids here, and wrote
runs of NULs).

The time scale makes every line due at once, so a life runs lines as fast as the
machine allows, and progress is watched on the work files (the API answers about
the batch only between runs). Each server is ``batchdeck serve``
(``tui.cli.main``) forked from a small parent that imported the server once: a
restart costs milliseconds instead of the 0.5-1.5 s of imports a fresh interpreter
takes on a loaded machine, and each process killed is still a whole server with
its own files, sockets and buffers.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import openai

from tests.api.conftest import chat_lines, jsonl, raw
from tests.reliability.conftest import Figures

REPO = Path(__file__).resolve().parents[2]
KEY = "sk-kill-test"
LINES = 14_000
KILLS = 52
SEED = 20261201
SCALE = "500"  # 10,000 lines due a second: all at once; the 24 h window lasts 172 s
FINAL = ("completed", "failed", "expired", "cancelled")

FORKER = """
import json, os, sys
from tui.cli import main
import tui.localapi.server  # imported once, before any fork

for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        os._exit(main(["serve", *json.loads(line)]))
    print(pid, flush=True)
    os.waitpid(pid, 0)
"""


class Servers:
    """Start ``batchdeck serve`` lives one after another; kill the current one."""

    def __init__(self, data: Path, port: int, log: IO[bytes], extra: Sequence[str] = ()) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "BATCHDECK_"))}
        env.update(PYTHONPATH=str(REPO), BATCHDECK_SERVE_API_KEY=KEY)
        self.data, self.port, self.pid, self.extra = data, port, 0, list(extra)
        self.url = f"http://127.0.0.1:{port}"
        self.forker = subprocess.Popen(
            [sys.executable, "-c", FORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
            cwd=REPO,
        )

    def start(self) -> None:
        assert self.forker.stdin is not None and self.forker.stdout is not None
        args = ["--port", str(self.port), "--data-dir", str(self.data), "--time-scale", SCALE]
        args += self.extra
        self.forker.stdin.write(json.dumps(args).encode() + b"\n")
        self.forker.stdin.flush()
        self.pid = int(self.forker.stdout.readline())
        deadline = time.monotonic() + 30
        for _ in range(100_000):
            if self.answers():
                return
            assert time.monotonic() < deadline, "the server did not come up in 30 s"
            time.sleep(0.002)

    def answers(self) -> bool:
        """True once the server answers (on a route that does not wait for batches)."""
        try:
            return raw(self.url + "/v1", "GET", "/files?limit=1", key=KEY)[0] == 200
        except OSError:
            return False

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)

    def close(self) -> None:
        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                self.kill()
        assert self.forker.stdin is not None
        self.forker.stdin.close()
        self.forker.wait(timeout=30)


def free_port() -> int:
    """A free port below the ephemeral range, so no outgoing connection takes it while
    the server is down between two lives."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(200):
        port = random.SystemRandom().randrange(10_000, max(10_001, low))
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise AssertionError("no free port below the ephemeral range")


def written(work: Path) -> int | None:
    """Bytes in the batch's partial output files (None once the batch has ended)."""
    try:
        return sum((work / name).stat().st_size for name in ("output.part", "error.part"))
    except FileNotFoundError:
        return None if not work.exists() else 0


def run_until(work: Path, target: int) -> int | None:
    """Wait (bounded) until the partial files hold ``target`` bytes; their size then."""
    deadline = time.monotonic() + 30
    for _ in range(1_000_000):
        size = written(work)
        if size is None or size >= target or time.monotonic() > deadline:
            return size
        time.sleep(0.001)
    return written(work)


def status(servers: Servers, batch_id: str) -> str:
    code, _, body = raw(servers.url + "/v1", "GET", f"/batches/{batch_id}", key=KEY)
    assert code == 200, body
    return str(body["status"])


def test_kills_mid_batch_lose_and_repeat_nothing(tmp_path: Path, figures: Figures) -> None:
    rng = random.Random(SEED)
    lines = chat_lines(LINES, fail_every=7)
    with (tmp_path / "server.log").open("wb") as log:
        servers = Servers(tmp_path / "data", free_port(), log)
        try:
            servers.start()
            with openai.OpenAI(base_url=servers.url + "/v1", api_key=KEY, max_retries=0) as sdk:
                file_id = sdk.files.create(file=("in.jsonl", jsonl(lines)), purpose="batch").id
                batch_id = sdk.batches.create(
                    input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
                ).id
            work = tmp_path / "data" / "batches" / batch_id
            kills, reached = 0, 0
            while kills < KILLS:
                size = written(work)
                if size is not None and rng.random() < 0.6:  # else: kill the moment it answers
                    size = run_until(work, size + rng.randint(180_000, 260_000))
                if size is None:
                    break  # the batch ended: too few lines for the kills
                reached = size
                servers.kill()
                kills += 1
                servers.start()
            final = "unknown"
            deadline = time.monotonic() + 60
            while final not in FINAL and time.monotonic() < deadline:
                with contextlib.suppress(OSError):  # it answers once the run yields
                    final = status(servers, batch_id)
                time.sleep(0.01)
            with openai.OpenAI(base_url=servers.url + "/v1", api_key=KEY, max_retries=0) as sdk:
                batch = sdk.batches.retrieve(batch_id)
                files = [batch.output_file_id, batch.error_file_id]
                data = b"".join(sdk.files.content(f).content for f in files if f)
        finally:
            servers.close()
    assert batch.status == "completed", batch.status
    ids: list[str] = []
    for line in data.split(b"\n"):
        with contextlib.suppress(ValueError, KeyError, TypeError):  # a line of NULs, say
            ids.append(json.loads(line)["custom_id"])
    seen = Counter(ids)
    wanted = {line["custom_id"] for line in lines}
    lost = len(wanted - set(seen))
    duplicates = sum(n - 1 for n in seen.values())
    nul_bytes = data.count(b"\0")
    figures("kills survived", kills)
    figures("share of the batch run at the last kill", f"{reached / max(1, len(data)):.0%}")
    figures("custom_ids lost", lost)
    figures("duplicates", duplicates)
    figures("NUL bytes", nul_bytes)
    assert kills >= 50, f"the batch ended after {kills} kills; make it longer"
    assert (lost, duplicates, nul_bytes) == (0, 0, 0)
    assert set(seen) == wanted
    assert batch.request_counts is not None
    assert batch.request_counts.completed + batch.request_counts.failed == LINES
