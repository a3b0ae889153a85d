"""``batchdeck watch``: state changes, exit codes 0/1/124/130, faults and rate limits."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import openai
import pytest

from tests.api._cli import REPO, env_for, point_at, run
from tests.api.conftest import chat_line, chat_lines, submit
from tui.localapi.server import LocalServer

Capsys = pytest.CaptureFixture[str]
FAST = ("--interval", "0.01s", "--timeout", "30s")


@pytest.fixture(autouse=True)
def _env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    name = "manual_server" if "manual_server" in request.fixturenames else "server"
    point_at(request.getfixturevalue(name), monkeypatch)


def test_completed_without_failures_is_exit_0(client: openai.OpenAI, capsys: Capsys) -> None:
    batch = submit(client, chat_lines(3))
    ran = run(capsys, "watch", batch.id, *FAST)
    assert ran.code == 0, ran.err
    lines = ran.out.splitlines()
    assert lines, "at least the final state is printed"
    _date, _clock, zone, batch_id, status, counts = lines[-1].split()
    assert (zone, batch_id, status, counts) == ("UTC", batch.id, "completed", "3/3")
    assert len(lines) == len(set(lines))  # one line per change, never repeated
    assert ran.err == ""


def test_failed_requests_are_exit_1(client: openai.OpenAI, capsys: Capsys) -> None:
    batch = submit(client, chat_lines(4, fail_every=2))
    ran = run(capsys, "watch", batch.id, *FAST)
    assert ran.code == 1
    assert ran.out.splitlines()[-1].endswith("completed  4/4 (2 failed)")
    assert ran.err == f"batchdeck: {batch.id}: 2 failed requests\n"


def test_every_batch_is_waited_for_and_a_failed_one_is_exit_1(
    client: openai.OpenAI, capsys: Capsys
) -> None:
    good = submit(client, chat_lines(2))
    bad = submit(client, [chat_line("a", "x"), "{broken"])
    ran = run(capsys, "watch", good.id, bad.id, good.id, "--json", *FAST)
    assert ran.code == 1
    final = {}
    for event in ran.json_lines():
        assert set(event) == {"time", "profile", "id", "status", "request_counts"}
        final[event["id"]] = event["status"]
    assert final == {good.id: "completed", bad.id: "failed"}
    assert ran.err == f"batchdeck: {bad.id}: failed\n"


def test_cancelled_is_exit_1(
    manual_server: LocalServer, manual_client: openai.OpenAI, capsys: Capsys
) -> None:
    batch = submit(manual_client, chat_lines(2))
    manual_client.batches.cancel(batch.id)
    manual_server.advance(100)
    ran = run(capsys, "watch", batch.id, *FAST)
    assert ran.code == 1 and " cancelled" in ran.out
    assert ran.err.endswith(": cancelled\n")


def test_timeout_is_exit_124(
    manual_server: LocalServer, manual_client: openai.OpenAI, capsys: Capsys
) -> None:
    batch = submit(manual_client, chat_lines(2))  # the pinned clock keeps it validating
    ran = run(capsys, "watch", batch.id, "--interval", "0.01s", "--timeout", "0.15s")
    assert ran.code == 124
    assert ran.out.count("\n") == 1 and f"{batch.id}  validating" in ran.out
    assert "timed out" in ran.err and batch.id in ran.err


def test_unknown_batch_is_exit_1(client: openai.OpenAI, capsys: Capsys) -> None:
    ran = run(capsys, "watch", "batch_nope", *FAST)
    assert ran.code == 1 and ran.err.startswith("batchdeck: unknown batch 'batch_nope'")


@pytest.mark.parametrize(
    "argv",
    [["watch"], ["watch", "b", "--interval", "fast"], ["watch", "b", "--timeout", "-3s"]],
)
def test_bad_arguments_exit_2(capsys: Capsys, argv: list[str], client: openai.OpenAI) -> None:
    ran = run(capsys, *argv)
    assert ran.code == 2 and "usage: batchdeck watch" in ran.err


def test_server_failing_within_retries(
    server: LocalServer, client: openai.OpenAI, capsys: Capsys
) -> None:
    batch = submit(client, chat_lines(2))
    server.faults.add("500", times=2, retry_after=0.01, path="/v1/batches/*")
    assert run(capsys, "watch", batch.id, *FAST).code == 0
    assert len(server.faults.fired) == 2


def test_server_failing_beyond_retries_is_exit_1(
    server: LocalServer, client: openai.OpenAI, capsys: Capsys
) -> None:
    batch = submit(client, chat_lines(2))
    server.faults.add("500", times=None, retry_after=0.01, path="/v1/batches/*")
    ran = run(capsys, "watch", batch.id, *FAST)
    assert ran.code == 1 and ran.out == ""
    assert ran.err.startswith("batchdeck: Server error (500)") and "Traceback" not in ran.err


def test_rate_limit_beyond_retries_backs_off_and_goes_on(
    server: LocalServer, client: openai.OpenAI, capsys: Capsys
) -> None:
    batch = submit(client, chat_lines(2))
    # five 429s outlive the client's four retries once; watch waits and polls again
    server.faults.add("429", times=5, retry_after=0.01, path="/v1/batches/*")
    ran = run(capsys, "watch", batch.id, *FAST)
    assert ran.code == 0, ran.err
    assert [kind for kind, _, _ in server.faults.fired] == ["429"] * 5


def test_ctrl_c_is_exit_130_and_the_batch_keeps_running(
    manual_server: LocalServer, manual_client: openai.OpenAI, tmp_path: Path
) -> None:
    batch = submit(manual_client, chat_lines(2))
    child = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "watch", batch.id, "--interval", "0.05s"],
        env=env_for(manual_server, tmp_path),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as a background job of a non-interactive shell (CI) starts it: SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert child.stdout is not None
        first = child.stdout.readline()  # it is polling now
        assert f"{batch.id}  validating" in first
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130
    assert "keep running" in err and "Traceback" not in err
    assert manual_client.batches.retrieve(batch.id).status == "validating"
