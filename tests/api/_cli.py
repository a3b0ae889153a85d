"""Helpers for the headless command tests: run ``batchdeck`` in-process against the
embedded server (``tui.cli.main(argv)``), or in a subprocess for exit codes and
imports."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import API_KEY
from tui.cli import main
from tui.localapi.server import LocalServer

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


def point_at(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the default profile use ``server`` (as a user would with the env vars)."""
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Ran:
    """``batchdeck ARGV`` in this process; argparse's exits become the code."""
    capsys.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return Ran(code, out, err)


def env_for(server: LocalServer | None, tmp_path: Path) -> dict[str, str]:
    """A child's environment: no OPENAI_* of the user's, private dirs, this server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "BATCHDECK_"))}
    env["BATCHDECK_CONFIG_DIR"] = os.environ.get("BATCHDECK_CONFIG_DIR", str(tmp_path / "c"))
    env["BATCHDECK_DATA_DIR"] = os.environ.get("BATCHDECK_DATA_DIR", str(tmp_path / "d"))
    env["PYTHONPATH"] = str(REPO)
    if server is not None:
        env["OPENAI_BASE_URL"] = server.base_url
        env["OPENAI_API_KEY"] = API_KEY
    return env


def run_child(
    server: LocalServer | None, tmp_path: Path, *argv: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``batchdeck ARGV`` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *argv],
        env=env_for(server, tmp_path),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


@dataclass
class Served:
    """A ``batchdeck serve`` child: its banner, then (after the block) its output."""

    banner: list[str] = field(default_factory=list)
    out: str = ""
    err: str = ""
    code: int | None = None

    @property
    def url(self) -> str:
        """The URL the first banner line announces (``.../v1`` or a dialect's base)."""
        return self.banner[0].split(" at ")[1].strip()

    @property
    def shown(self) -> str:
        return "".join(self.banner)


@contextlib.contextmanager
def serving(
    *args: str, env: dict[str, str] | None = None, stderr: Any = subprocess.PIPE
) -> Iterator[Served]:
    """Run ``batchdeck serve ARGS`` until its banner is out; Ctrl+C (SIGINT) when the
    block ends, the child's output and exit code kept on the :class:`Served`."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env=env,
        cwd=REPO,
    )
    served = Served()
    try:
        assert proc.stdout is not None
        served.banner.append(proc.stdout.readline())
        while "Ctrl+C" not in served.banner[-1]:
            served.banner.append(proc.stdout.readline())
            assert served.banner[-1], "batchdeck serve stopped early"
        yield served
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        served.out, served.err, served.code = out or "", err or "", proc.returncode
