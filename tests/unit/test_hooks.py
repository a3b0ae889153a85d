"""Notifications: the hook's environment and argv (never a shell), OSC sequences,
[hooks] parsing, the events a batch calls for, and once-only delivery under races."""

from __future__ import annotations

import shlex
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tests._hooks import recorder, runs
from tui.core import alerts, hooks
from tui.core.config import ConfigError, load_config
from tui.core.hook_settings import TERMINAL_CHOICES, HookSettings
from tui.core.hooks import Event
from tui.core.models import Batch, RequestCounts
from tui.core.registry import Job, Registry

REPO = Path(__file__).resolve().parents[2]
NOW = 1_800_000_000.0
HOSTILE = "nightly $(rm -rf ~) `id`; touch x && echo 'q\" | cat"


def settings_for(command: str, **extra: object) -> HookSettings:
    return replace(HookSettings(on_final=tuple(shlex.split(command))), **extra)  # type: ignore[arg-type]


def batch(status: str = "completed", **fields: object) -> Batch:
    values: dict[str, object] = {
        "id": "batch_1",
        "status": status,
        "endpoint": "/v1/chat/completions",
        "input_file_id": "file_1",
        "created_at": int(NOW) - 3000,
        "request_counts": RequestCounts(total=10, completed=8, failed=2),
        "metadata": {"description": HOSTILE},
    }
    if status == "completed":
        values["completed_at"] = int(NOW) - 10
    values.update(fields)
    return Batch(**values)  # type: ignore[arg-type]


def event(**fields: object) -> Event:
    values: dict[str, object] = {
        "kind": "final",
        "key": "final",
        "batch_id": "batch_1",
        "status": "completed",
        "description": HOSTILE,
        "completed": 8,
        "failed": 2,
        "total": 10,
    }
    values.update(fields)
    return Event(**values)  # type: ignore[arg-type]


# -- the hook command --------------------------------------------------------------


def test_hook_gets_the_facts_in_its_environment_and_never_a_shell(tmp_path: Path) -> None:
    out, command = recorder(tmp_path)
    problems = hooks.deliver(event(), settings_for(command))
    assert problems == []
    [run] = runs(out)
    assert run["argv"] == [str(out), "--flag"]  # argv is the config's, nothing added
    inherited = {"BATCHDECK_CONFIG_DIR", "BATCHDECK_DATA_DIR"}  # ours, passed on
    assert {k: v for k, v in run["env"].items() if k not in inherited} == {
        "BATCHDECK_EVENT": "final",
        "BATCHDECK_BATCH_ID": "batch_1",
        "BATCHDECK_STATUS": "completed",
        "BATCHDECK_DESCRIPTION": HOSTILE,  # literal: no shell ever saw it
        "BATCHDECK_DETAIL": "",
        "BATCHDECK_COMPLETED": "8",
        "BATCHDECK_FAILED": "2",
        "BATCHDECK_TOTAL": "10",
    }
    assert not (tmp_path / "x").exists() and not Path("x").exists()


def test_shell_syntax_in_the_command_line_is_just_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    command = f"{shlex.quote(sys.executable)} -c 'import sys' ; touch pwned && touch $(echo also)"
    assert hooks.deliver(event(), settings_for(command)) == []  # python ignores the rest
    assert list(tmp_path.iterdir()) == []


def test_server_text_that_an_environment_cannot_hold_is_dropped(tmp_path: Path) -> None:
    out, command = recorder(tmp_path)
    assert hooks.deliver(event(description="a\0b\ud800c"), settings_for(command)) == []
    assert runs(out)[0]["env"]["BATCHDECK_DESCRIPTION"] == "ab?c"


def test_hook_failures_are_reported_not_raised(tmp_path: Path) -> None:
    failing = [sys.executable, "-c", "import sys; sys.stderr.write('boom\\x1b[2J'); sys.exit(3)"]
    [problem] = hooks.deliver(event(), HookSettings(on_final=tuple(failing)))
    assert "exit status 3" in problem and "boom" in problem and "\x1b" not in problem
    [missing] = hooks.deliver(event(), HookSettings(on_final=("/no/such/notifier",)))
    assert "could not start" in missing


def test_a_hook_that_hangs_is_stopped_with_its_children(tmp_path: Path) -> None:
    child_pid = tmp_path / "child.pid"
    hang = (
        "import subprocess, sys, time; "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        f"open({str(child_pid)!r}, 'w').write(str(p.pid)); time.sleep(60)"
    )
    settings = HookSettings(on_final=(sys.executable, "-c", hang), timeout=2.0)
    [problem] = hooks.deliver(event(), settings)
    assert "timed out after 2s" in problem
    pid = int(child_pid.read_text())
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:  # killed with its group
        time.sleep(0.05)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0]
    except (FileNotFoundError, ProcessLookupError):  # reaped, maybe while being read
        return False
    return state != "Z"


# -- terminal and desktop --------------------------------------------------------------


def test_terminal_notifications_are_osc_9_and_777_with_escapes_defused() -> None:
    written: list[str] = []
    hostile = event(description="x\x1b]0;pwned\x07;y\x9d")
    problems = hooks.deliver(hostile, HookSettings(terminal=TERMINAL_CHOICES), written.append)
    assert problems == []
    [text] = written
    osc9, osc777 = text.split("\x07")[:2]
    assert osc9.startswith("\x1b]9;batchdeck: batch completed: batch_1 (x")
    assert osc777.startswith("\x1b]777;notify;batchdeck: batch completed;batch_1 (x")
    assert text.count("\x1b") == 2 and text.count("\x07") == 2  # only our own
    assert "\x9d" not in text
    only9 = hooks.terminal_text(hostile, ("osc9",))
    assert only9.startswith("\x1b]9;") and "777" not in only9


def test_desktop_notifier_is_used_only_when_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert hooks.desktop_command(event(), "linux") is None
    assert hooks.desktop_command(event(), "darwin") is None
    for name in ("notify-send", "osascript"):
        tool = tmp_path / name
        tool.write_text("#!/bin/sh\nexit 0\n")
        tool.chmod(0o755)
    argv = hooks.desktop_command(event(description="-rf"), "linux")
    assert argv is not None and argv[:3] == ("notify-send", "--app-name=batchdeck", "--")
    mac = hooks.desktop_command(event(), "darwin")
    assert mac is not None and mac[0] == "osascript" and HOSTILE not in " ".join(mac[:-2])
    assert hooks.deliver(event(), HookSettings(desktop=True)) == []


# -- [hooks] in config.toml ----------------------------------------------------------


def test_hooks_table_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[hooks]\non_final = "notify-me --flag \'two words\'"\nterminal = "osc777"\n'
        'desktop = true\ntimeout = "5s"\nstuck_finalizing = "3h"\nexpiry_warning = 600\n'
    )
    parsed = load_config(path).hooks
    assert parsed.on_final == ("notify-me", "--flag", "two words")
    assert parsed.terminal == ("osc777",) and parsed.desktop and parsed.timeout == 5.0
    assert parsed.stuck_finalizing == 3 * 3600 and parsed.expiry_warning == 600.0
    assert parsed.stuck_validating == HookSettings().stuck_validating
    assert not load_config(tmp_path / "missing.toml").hooks.active


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("on_final = 3", "hooks.on_final must be a string"),
        ('on_final = "a \'b"', "cannot be split"),
        ('timeout = "soon"', "hooks.timeout must be a positive duration"),
        ("terminal = 1", "hooks.terminal must be true"),
        ("sound = true", "unknown field 'sound'"),
    ],
)
def test_bad_hooks_say_what_and_where(tmp_path: Path, body: str, says: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[hooks]\n{body}\n")
    with pytest.raises(ConfigError, match=str(path)) as caught:
        load_config(path)
    assert says in str(caught.value)


# -- which events are due ------------------------------------------------------------


def test_final_fires_for_news_only() -> None:
    settings = HookSettings(on_final=("x",))
    job = Job(job_id="j", batch_id="batch_1")
    assert [e.key for e in alerts.due(batch(), job, settings, NOW)] == ["final"]
    old = batch(completed_at=int(NOW) - 3 * 86400)
    assert alerts.due(old, job, settings, NOW) == []
    assert [e.key for e in alerts.due(old, job, settings, NOW, seen_active=True)] == ["final"]
    sent = replace(job, notified={"final": NOW})
    assert alerts.due(batch(), sent, settings, NOW) == []


def test_a_queue_part_is_told_with_its_group_not_alone() -> None:
    """A part's end is told once for its group (core.group_events); a plain batch's
    failure is news."""
    over = {"code": "token_limit_exceeded", "message": "Enqueued token limit reached"}
    failed = Batch.from_dict(
        {**batch().to_dict(), "status": "failed", "failed_at": int(NOW) - 10}
        | {"errors": {"object": "list", "data": [over]}}
    )
    settings = HookSettings(on_final=("x",))
    queued = {"order": 0, "parts": 2, "tokens": 50, "model": "m", "in_flight_at_send": 120}
    part = Job(job_id="j", batch_id="batch_1", group_id="grp-1", submission={"queue": queued})
    assert alerts.due(failed, part, settings, NOW) == []
    alone = replace(part, submission={"queue": {**queued, "in_flight_at_send": 50}})
    assert alerts.due(failed, alone, settings, NOW) == []
    plain = Job(job_id="j", batch_id="batch_1")  # not the queue's: its failure is news
    assert [e.key for e in alerts.due(failed, plain, settings, NOW)] == ["final"]


def test_stuck_and_expiring_are_due_past_their_thresholds() -> None:
    settings = HookSettings(on_final=("x",), stuck_finalizing=600, expiry_warning=3600)
    job = Job(job_id="j", batch_id="batch_1")
    fresh = batch("finalizing", finalizing_at=int(NOW) - 60, expires_at=int(NOW) + 7200)
    assert alerts.due(fresh, job, settings, NOW) == []
    late = batch("finalizing", finalizing_at=int(NOW) - 700, expires_at=int(NOW) + 1800)
    found = alerts.due(late, job, settings, NOW)
    assert [(e.kind, e.key, e.detail) for e in found] == [
        ("stuck", "stuck:finalizing", "finalizing for 11m"),
        ("expiring", "expiring", "finalizing, expires in 30m"),
    ]
    validating = batch("validating", created_at=int(NOW) - 2 * 3600)
    assert [e.key for e in alerts.due(validating, job, settings, NOW)] == ["stuck:validating"]


# -- once only -----------------------------------------------------------------------


def test_notify_batch_fires_each_event_once(tmp_path: Path) -> None:
    out, command = recorder(tmp_path)
    registry = Registry(tmp_path / "jobs", durable=False)
    registry.add(Job(job_id="j", batch_id="batch_1"))
    settings = settings_for(command, stuck_finalizing=600.0)
    stuck = batch("finalizing", finalizing_at=int(NOW) - 700)
    first = alerts.notify_batch(registry, stuck, settings, now=NOW)
    assert [e.key for e in first.fired] == ["stuck:finalizing"] and first.problems == []
    assert alerts.notify_batch(registry, stuck, settings, now=NOW + 60).fired == []
    done = alerts.notify_batch(registry, batch(), settings, now=NOW)
    assert [e.key for e in done.fired] == ["final"]
    assert alerts.notify_batch(registry, batch(), settings, now=NOW).fired == []
    assert sorted(run["env"]["BATCHDECK_EVENT"] for run in runs(out)) == ["final", "stuck"]
    assert set(Registry(tmp_path / "jobs").get("j").notified) == {"stuck:finalizing", "final"}  # type: ignore[union-attr]


def test_expiry_alert_fires_once_and_the_final_event_still_follows(tmp_path: Path) -> None:
    out, command = recorder(tmp_path)
    registry = Registry(tmp_path / "jobs", durable=False)
    registry.add(Job(job_id="j", batch_id="batch_1"))
    settings = settings_for(command, expiry_warning=3600.0)
    late = batch("in_progress", in_progress_at=int(NOW) - 60, expires_at=int(NOW) + 600)
    for minute in range(3):  # polled again and again: one alert
        fired = alerts.notify_batch(registry, late, settings, now=NOW + 60 * minute).fired
        assert [e.key for e in fired] == (["expiring"] if minute == 0 else [])
    [alert] = runs(out)
    assert alert["env"]["BATCHDECK_EVENT"] == "expiring"
    assert alert["env"]["BATCHDECK_DETAIL"] == "in_progress, expires in 10m"
    expired = batch("expired", expired_at=int(NOW) + 600)
    assert [
        e.key for e in alerts.notify_batch(registry, expired, settings, now=NOW + 601).fired
    ] == ["final"]


def test_unknown_batches_fire_only_when_adopted(tmp_path: Path) -> None:
    out, command = recorder(tmp_path)
    registry = Registry(tmp_path / "jobs", durable=False)
    settings = settings_for(command)
    assert alerts.notify_batch(registry, batch(), settings, now=NOW).fired == []
    adopted = alerts.notify_batch(registry, batch(), settings, now=NOW, adopt=True)
    assert [e.key for e in adopted.fired] == ["final"]
    assert len(runs(out)) == 1
    assert not alerts.notify_batch(registry, batch(), HookSettings(), now=NOW).fired


def test_an_adopted_batch_belongs_to_the_profile_it_was_read_from(tmp_path: Path) -> None:
    """A job with no profile is listed under every profile; adopting gives it one."""
    from tui.core.config import Profile

    _, command = recorder(tmp_path)
    registry = Registry(tmp_path / "jobs", durable=False)
    work = Profile("work", base_url="https://user:pw@gw.example/v1")
    alerts.notify_batch(registry, batch(), settings_for(command), now=NOW, adopt=True, profile=work)
    job = registry.find_by_batch(batch().id)
    assert job is not None and (job.profile, job.base_url) == ("work", "https://gw.example/v1")


def test_threads_racing_fire_once(tmp_path: Path) -> None:
    out, command = recorder(tmp_path)
    Registry(tmp_path / "jobs", durable=False).add(Job(job_id="j", batch_id="batch_1"))
    settings = settings_for(command)
    start = threading.Barrier(8)
    fired: list[int] = []

    def racer() -> None:
        registry = Registry(tmp_path / "jobs", durable=False)  # one each, like processes
        registry.load()
        start.wait()
        fired.append(len(alerts.notify_batch(registry, batch(), settings, now=NOW).fired))

    threads = [threading.Thread(target=racer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(fired) == [0] * 7 + [1]
    assert len(runs(out)) == 1


RACER = """
import shlex, sys, time
from pathlib import Path
from tui.core import alerts
from tui.core.hook_settings import HookSettings
from tui.core.models import Batch, RequestCounts
from tui.core.registry import Registry

root, command, me = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
registry = Registry(root, durable=False)
registry.load()
batch = Batch(id="batch_1", status="failed", endpoint="/v1/embeddings", input_file_id="f",
              created_at=1, failed_at=int(time.time()), request_counts=RequestCounts())
(root.parent / f"ready-{me}").touch()
while not (root.parent / "go").exists():
    time.sleep(0.001)
settings = HookSettings(on_final=tuple(shlex.split(command)))
print(len(alerts.notify_batch(registry, batch, settings).fired))
"""


def test_processes_racing_fire_once(tmp_path: Path) -> None:
    out, command = recorder(tmp_path)
    root = tmp_path / "jobs"
    Registry(root, durable=False).add(Job(job_id="j", batch_id="batch_1"))
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(root), command, str(me)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        for me in range(2)
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{me}").exists() for me in range(2)):
        assert time.monotonic() < deadline and all(r.poll() is None for r in racers)
        time.sleep(0.01)
    (tmp_path / "go").touch()
    printed = sorted(racer.communicate(timeout=60)[0].strip() for racer in racers)
    assert printed == ["0", "1"]
    [run] = runs(out)
    assert run["env"]["BATCHDECK_STATUS"] == "failed"
