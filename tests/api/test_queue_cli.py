"""``batchdeck submit --queue`` and ``batchdeck queue ...`` as a script uses them:
exit codes, what is printed, pause/resume/drop, and one runner at a time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.api._cli import point_at, run
from tests.api.conftest import MakeServer, chat_line, jsonl
from tests.api.test_queue_flow import part_tokens
from tui.core.client import BatchClient
from tui.core.config import load_config
from tui.core.journal import _hold
from tui.core.queue import queue_dir, run_queue_pass
from tui.core.registry import Registry
from tui.localapi.server import LocalServer


def small_job(tmp_path: Path, count: int = 4) -> Path:
    path = tmp_path / "small.jsonl"
    path.write_bytes(jsonl([chat_line(f"s-{i}", "Say hi.") for i in range(count)]))
    return path


def enqueue(capsys: pytest.CaptureFixture[str], tmp_path: Path, count: int = 4) -> str:
    source = small_job(tmp_path, count)
    tokens = part_tokens(tmp_path)  # two requests of the flow's job: more than one here
    done = run(capsys, "submit", str(source), "--queue", "--part-tokens", str(tokens), "--json")
    assert done.code == 0, done.err
    return str(json.loads(done.out)["group_id"])


def test_queue_ls_pause_resume_drop(
    server: LocalServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    point_at(server, monkeypatch)
    assert run(capsys, "queue", "ls").out == "The queue is empty.\n"
    group = enqueue(capsys, tmp_path)
    listed = run(capsys, "queue", "ls")
    assert listed.code == 0
    assert "default / gpt-4o-mini: 0 tokens in flight, limit unknown, " in listed.out
    assert f"{group}  waiting" in listed.out and "ready: the next pass sends it" in listed.out
    assert run(capsys, "queue", "pause", group).out == f"paused {group}\n"
    assert "paused" in run(capsys, "queue", "ls").out
    once = run(capsys, "queue", "run", "--once", "--json")
    (report,) = once.json_lines()
    assert once.code == 0 and report["sent"] == [] and report["held"] == [group]
    assert run(capsys, "queue", "resume", group).out == f"resumed {group}\n"
    dropped = run(capsys, "queue", "drop", group)
    assert dropped.code == 0 and dropped.out.startswith(f"dropped {group}: ")
    assert run(capsys, "queue", "ls").out == "The queue is empty.\n"
    missing = run(capsys, "queue", "drop", "grp-nope")
    assert missing.code == 1 and "no queued job group or part 'grp-nope'" in missing.err


def test_until_done_gives_up_with_124(
    make_server: MakeServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tui.localapi.clock import ManualClock

    point_at(make_server(clock=ManualClock()), monkeypatch)  # time stands still
    enqueue(capsys, tmp_path)
    until = ("--until-done", "--interval", "10ms", "--timeout", "0.2")
    timed_out = run(capsys, "queue", "run", *until)
    assert timed_out.code == 124 and "queue not done after 0.2 s" in timed_out.err


def test_until_done_fails_when_a_part_is_refused(
    server: LocalServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    point_at(server, monkeypatch)
    group = enqueue(capsys, tmp_path)
    server.faults.add("400", path="/v1/batches", method="POST", times=1)
    done = run(capsys, "queue", "run", "--until-done", "--interval", "10ms", "--timeout", "60")
    assert done.code == 1, done.err
    (status,) = json.loads(run(capsys, "queue", "ls", "--json").out)["groups"]
    assert (status["group_id"], status["status"], status["failed"]) == (group, "failed", 1)
    assert status["completed"] == status["parts"] - 1


def test_a_bad_file_is_not_queued(
    server: LocalServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    point_at(server, monkeypatch)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(jsonl([chat_line("a", "hi"), "{not json", chat_line("a", "again")]))
    done = run(capsys, "submit", str(bad), "--queue")
    assert done.code == 1 and "nothing queued" in done.err
    assert f"{bad}:2:" in done.out
    assert Registry().load() == {}
    for junk, said in ((b"", ": the file has no requests"), (b"garbage\n", ":1: not a JSON")):
        bad.write_bytes(junk)  # the validator's words, not a guess about line 1
        refused = run(capsys, "submit", str(bad), "--queue")
        assert refused.code == 1 and f"{bad}{said}" in refused.out, refused.err
    usage = run(capsys, "submit", str(bad), "--part-tokens", "100")
    assert usage.code == 2 and "--part-tokens goes with --queue" in usage.err


async def test_a_second_runner_does_nothing_while_one_runs(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_at(server, monkeypatch)
    profile = load_config().profile()
    registry = Registry()
    client = BatchClient(profile)
    with _hold(queue_dir(registry) / "runner.lock", wait=False) as mine:
        assert mine
        report = await run_queue_pass(registry, client, profile)
    assert report.busy and not report.done and report.sent == []
    report = await run_queue_pass(registry, client, profile)
    assert not report.busy and report.done
    await client.close()


def test_queue_run_tells_of_a_job_group_once_not_part_by_part(
    server: LocalServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A job left to ``queue run`` from cron tells people when it ends: the hook once
    for the whole group (summed counts), not once per part, and never again."""
    from tests._hooks import hooks_config, recorder, runs

    point_at(server, monkeypatch)
    out, command = recorder(tmp_path)
    hooks_config(tmp_path, command)
    from tui.core.tokens import estimate_file

    one = small_job(tmp_path, 1)
    each = estimate_file(one, exact=True).input_tokens
    source = small_job(tmp_path, 3)
    queued = run(capsys, "submit", str(source), "--queue", "--part-tokens", str(each), "--json")
    group = json.loads(queued.out)["group_id"]
    done = run(capsys, "queue", "run", "--until-done", "--interval", "10ms", "--timeout", "60")
    assert done.code == 0, done.err
    jobs = [job for job in Registry().load().values() if job.group_id == group]
    assert len(jobs) == 3 and all("final" not in job.notified for job in jobs)
    (hook,) = runs(out)
    assert hook["env"]["BATCHDECK_GROUP_ID"] == group
    assert hook["env"]["BATCHDECK_STATUS"] == "completed"
    assert hook["env"]["BATCHDECK_TOTAL"] == "3"
    assert run(capsys, "queue", "run", "--once").code == 0
    assert len(runs(out)) == 1
