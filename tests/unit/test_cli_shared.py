"""The headless commands' shared parts: help, durations, tables, confirmations,
configuration errors and the web command's safety (no server needed)."""

from __future__ import annotations

import argparse
import io

import pytest

from tui.cli import main
from tui.commands import COMMANDS, _shared, web

HEADLESS = ("ls", "show", "watch", "download", "cancel", "files", "registry", "reconcile", "web")
NESTED = (("files", "ls"), ("files", "rm"), ("files", "get"), ("registry", "ls"),
          ("registry", "note"), ("registry", "tag"), ("registry", "forget"))  # fmt: skip


def test_every_command_is_registered() -> None:
    assert set(HEADLESS) <= set(COMMANDS)


@pytest.mark.parametrize(
    "argv", [[name, "--help"] for name in HEADLESS] + [[*n, "--help"] for n in NESTED]
)
def test_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: batchdeck {' '.join(argv[:-1])}")
    assert "--profile" in out or (argv[0] in ("files", "registry") and len(argv) == 2)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s", 10), ("30m", 1800), ("2d", 172800), ("1h30m", 5400), ("250ms", 0.25), ("7", 7),
     ("0.5s", 0.5), ("1w", 604800), (" 2H ", 7200)],
)  # fmt: skip
def test_durations(text: str, seconds: float) -> None:
    assert _shared.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "10x", "s", "-3s", "1.s", "10 s", "1h-5m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="duration"):
        _shared.parse_duration(text)


def test_table_pads_every_column_but_the_last_and_cuts_nothing() -> None:
    long_id = "batch_" + "x" * 60
    out = _shared.table(("ID", "NOTE"), [(long_id, "a"), ("b", "longer note")])
    assert out.splitlines() == [
        "ID" + " " * (len(long_id) - 2) + "  NOTE",
        f"{long_id}  a",
        "b" + " " * (len(long_id) - 1) + "  longer note",
    ]


def test_counts_text() -> None:
    assert _shared.counts_text(0, 0, 0) == ""
    assert _shared.counts_text(10, 7, 0) == "7/10"
    assert _shared.counts_text(10, 7, 3) == "10/10 (3 failed)"


class _Stdin(io.StringIO):
    def __init__(self, text: str, tty: bool) -> None:
        super().__init__(text)
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def test_confirm(monkeypatch: pytest.MonkeyPatch) -> None:
    _shared.confirm("Go?", yes=True)  # never asks
    monkeypatch.setattr("sys.stdin", _Stdin("", tty=False))
    with pytest.raises(_shared.CommandError) as refused:
        _shared.confirm("Go?", yes=False)
    assert refused.value.code == 2 and "--yes" in refused.value.message
    for answer in ("y\n", "YES\n"):
        monkeypatch.setattr("sys.stdin", _Stdin(answer, tty=True))
        _shared.confirm("Go?", yes=False)
    for answer in ("\n", "no\n", ""):
        monkeypatch.setattr("sys.stdin", _Stdin(answer, tty=True))
        with pytest.raises(_shared.CommandError) as declined:
            _shared.confirm("Go?", yes=False)
        assert declined.value.code == 1


def test_no_progress_when_stderr_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    assert _shared.stderr_progress("x") is None
    _shared.stderr_note("12 batches read…")
    _shared.tty_info("Saved.")
    assert capsys.readouterr().err == ""


def test_no_key_and_no_server_is_the_no_key_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("batchdeck needs an API key") and "OPENAI_API_KEY" in err


def test_broken_config_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    from tui.core import paths

    paths.config_file().parent.mkdir(parents=True)
    paths.config_file().write_text("[profiles.x\n")
    assert main(["show", "batch_1"]) == 2
    assert "config.toml: not valid TOML" in capsys.readouterr().err


def test_unreachable_server_is_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    from tui.core.client import BatchClient

    monkeypatch.setattr(_shared, "make_client", lambda p: BatchClient(p, max_retries=0))
    assert main(["ls"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("batchdeck: Cannot reach the server") and "Traceback" not in err


# -- web ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("127.0.0.2", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("example.org", False)],
)  # fmt: skip
def test_loopback(host: str, loopback: bool) -> None:
    assert web.is_loopback(host) is loopback


def test_web_serves_the_same_command_line() -> None:
    plain = web.app_command(argparse.Namespace(demo=False))
    assert plain.endswith("-m tui.cli")
    named = web.app_command(argparse.Namespace(demo=False, profile="my work"))
    assert named.endswith("-m tui.cli --profile 'my work'")
    assert web.app_command(argparse.Namespace(demo=True)).endswith("-m tui.cli demo")


def test_web_bad_port_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["web", "--demo", "--port", "0"]) == 2
    assert "--port 0: pick a port" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["web", "--port", "70000"])
    assert info.value.code == 2
    assert "70000 is not a port number" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["web", "--port", "eighty"])
    assert info.value.code == 2


def test_guarded_words_every_batchdeck_error_once(capsys: pytest.CaptureFixture[str]) -> None:
    from tui.core.registry import RecordError

    def fails() -> int:
        raise RecordError("job record x.toml: tags must be a list of strings")

    assert _shared.guarded(fails) == _shared.EXIT_FAILURE
    err = capsys.readouterr().err
    assert err == "batchdeck: job record x.toml: tags must be a list of strings\n"


def test_command_output_and_errors_never_show_a_registered_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tui.core.text import register_secret

    key = register_secret("unit-key-0b8f7e6d5c4b")
    _shared.emit_json({"message": f"echo {key}"})
    _shared.error(f"refused\n{key}", multiline=True)
    out, err = capsys.readouterr()
    assert key not in out and key not in err and "[redacted]" in out + err
