"""A queue runner SIGKILLed again and again still carries a 60-part job through the
token limit whole: no request lost, none sent twice, the limit kept.

The embedded server runs in this process with an enqueued-token limit of 3 parts'
worth, configured in ``config.toml`` too (then it is never exceeded) or not (then
the runner sends everything and learns the limit from the failures).
``batchdeck queue run --until-done`` runs in a child forked from a small parent that
imported batchdeck once (a restart costs milliseconds, as in ``test_server_kills``);
it is killed with SIGKILL at seeded random moments: right after its k-th registry
change (k from 1 to 12, so kills land between every pair of journal steps: marked,
intent, uploaded, creating, created, snapshots) or as soon as it starts. Then one
last runner finishes the job. The output and error files of every batch on the
server must hold each ``custom_id`` exactly once, and each part must have completed
once.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from tests.api._cli import env_for, run
from tests.api.conftest import API_KEY, FAST, make_client
from tests.api.test_queue_flow import (
    MODEL,
    PARTS,
    job_lines,
    joined_ids,
    limit_failures,
    part_tokens,
    peak_enqueued,
    write_job,
)
from tests.reliability.conftest import Figures
from tui.core.queue import queue_dir
from tui.core.queue_limits import LimitBook
from tui.core.registry import Registry
from tui.localapi.server import LocalServer

REPO = Path(__file__).resolve().parents[2]
KILLS = 20
SEED = 20261212

FORKER = """
import json, os, sys
from tui.cli import main
import SDK, tui.core.queue, tui.commands.queue  # imported once, before any fork

for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        os._exit(main(json.loads(line)))
    print(pid, flush=True)
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status), flush=True)
"""

RUN = ["queue", "run", "--until-done", "--interval", "20ms", "--timeout", "300"]


class Runners:
    """``batchdeck queue run`` lives, one after another, forked from one parent that
    imported ``sdk`` (``openai`` or ``anthropic``) once."""

    def __init__(self, env: dict[str, str], log: IO[bytes], sdk: str = "openai") -> None:
        self.forker = subprocess.Popen(
            [sys.executable, "-c", FORKER.replace("SDK", sdk)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
            cwd=REPO,
        )
        self.pid = 0

    def start(self) -> None:
        assert self.forker.stdin is not None and self.forker.stdout is not None
        self.forker.stdin.write(json.dumps(RUN).encode() + b"\n")
        self.forker.stdin.flush()
        self.pid = int(self.forker.stdout.readline())

    def kill(self) -> int:
        """Kill the current runner; its exit code (-9, or its own if it ended first)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        return self.wait()

    def wait(self) -> int:
        assert self.forker.stdout is not None
        return int(self.forker.stdout.readline())

    def close(self) -> None:
        assert self.forker.stdin is not None
        self.forker.stdin.close()
        self.forker.wait(timeout=30)


def change_token(registry_dir: Path) -> bytes:
    """The registry's change token: a fresh one is written with every record change."""
    try:
        return (registry_dir / ".lock").read_bytes()
    except FileNotFoundError:
        return b""


def wait_for_changes(registry_dir: Path, count: int) -> int:
    """Wait (bounded) until the registry changed ``count`` times; how many were seen."""
    seen, last = 0, change_token(registry_dir)
    deadline = time.monotonic() + 20
    while seen < count and time.monotonic() < deadline:
        token = change_token(registry_dir)
        if token != last:
            seen, last = seen + 1, token
        else:
            time.sleep(0.0005)
    return seen


@pytest.fixture(params=[True, False], ids=["configured", "learned"])
def known(request: pytest.FixtureRequest) -> bool:
    """Whether config.toml says the limit (else the runner has to learn it)."""
    return bool(request.param)


@pytest.fixture
def server(tmp_path: Path, known: bool) -> Iterator[LocalServer]:
    """A batch lasts 0.1 s (configured) or 0.5 s (learned: long enough for the first
    pass's flood of parts to overlap and go over the limit)."""
    limit = 3 * part_tokens(tmp_path)
    server = LocalServer(
        tmp_path / "server",
        api_key=API_KEY,
        timing=FAST,
        durable=False,
        time_scale=50 if known else 10,
        token_limits={MODEL: limit},
    )
    server.start()
    yield server
    server.stop()


def mid_submit_now() -> int:
    """1 if a part was left between ``intent`` and ``created`` (the journal's to settle)."""
    states = ((job.submission or {}).get("state") for job in Registry().load().values())
    return int(any(state in ("intent", "uploaded", "creating") for state in states))


def test_runner_kills_lose_and_repeat_nothing(
    known: bool,
    server: LocalServer,
    tmp_path: Path,
    figures: Figures,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(SEED)
    per_part = part_tokens(tmp_path)
    limit = 3 * per_part
    config = Path(os.environ["BATCHDECK_CONFIG_DIR"]) / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    limits = f'\n[profiles.default.token_limits]\n"{MODEL}" = {limit}\n' if known else ""
    config.write_text(f'[profiles.default]\nbase_url = "{server.base_url}"\n{limits}')
    env = env_for(server, tmp_path)
    with monkeypatch.context() as patch:
        patch.setenv("OPENAI_API_KEY", API_KEY)
        source = str(write_job(tmp_path))
        queued = run(capsys, "submit", source, "--queue", "--part-tokens", str(per_part))
    assert queued.code == 0, queued.err
    registry_dir = Registry().root

    kills = early_exits = mid_submit = 0
    with (tmp_path / "runner.log").open("wb") as log:
        runners = Runners(env, log)
        try:
            while kills < KILLS:
                runners.start()
                if rng.random() < 0.8:
                    wait_for_changes(registry_dir, rng.randint(1, 12))
                code = runners.kill()
                if code == -signal.SIGKILL:
                    kills += 1
                    mid_submit += mid_submit_now()
                else:
                    early_exits += 1  # it finished before the kill
                    break
            runners.start()
            final = runners.wait()
        finally:
            runners.close()

    with make_client(server) as client:
        ids = joined_ids(client)
        over = limit_failures(client)
        peak = peak_enqueued(client, per_part)
        batches = sum(1 for b in client.batches.list(limit=100) if b.status == "completed")
    expected = {line["custom_id"] for line in job_lines()}
    lost = len(expected - set(ids))
    duplicates = sum(count - 1 for count in ids.values() if count > 1)
    case = "configured" if known else "learned"
    figures(f"queue runner kills survived ({case})", kills)
    figures(f"queue kills mid-submit ({case})", mid_submit)
    figures(f"queue ids lost ({case})", lost)
    figures(f"queue ids sent twice ({case})", duplicates)
    figures(f"queue completed batches / 60 ({case})", batches)
    figures(f"queue limit failures ({case})", over)
    assert final == 0, (tmp_path / "runner.log").read_text()[-2000:]
    assert kills == KILLS and early_exits == 0 and mid_submit > 0
    assert lost == 0 and duplicates == 0 and set(ids) == expected
    assert batches == PARTS  # each part completed once
    learned = LimitBook(queue_dir(Registry())).learned("default", MODEL)
    if known:
        assert over == 0 and peak <= limit and learned is None
    elif over:  # (test_queue_flow learns it deterministically, on a manual clock)
        assert learned is not None and learned.tokens >= limit
