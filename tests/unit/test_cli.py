"""The command line: help, version, and the no-key screen (never a traceback)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tui import __version__
from tui.cli import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"batchdeck {__version__}"


@pytest.mark.parametrize("argv", [["--help"], ["demo", "--help"], ["serve", "--help"]])
def test_help_for_each_command(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: batchdeck")
    if argv[0] == "serve":
        for option in ("--host", "--port", "--data-dir", "--upstream", "--time-scale", "--api-key"):
            assert option in out


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve", "--port", "not-a-number"])
    assert info.value.code == 2
    assert "invalid int value" in capsys.readouterr().err


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "BATCHDECK_"))}
    env["BATCHDECK_CONFIG_DIR"] = str(tmp_path / "config")
    env["BATCHDECK_DATA_DIR"] = str(tmp_path / "data")
    return env


def test_no_key_no_config_explains_in_one_screen(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tui.cli"],
        env=_clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "OPENAI_API_KEY" in result.stderr
    assert "batchdeck demo" in result.stderr
    assert "api_key_env" in result.stderr
    assert len(result.stderr.splitlines()) <= 24
    assert not (tmp_path / "config").exists()  # nothing written


def test_broken_config_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    env = _clean_env(tmp_path)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.toml").write_text("[profiles.x\n")
    result = subprocess.run(
        [sys.executable, "-m", "tui.cli"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "config.toml: not valid TOML" in result.stderr
