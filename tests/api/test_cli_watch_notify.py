"""``batchdeck watch`` fires the [hooks] notifications: the hook once per batch (a
second watcher does not fire it again), OSC sequences on a terminal, never in a pipe."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import openai
import pytest

from tests._hooks import hooks_config, recorder, runs
from tests.api._cli import REPO, env_for, point_at, run
from tests.api.conftest import chat_lines, submit
from tui.core.registry import Registry
from tui.localapi.server import LocalServer

Capsys = pytest.CaptureFixture[str]
FAST = ("--interval", "0.01s", "--timeout", "30s")


def test_watch_runs_the_hook_once_per_batch(
    server: LocalServer,
    client: openai.OpenAI,
    capsys: Capsys,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    point_at(server, monkeypatch)
    out, command = recorder(tmp_path)
    hooks_config(tmp_path, command, "terminal = true\n")
    batch = submit(client, chat_lines(3, fail_every=3), metadata={"description": "x; touch y"})
    ran = run(capsys, "watch", batch.id, *FAST)
    assert ran.code == 1 and ran.err.endswith("1 failed requests\n")
    assert "\x1b]" not in ran.out  # not a terminal: no OSC in the data
    [hook] = runs(out)
    assert hook["argv"] == [str(out), "--flag"]
    facts = {
        k: v
        for k, v in hook["env"].items()
        if k not in ("BATCHDECK_CONFIG_DIR", "BATCHDECK_DATA_DIR")
    }
    assert facts == {
        "BATCHDECK_EVENT": "final",
        "BATCHDECK_BATCH_ID": batch.id,
        "BATCHDECK_STATUS": "completed",
        "BATCHDECK_DESCRIPTION": "x; touch y",
        "BATCHDECK_DETAIL": "",
        "BATCHDECK_COMPLETED": "2",
        "BATCHDECK_FAILED": "1",
        "BATCHDECK_TOTAL": "3",
    }
    job = Registry().find_by_batch(batch.id)  # adopted, with the event recorded
    assert job is not None and set(job.notified) == {"final"}
    assert job.profile == "default"  # under the profile it was read from, not every one

    again = run(capsys, "watch", batch.id, *FAST)
    assert again.code == 1
    assert len(runs(out)) == 1  # once per batch, whoever watches


def test_a_failing_hook_is_reported_and_changes_nothing(
    server: LocalServer,
    client: openai.OpenAI,
    capsys: Capsys,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    point_at(server, monkeypatch)
    hooks_config(tmp_path, f"{sys.executable} -c 'raise SystemExit(7)'")
    batch = submit(client, chat_lines(2))
    ran = run(capsys, "watch", batch.id, *FAST)
    assert ran.code == 0
    assert "hook " in ran.err and "failed (exit status 7)" in ran.err


def test_watch_on_a_terminal_writes_osc_notifications(
    server: LocalServer, client: openai.OpenAI, tmp_path: Path
) -> None:
    env = env_for(server, tmp_path)
    config = Path(env["BATCHDECK_CONFIG_DIR"]) / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[hooks]\nterminal = true\n")
    batch = submit(client, chat_lines(2), metadata={"description": "evil\x1b]0;t\x07"})
    leader, follower = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "watch", batch.id, *FAST],
        env=env,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=subprocess.PIPE,
    )
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert child.wait(timeout=60) == 0, child.stderr.read() if child.stderr else ""
    text = seen.decode()
    assert f"\x1b]9;batchdeck: batch completed: {batch.id} (evil\\x1b]0;t\\x07)" in text
    assert f"\x1b]777;notify;batchdeck: batch completed;{batch.id}" in text
    assert text.count("\x1b]") == 2  # the description's own escape is defused
