"""The queue runner announces a job group once when its every part is final: the
``[hooks]`` command gets BATCHDECK_GROUP_ID and the counts of the whole group, from
``queue run --until-done``, and two runners started together after it ended still
fire it once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests._hooks import hooks_config, recorder, runs
from tests.api._cli import REPO, env_for, point_at, run
from tests.api.conftest import chat_line, jsonl
from tests.api.test_queue_flow import part_tokens
from tui.localapi.server import LocalServer

Capsys = pytest.CaptureFixture[str]
REQUESTS = 6


def enqueue(capsys: Capsys, tmp_path: Path) -> str:
    source = tmp_path / "job.jsonl"
    source.write_bytes(jsonl([chat_line(f"n-{i}", "Say hi.") for i in range(REQUESTS)]))
    tokens = str(part_tokens(tmp_path))  # about two of these requests per part
    queued = run(capsys, "submit", str(source), "--queue", "--part-tokens", tokens, "--json")
    assert queued.code == 0, queued.err
    assert len(json.loads(queued.out)["queued"]) > 1
    return str(json.loads(queued.out)["group_id"])


def test_queue_run_announces_the_group_once(
    server: LocalServer, tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_at(server, monkeypatch)
    out, command = recorder(tmp_path)
    hooks_config(tmp_path, command)
    group = enqueue(capsys, tmp_path)
    done = run(
        capsys, "queue", "run", "--until-done", "--interval", "10ms", "--timeout", "120", "--json"
    )
    assert done.code == 0, done.err
    reports = done.json_lines()
    assert [r["notified"] for r in reports if r["notified"]] == [[group]]
    [fired] = runs(out)
    env = fired["env"]
    assert env["BATCHDECK_GROUP_ID"] == group and env["BATCHDECK_STATUS"] == "completed"
    assert (env["BATCHDECK_COMPLETED"], env["BATCHDECK_TOTAL"]) == (str(REQUESTS), str(REQUESTS))
    again = run(capsys, "queue", "run", "--once", "--json")
    assert again.code == 0 and again.json_lines()[0]["notified"] == []
    assert len(runs(out)) == 1


def test_two_runners_after_the_end_fire_once(
    server: LocalServer, tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_at(server, monkeypatch)
    group = enqueue(capsys, tmp_path)
    done = run(capsys, "queue", "run", "--until-done", "--interval", "10ms", "--timeout", "120")
    assert done.code == 0, done.err  # no hooks yet: nothing announced
    out, command = recorder(tmp_path)
    hooks_config(tmp_path, command)
    runners = [
        subprocess.Popen(
            [sys.executable, "-m", "tui.cli", "queue", "run", "--once", "--json"],
            env=env_for(server, tmp_path),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    said = [runner.communicate(timeout=60) for runner in runners]
    assert all(runner.returncode == 0 for runner in runners), said
    notified = [json.loads(stdout)["notified"] for stdout, _ in said]
    assert sorted(notified) == [[], [group]]
    [fired] = runs(out)
    assert fired["env"]["BATCHDECK_GROUP_ID"] == group
