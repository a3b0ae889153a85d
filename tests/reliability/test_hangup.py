"""A hang-up ends batchdeck: the app in a real pty exits once its terminal is closed
(with or without the SIGHUP a controlling terminal sends) or on SIGHUP, the app
drawing into a pipe exits once the pipe's reader is gone, and commands printing
into a closed pipe end quietly.

Each case starts ``batchdeck demo`` (the embedded server, seeded, and the app on
it) in a fresh interpreter and waits (bounded) for it to exit.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.api._cli import REPO, env_for
from tests.reliability.conftest import Figures
from tui.hangup import HANGUP_EXIT

EXIT_WAIT = 30.0  # generous for a loaded machine; the app ends in about a second
START_WAIT = 60.0
ALT_SCREEN = b"\x1b[?1049h"  # Textual switched to its screen: the app is up

StartDemo = Callable[..., tuple[subprocess.Popen[bytes], int]]


def read_until(fd: int, marker: bytes, timeout: float = START_WAIT) -> bytes:
    """Read ``fd`` until ``marker`` appeared; fail if it has not after ``timeout``."""
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {marker!r} within {timeout:g} s; got {seen[-400:]!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f"output ended before {marker!r}: {seen[-400:]!r}")
            seen += chunk
    return seen


def ended(child: subprocess.Popen[bytes]) -> int:
    """The child's exit code, waiting at most EXIT_WAIT; a hung child fails the test."""
    try:
        return child.wait(timeout=EXIT_WAIT)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        raise AssertionError(f"still running {EXIT_WAIT:g} s after the hang-up") from None


def open_pty() -> tuple[int, int]:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    return master, slave


def make_controlling(slave: int) -> None:
    """In the child: a new session whose controlling terminal is the pty, as in tmux."""
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)


@pytest.fixture
def demo_in_pty(tmp_path: Path) -> Iterator[StartDemo]:
    """Start ``batchdeck demo`` on a new pty: ``start(controlling=..., stderr=...)``
    returns (child, master fd); everything is cleaned up at the end."""
    children: list[subprocess.Popen[bytes]] = []
    fds: list[int] = []

    def start(
        *, controlling: bool, stderr: int | None = None
    ) -> tuple[subprocess.Popen[bytes], int]:
        master, slave = open_pty()
        fds.append(master)
        env = env_for(None, tmp_path)
        env["TERM"] = "xterm-256color"
        child = subprocess.Popen(
            [sys.executable, "-m", "tui.cli", "demo"],
            stdin=slave,
            stdout=slave if stderr is None else stderr,
            stderr=slave if stderr is None else stderr,
            env=env,
            cwd=REPO,
            start_new_session=not controlling,
            preexec_fn=(lambda: make_controlling(slave)) if controlling else None,
        )
        os.close(slave)
        children.append(child)
        return child, master

    yield start
    for child in children:
        if child.poll() is None:
            child.kill()
            child.wait()
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def test_closing_the_controlling_terminal_ends_the_app(
    demo_in_pty: StartDemo, figures: Figures
) -> None:
    child, master = demo_in_pty(controlling=True)
    read_until(master, ALT_SCREEN)
    os.close(master)  # tmux killed: the kernel hangs up the terminal and sends SIGHUP
    assert ended(child) in (HANGUP_EXIT, -signal.SIGHUP)
    figures("hang-ups survived", 1)


def test_a_terminal_gone_without_sighup_ends_the_app(
    demo_in_pty: StartDemo, figures: Figures
) -> None:
    child, master = demo_in_pty(controlling=False)  # no controlling tty: no SIGHUP at all
    read_until(master, ALT_SCREEN)
    os.close(master)
    assert ended(child) == HANGUP_EXIT
    figures("hang-ups survived", 1)


def test_sighup_ends_the_app(demo_in_pty: StartDemo, figures: Figures) -> None:
    child, master = demo_in_pty(controlling=False)
    read_until(master, ALT_SCREEN)
    child.send_signal(signal.SIGHUP)  # the terminal is still there: a clean exit
    assert ended(child) == HANGUP_EXIT
    figures("hang-ups survived", 1)


def test_a_normal_quit_is_no_hang_up(demo_in_pty: StartDemo) -> None:
    child, master = demo_in_pty(controlling=True)
    read_until(master, b"Quit")  # the footer is painted: keys are read
    os.write(master, b"q")
    assert ended(child) == 0


def test_the_app_drawing_into_a_dead_pipe_ends(demo_in_pty: StartDemo, figures: Figures) -> None:
    reader, writer = os.pipe()
    try:
        child, _master = demo_in_pty(controlling=False, stderr=writer)  # `2>&1 | head -1`
    finally:
        os.close(writer)
    read_until(reader, ALT_SCREEN)
    os.close(reader)  # the reader died
    assert ended(child) == HANGUP_EXIT
    figures("hang-ups survived", 1)


def test_commands_printing_into_a_closed_pipe_end_quietly(tmp_path: Path, figures: Figures) -> None:
    """``batchdeck registry ls | head -1``: the reader is gone after one line."""
    from tui.core.registry import Job, Registry

    env = env_for(None, tmp_path)
    registry = Registry(Path(env["BATCHDECK_CONFIG_DIR"]) / "jobs", durable=False)
    for number in range(3000):
        registry.add(Job(job_id=f"job_{number:05d}", description="x" * 60))
    survived = 0
    for argv in (["registry", "ls"], ["registry", "ls", "--json"]):
        child = subprocess.Popen(
            [sys.executable, "-m", "tui.cli", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=REPO,
        )
        assert child.stdout is not None and child.stderr is not None
        assert child.stdout.readline()
        child.stdout.close()  # like `| head -1`
        code = ended(child)
        err = child.stderr.read().decode()
        child.stderr.close()
        assert code == 0 and "Traceback" not in err and "Broken pipe" not in err, err
        survived += 1
    figures("hang-ups survived", survived)


def test_watch_into_a_closed_pipe_ends_before_its_next_line(
    tmp_path: Path, figures: Figures
) -> None:
    """``batchdeck watch ID | head -1`` on a batch that stays validating: no line
    would ever fail to print, yet watch ends once its reader is gone."""
    from tests.api.conftest import chat_lines, jsonl
    from tui.localapi.clock import ManualClock
    from tui.localapi.server import LocalServer

    server = LocalServer(tmp_path / "server", api_key="sk-test-local", clock=ManualClock())
    server.start()
    try:
        import openai

        sdk = openai.OpenAI(api_key="sk-test-local", base_url=server.base_url)
        upload = sdk.files.create(file=("in.jsonl", jsonl(chat_lines(2))), purpose="batch")
        batch = sdk.batches.create(
            input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        child = subprocess.Popen(
            [sys.executable, "-m", "tui.cli", "watch", batch.id, "--interval", "0.05"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env_for(server, tmp_path),
            cwd=REPO,
        )
        assert child.stdout is not None and child.stderr is not None
        assert b"validating" in child.stdout.readline()
        child.stdout.close()  # like `| head -1`
        code = ended(child)
        err = child.stderr.read().decode()
        child.stderr.close()
    finally:
        server.stop()
    assert code == 0 and "Traceback" not in err, err
    figures("hang-ups survived", 1)
