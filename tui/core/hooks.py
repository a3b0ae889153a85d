"""Notifications that reach people: a command, the terminal, the desktop.

What to do is the ``[hooks]`` table of ``config.toml`` (:class:`HookSettings`, read
by ``tui.core.config``; in :mod:`tui.core.hook_settings`, which the app's start-up loads
without the rest); what happened is an :class:`Event` (``tui.core.alerts``
decides when one is due and makes sure it fires once). :func:`deliver` sends one
event every configured way and returns the problems, never raises:

- ``on_final = "notify-me --flag"``: split with :mod:`shlex` into argv once, when the
  config is read, and run **without a shell**; what the server said (the description,
  the status) reaches it only as environment values (:func:`hook_environment`), never
  in argv. Its output goes nowhere (it must not scribble over the app), it is killed
  (with its process group) after ``timeout`` seconds.
- ``terminal = true``: OSC 9 and OSC 777 notifications written to the terminal
  (``"osc9"`` or ``"osc777"`` for one of them); they pass through SSH.
- ``desktop = true``: ``notify-send`` (Linux) or ``osascript`` (macOS), if on PATH.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tui.core.hook_settings import HookSettings
from tui.core.text import one_line, scrub

DESKTOP_TIMEOUT = 10.0
STDERR_SHOWN = 300  # characters of a failed hook's stderr put in the report
ENV_PREFIX = "BATCHDECK_"

Writer = Callable[[str], None]


@dataclass(frozen=True)
class Event:
    """Something to tell people about one batch, or with ``group_id`` about a job
    group of the queue (``tui.core.group_events``; ``batch_id`` is then empty).

    ``kind`` is ``final``, ``stuck`` or ``expiring``; ``key`` is what the registry
    records (``final``, ``stuck:finalizing``...); ``detail`` says why in words.
    """

    kind: str
    key: str
    batch_id: str
    status: str
    description: str = ""
    completed: int = 0
    failed: int = 0
    total: int = 0
    detail: str = ""
    group_id: str = ""

    def title(self) -> str:
        if self.group_id:
            return f"job group {self.status}"
        if self.kind == "final":
            return f"batch {self.status}"
        return "batch stuck" if self.kind == "stuck" else "batch near its expiry"

    def body(self) -> str:
        subject = self.batch_id or self.group_id
        name = f"{subject} ({self.description})" if self.description else subject
        counts = f"{self.completed}/{self.total} done" if self.total else ""
        if self.failed:
            counts += f", {self.failed} failed"
        parts = [name, self.detail or self.status, counts]
        return " · ".join(part for part in parts if part)


def hook_environment(event: Event, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The hook's environment: ``base`` (default: ours) plus the event's facts.

    Values are the server's text as it is (no quoting, nothing interpreted), minus
    what an environment cannot hold (NUL, lone surrogates) and secrets."""
    env = dict(os.environ if base is None else base)
    facts = {
        "EVENT": event.kind,
        "BATCH_ID": event.batch_id,
        "STATUS": event.status,
        "DESCRIPTION": event.description,
        "DETAIL": event.detail,
        "COMPLETED": str(event.completed),
        "FAILED": str(event.failed),
        "TOTAL": str(event.total),
    }
    if event.group_id:
        facts["GROUP_ID"] = event.group_id
    for name, value in facts.items():
        env[ENV_PREFIX + name] = _env_value(value)
    return env


def _env_value(text: str) -> str:
    text = scrub(text).replace("\0", "")
    return text.encode("utf-8", "replace").decode("utf-8")


def run_command(argv: tuple[str, ...], env: Mapping[str, str] | None, timeout: float) -> str | None:
    """Run ``argv`` (no shell) with its output discarded; ``None`` if it exited 0,
    else a one-line problem (not found, exit status with stderr's tail, timeout)."""
    name = one_line(argv[0], 60)
    with tempfile.TemporaryFile() as errors:
        try:
            process = subprocess.Popen(
                list(argv),
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                start_new_session=True,  # its own group: a timeout kills its children too
                close_fds=True,
            )
        except OSError as exc:
            return f"hook {name} could not start: {exc.strerror or exc}"
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            return f"hook {name} timed out after {timeout:g}s and was stopped"
        if code == 0:
            return None
        errors.seek(0)
        said = errors.read()[-4 * STDERR_SHOWN :].decode("utf-8", "replace").strip()
        said = f": {one_line(said[-STDERR_SHOWN:])}" if said else ""
        return f"hook {name} failed (exit status {code}){said}"


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        process.kill()
    process.wait()


def terminal_text(event: Event, choices: tuple[str, ...]) -> str:
    """OSC 9 and/or OSC 777 notifications for ``event``; control characters of the
    server's text are escaped (they could end the sequence early) and the title
    holds no ``;`` (OSC 777's separator)."""
    title = one_line(f"batchdeck: {event.title()}", 80).replace(";", ",")
    body = one_line(event.body(), 240)
    out = ""
    if "osc9" in choices:
        out += f"\x1b]9;{title}: {body}\x07"
    if "osc777" in choices:
        out += f"\x1b]777;notify;{title};{body}\x07"
    return out


def desktop_command(event: Event, platform: str = sys.platform) -> tuple[str, ...] | None:
    """The desktop notifier's argv for ``event``, or ``None`` if none is on PATH.
    The texts are arguments of a program that takes no shell (after ``--`` for
    ``notify-send``, as ``argv`` items of the AppleScript)."""
    title = _argument(f"batchdeck: {event.title()}")
    body = _argument(event.body())
    if platform == "darwin":
        if shutil.which("osascript") is None:
            return None
        script = (
            "on run argv",
            "display notification (item 2 of argv) with title (item 1 of argv)",
            "end run",
        )
        return ("osascript", *(part for line in script for part in ("-e", line)), title, body)
    if shutil.which("notify-send") is None:
        return None
    return ("notify-send", "--app-name=batchdeck", "--", title, body)


def _argument(text: str) -> str:
    text = one_line(text, 240)
    return " " + text if text.startswith("-") else text


def deliver(event: Event, settings: HookSettings, terminal: Writer | None = None) -> list[str]:
    """Send ``event`` every way ``settings`` turns on; the problems, in words."""
    problems: list[str] = []
    if settings.terminal and terminal is not None:
        try:
            terminal(terminal_text(event, settings.terminal))
        except (OSError, ValueError) as exc:
            problems.append(f"terminal notification failed: {exc}")
    if settings.desktop:
        argv = desktop_command(event)
        if argv is not None:
            problem = run_command(argv, None, DESKTOP_TIMEOUT)
            if problem:
                problems.append(problem)
    command = settings.command_for(event.kind)
    if command:
        problem = run_command(command, hook_environment(event), settings.timeout)
        if problem:
            problems.append(problem)
    return problems
