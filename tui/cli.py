"""The ``batchdeck`` command line.

Nothing heavy is imported here at module level: each subcommand imports what it
needs, so ``batchdeck --help`` and headless commands start fast and never load
Textual unless they show the app.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from tui import __version__
from tui.commands import COMMANDS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="batchdeck",
        description="A terminal control room for the OpenAI Batch API. "
        "Without a command, opens the app on the active profile's server.",
    )
    parser.add_argument("--version", action="version", version=f"batchdeck {__version__}")
    parser.add_argument("--profile", help="profile from config.toml to use")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"tui.commands.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    launch, profile = _app_launch(list(sys.argv[1:] if argv is None else argv))
    if launch:  # no command: the parser of every command is not needed
        try:
            return _run_app(profile)
        except KeyboardInterrupt:
            return 130
    args = build_parser().parse_args(argv)
    try:
        if args.command:
            command = importlib.import_module(f"tui.commands.{args.command}")
            return int(command.run(args))
        return _run_app(args.profile)
    except KeyboardInterrupt:
        return 130


def _app_launch(argv: list[str]) -> tuple[bool, str | None]:
    """Whether ``argv`` only opens the app (nothing, or just ``--profile NAME``), and
    the profile it names."""
    if not argv:
        return True, None
    if len(argv) == 2 and argv[0] == "--profile" and argv[1] and not argv[1].startswith("-"):
        return True, argv[1]
    if len(argv) == 1 and argv[0].startswith("--profile=") and len(argv[0]) > len("--profile="):
        return True, argv[0].removeprefix("--profile=")
    return False, None


def _run_app(profile_name: str | None) -> int:
    import gc

    from tui.commands import _shared

    # Start-up builds only objects that live as long as the app (modules above all):
    # the cyclic GC would walk them again and again for nothing. It runs again once
    # the SDK is loaded (BatchDeckApp.prepare_client, which freezes them first).
    gc.disable()
    try:
        config, profile = _shared.resolve_profile(profile_name)  # config, key, server
        client = _shared.make_client(profile)  # the SDK loads after the first paint
    except _shared.CommandError as exc:
        gc.enable()
        _shared.error(exc.message, multiline=True)
        return exc.code
    from tui.app import make_app
    from tui.core.registry import Registry
    from tui.hangup import run_app

    return run_app(make_app(config, client, Registry(), profile=profile))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
