"""Opening the app (no command, or just ``--profile NAME``) skips building the parser of
every command; anything else goes through the full parser."""

from __future__ import annotations

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
