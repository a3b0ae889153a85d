"""Opening the app (no command, or just ``--profile NAME``) skips building the parser of
every command; anything else goes through the full parser."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tui import cli


@pytest.mark.parametrize(
    ("argv", "profile"),
    [([], None), (["--profile", "work"], "work"), (["--profile=work"], "work")],
)
def test_app_launch_without_the_parser(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], profile: str | None
) -> None:
    opened: list[str | None] = []
    monkeypatch.setattr(cli, "build_parser", lambda: pytest.fail("parser built"))
    monkeypatch.setattr(cli, "_run_app", lambda name: opened.append(name) or 0)
    assert cli.main(argv) == 0
    assert opened == [profile]


@pytest.mark.parametrize(
    "argv", [["--version"], ["--profile"], ["--profile", "--help"], ["ls"], ["--profile=", "ls"]]
)
def test_everything_else_goes_through_the_parser(argv: list[str]) -> None:
    assert cli._app_launch(argv) == (False, None)


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["validate", "in.jsonl"], "validate"),
        (["--profile", "validate", "ls", "--json"], "ls"),
        (["--profile=work", "show", "batch_1"], "show"),
        (["--all-profiles", "ls"], "ls"),
        (["nope"], None),
        (["--help"], None),
        (["--profile"], None),
    ],
)
def test_the_command_word_is_found(argv: list[str], command: str | None) -> None:
    assert cli._command_named(argv) == command


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "in.jsonl", "--json"],
        ["--profile", "work", "submit", "in.jsonl", "--queue"],
        ["retry", "work:batch_1", "--outcome", "expired"],
        ["queue", "run", "--once"],
    ],
)
def test_one_commands_parser_parses_as_the_whole_one(argv: list[str]) -> None:
    command = cli._command_named(argv)
    assert command is not None
    assert cli.build_parser(command).parse_args(argv) == cli.build_parser().parse_args(argv)


def test_a_command_loads_only_its_own_module(tmp_path: Path) -> None:
    """``batchdeck validate`` does not import the other commands (the webhook
    receiver's asyncio and ssl, say): start-up and memory of a headless command."""
    path = tmp_path / "in.jsonl"
    path.write_text(
        '{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", '
        '"body": {"model": "gpt-4o-mini", "messages": []}}\n'
    )
    probe = (
        "import sys; from tui import cli; code = cli.main(['validate', '--no-estimate', "
        f"{str(path)!r}]); "
        "print(code, sorted(m for m in sys.modules if m.startswith('tui.commands.')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.splitlines()[-1] == "0 ['tui.commands._shared', 'tui.commands.validate']"


GC_AT_IMPORT = """
import gc, importlib.abc, sys
seen = {}
class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "tui.commands._shared":
            seen[name] = gc.isenabled()
sys.meta_path.insert(0, Watch())
from tui import cli
code = cli.main(["--profile", "no-such-profile"])  # fails after importing _shared
print(sorted(seen.items()), code, gc.isenabled())
"""


def test_launch_imports_with_the_gc_paused(tmp_path: Path) -> None:
    """The launch pauses the cyclic GC before it imports what it needs to make the
    client (modules live as long as the app; ~35 collections found nothing there),
    and a launch that fails turns it back on."""
    env = {"PATH": "/usr/bin:/bin", "BATCHDECK_CONFIG_DIR": str(tmp_path / "config")}
    env["BATCHDECK_DATA_DIR"] = str(tmp_path / "data")
    env["PYTHONPATH"] = str(Path(cli.__file__).resolve().parent.parent)
    done = subprocess.run(
        [sys.executable, "-c", GC_AT_IMPORT], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.split("\n")[0] == ("[('tui.commands._shared', False)] 2 True"), done.stderr
