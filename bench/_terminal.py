"""Time a command in a real terminal: tmux, from launch to a text on screen.

Each call starts its own tmux server (a private socket) with one 120x36 session
whose pane waits idle, then respawns that pane with the command (the clock starts
just before) and polls ``tmux capture-pane`` until the expected text is on screen.
The command's peak RSS so far is read from ``/proc/<pid>/status`` (``VmHWM``) at that
moment; then the tmux server is killed (the command gets SIGHUP) and the call waits
for the command to be gone, so no two measured commands ever overlap.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

WIDTH, HEIGHT = 120, 36
_SOCKETS = itertools.count()
POLL = 0.01  # seconds between two looks at the screen
TIMEOUT = 120.0


@dataclass(frozen=True)
class Shown:
    """When the text appeared (seconds from launch) and the command's peak RSS then."""

    seconds: float
    peak_rss: int  # bytes


def require_tmux() -> None:
    if shutil.which("tmux") is None:
        raise SystemExit("this benchmark drives a real terminal: it needs tmux")


def time_to_text(argv: Sequence[str], expected: str, *, history: bool = False) -> Shown:
    """Launch ``argv`` in a fresh 120x36 tmux pane; the time until ``expected`` is on
    screen (``history``: or in the pane's scrollback, for a command that prints)."""
    socket = f"batchdeck-bench-{os.getpid()}-{next(_SOCKETS)}"  # a fresh server each time
    tmux = ["tmux", "-L", socket, "-f", "/dev/null"]
    session = ["new-session", "-d", "-x", str(WIDTH), "-y", str(HEIGHT), "-s", "b", "cat"]
    subprocess.run([*tmux, *session], check=True)
    try:
        subprocess.run([*tmux, "set-option", "-t", "b", "remain-on-exit", "on"], check=True)
        capture = ["capture-pane", "-p", "-t", "b", *(["-S", "-"] if history else [])]
        look = [*tmux, *capture, ";", "display-message", "-p", "-t", "b", "#{pane_dead}"]
        started = time.perf_counter()
        subprocess.run([*tmux, "respawn-pane", "-k", "-t", "b", *argv], check=True)
        while True:
            out = subprocess.run(look, capture_output=True, text=True, check=True).stdout
            seconds = time.perf_counter() - started
            screen, _, dead = out.rstrip("\n").rpartition("\n")
            if expected in screen:
                break
            if dead == "1" or seconds > TIMEOUT:
                what = " ".join(argv)[:60]
                raise SystemExit(f"{what!r} never showed {expected!r}; its screen:\n{screen}")
            time.sleep(POLL)
        pid = int(_tmux_out(tmux, "display-message", "-p", "-t", "b", "#{pane_pid}"))
        return Shown(seconds, _peak_rss(pid))
    finally:
        pid_text = _tmux_out(tmux, "display-message", "-p", "-t", "b", "#{pane_pid}")
        subprocess.run([*tmux, "kill-server"], capture_output=True)
        if pid_text.isdigit():
            _wait_gone(int(pid_text))


def _tmux_out(tmux: list[str], *args: str) -> str:
    done = subprocess.run([*tmux, *args], capture_output=True, text=True)
    return done.stdout.strip()


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _wait_gone(pid: int) -> None:
    """Wait (up to ten seconds) until ``pid`` has ended (or is a zombie)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.02)
