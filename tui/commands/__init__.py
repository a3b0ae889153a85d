"""Subcommands of ``batchdeck``, one module each.

Each module defines ``add_parser(subparsers)`` (its argparse parser, with help) and
``run(args) -> int`` (the exit code). Modules import nothing heavy at module level:
``tui.cli`` imports them all to build the parser, and headless commands must not
pay for Textual or openai before they need them. Add a command by adding its
module name here.
"""

COMMANDS = (
    "demo",
    "serve",
    "ls",
    "show",
    "watch",
    "download",
    "cancel",
    "files",
    "registry",
    "reconcile",
    "web",
    "validate",
    "submit",
    "queue",
    "results",
    "convert",
    "delete",
    "webhooks",
    "spend",
    "retry",
    "estimate",
)
