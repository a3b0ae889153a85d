"""The ``batchdeck`` command line.

Nothing heavy is imported here at module level: each subcommand imports what it
needs, so ``batchdeck --help`` and headless commands start fast and never load
Textual unless they show the app.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from tui.commands import COMMANDS

if TYPE_CHECKING:
    import argparse

    from tui.core.config import Profile
    from tui.core.first_page import Prefetch


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; or, when ``command`` names one, only that command's (each
    command module imports what its options need, so ``batchdeck validate`` does not
    load the webhook receiver's). Parsing and errors are the same either way."""
    import argparse
    import importlib

    from tui import __version__

    parser = argparse.ArgumentParser(
        prog="batchdeck",
        description="A terminal control room for the OpenAI Batch API. "
        "Without a command, opens the app on the active profile's server.",
    )
    parser.add_argument("--version", action="version", version=f"batchdeck {__version__}")
    parser.add_argument("--profile", help="profile from config.toml to use")
    parser.add_argument(
        "--all-profiles",
        action="store_true",
        help="open the app on the fleet view: every profile's batches in one table",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in (command,) if command in COMMANDS else COMMANDS:
        importlib.import_module(f"tui.commands.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    launch, profile = _app_launch(list(sys.argv[1:] if argv is None else argv))
    if launch:  # no command: the parser of every command is not needed
        try:
            return _run_app(profile)
        except KeyboardInterrupt:
            return 130
    args = build_parser(_command_named(argv)).parse_args(argv)
    try:
        if args.command:
            import importlib

            command = importlib.import_module(f"tui.commands.{args.command}")
            if (code := _profile_from_ref(args)) is not None:
                return code
            return int(command.run(args))
        return _run_app(args.profile, all_profiles=args.all_profiles)
    except KeyboardInterrupt:
        return 130


def _profile_from_ref(args: argparse.Namespace) -> int | None:
    """``show PROFILE:BATCH_ID`` (and ``cancel``, ``download``, ``results``, ``retry``):
    the prefix picks the profile (see :func:`tui.core.fleet.split_ref`). Returns an exit
    code (2) for a prefix that names no profile or contradicts ``--profile``, else
    ``None``."""
    ref = getattr(args, "batch_id", None)
    if not isinstance(ref, str) or ":" not in ref:
        return None
    from tui.commands import _shared
    from tui.core.config import load_config
    from tui.core.errors import BatchdeckError
    from tui.core.fleet import split_ref

    try:
        name, batch_id = split_ref(ref, load_config().profiles)
    except BatchdeckError as exc:
        _shared.error(str(exc))
        return _shared.EXIT_USAGE
    if name is not None and getattr(args, "profile", None) not in (None, name):
        _shared.error(f"{ref!r} names profile {name!r}, but --profile is {args.profile!r}")
        return _shared.EXIT_USAGE
    args.profile, args.batch_id = name, batch_id
    return None


def _command_named(argv: Sequence[str] | None) -> str | None:
    """The command ``argv`` names: its first word that is neither an option nor
    ``--profile``'s value (None when that is not a command: the whole parser then
    says what is wrong)."""
    words = iter(sys.argv[1:] if argv is None else argv)
    for word in words:
        if word == "--profile":
            next(words, None)
        elif not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


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


def _run_app(profile_name: str | None, *, all_profiles: bool = False) -> int:
    """Open the app. First thing, a child lists the first page on the other core while
    the app starts (:mod:`tui.core.first_page`): each module imported before this
    fork would delay that page."""
    import gc

    # Start-up builds only objects that live as long as the app (modules above all):
    # the cyclic GC would walk them again and again for nothing. It runs again once
    # the SDK is loaded (BatchDeckApp.prepare_client, which freezes them first).
    gc.disable()
    from tui.core import first_page

    prefetch = None if all_profiles else first_page.fork(profile_name)
    try:
        return _open_app(profile_name, all_profiles=all_profiles, prefetch=prefetch)
    finally:
        if prefetch is not None:
            prefetch.close()  # a child still listing is ended, and reaped


def _open_app(profile_name: str | None, *, all_profiles: bool, prefetch: Prefetch | None) -> int:
    import gc

    from tui.commands import _shared
    from tui.core import first_page

    try:
        config, profile = _shared.resolve_profile(profile_name)  # config, key, server
        if all_profiles:  # a profile without its key must not keep the others away
            profile = _first_usable(profile, config.profiles.values())
        client = _shared.make_client(profile)  # the SDK loads after the first paint
    except _shared.CommandError as exc:
        gc.enable()
        _shared.error(exc.message, multiline=True)
        return exc.code
    if prefetch is not None:  # its page is the first listing's, if of this profile
        first_page.hand_over(prefetch, client)
    from tui.app import make_app
    from tui.core.registry import Registry
    from tui.hangup import run_app

    app = make_app(config, client, Registry(), profile=profile)
    if not all_profiles:
        return run_app(app)

    async def open_fleet(pilot: Any) -> None:
        from tui.screens.fleet import FleetScreen

        app.push_screen(FleetScreen())

    return run_app(app, auto_pilot=open_fleet)


def _first_usable(wanted: Profile, profiles: Iterable[Profile]) -> Profile:
    """``wanted`` if it has what a client needs (a key for a hosted service), else the
    first profile that has (else ``wanted``, whose error then says what is missing)."""
    from tui.core.anthropic_client import client_for
    from tui.core.errors import ApiError

    for profile in (wanted, *profiles):
        try:
            client_for(profile)  # a missing key says so now; nothing is sent
        except ApiError:
            continue
        return profile
    return wanted


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
