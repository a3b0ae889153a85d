"""Special files are refused at once: a FIFO, a directory, a device, an unreadable path.

``batchdeck validate`` on a FIFO used to block forever in ``open()``; each case is now
a plain message and exit 1, and the core helper refuses them before reading a byte.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tui.cli import main
from tui.core.compose import read_rows
from tui.core.requests import UnreadableFileError, open_request_file, split, validate

LINE = {
    "custom_id": "a",
    "method": "POST",
    "url": "/v1/chat/completions",
    "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
}


def special_paths(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, words the message must hold)."""
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    (tmp_path / "dir.jsonl").mkdir()
    not_a_dir = tmp_path / "plain.txt"
    not_a_dir.write_text("x")
    return {
        "fifo": (fifo, "FIFO"),
        "directory": (tmp_path / "dir.jsonl", "directory"),
        "dev-null": (Path("/dev/null"), "character device"),
        "dev-zero": (Path("/dev/zero"), "character device"),
        # Unreadable even for root: a path whose parent is a file (ENOTDIR).
        "unreadable": (not_a_dir / "in.jsonl", "cannot read it"),
    }


CASES = ["fifo", "directory", "dev-null", "dev-zero", "unreadable"]


@pytest.mark.parametrize("case", CASES)
def test_core_refuses_special_files(tmp_path: Path, case: str) -> None:
    path, words = special_paths(tmp_path)[case]
    for action in (
        lambda: open_request_file(path),
        lambda: validate(path),
        lambda: split(path, tmp_path),
        lambda: list(read_rows(path, "jsonl")),
    ):
        with pytest.raises(UnreadableFileError, match=words) as info:
            action()
        assert str(path) in str(info.value)
        assert isinstance(info.value, OSError)


@pytest.mark.parametrize("case", CASES)
def test_cli_validate_refuses_special_files(
    tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path, words = special_paths(tmp_path)[case]
    assert main(["validate", str(path)]) == 1
    captured = capsys.readouterr()
    assert words in captured.err and str(path) in captured.err
    assert "Traceback" not in captured.err


@pytest.mark.parametrize("case", CASES)
def test_cli_submit_refuses_special_files_with_exit_1(
    tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused before any client is made: nothing is sent, no server is needed."""
    path, words = special_paths(tmp_path)[case]
    assert main(["submit", str(path), "--endpoint", "/v1/chat/completions"]) == 1
    captured = capsys.readouterr()
    assert words in captured.err and "Traceback" not in captured.err


def test_cli_validate_on_a_fifo_does_not_hang(tmp_path: Path) -> None:
    """In a child process with a timeout: before the fix this blocked in open()."""
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "validate", str(fifo)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "FIFO (named pipe), not a regular file" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_regular_file_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(LINE) + "\n")
    with open_request_file(path) as handle:
        assert handle.read() == path.read_bytes()
    assert validate(path).ok
    link = tmp_path / "link.jsonl"
    link.symlink_to(path)  # a symlink to a regular file is one
    assert validate(link).ok
