"""``batchdeck web``: the same app in a browser, through textual-serve.

Each browser session runs its own ``batchdeck`` process (with the same
``--profile``; ``--demo`` serves ``batchdeck demo``) whose screen is streamed over
a websocket. Bound to 127.0.0.1 by default: anyone who can reach the port and
has the address with its token drives the app with this machine's keys, so binding
elsewhere prints a warning. Every run makes a new token, printed in the address to
open, and web pages from other origins are refused
(:mod:`tui.commands._web_server`).
"""

from __future__ import annotations

import argparse
import ipaddress
import shlex
import sys
from typing import Any

from tui.commands import _shared

DEFAULT_PORT = 8080

WARNING = """\
batchdeck: WARNING: serving on {host}, not on loopback.
  Anyone who can reach {url} and sees the token printed below can use the app
  with this machine's API key (submit, cancel, delete files); the traffic is
  plain HTTP, so the token can be read on the way. Prefer the default
  127.0.0.1 and an SSH tunnel (ssh -L {port}:127.0.0.1:{port} this-host).
  Browsers are told to connect to {url}; --public-url changes that.
"""


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "web",
        help="serve the app to a browser (textual-serve)",
        description="Serve the batchdeck app to web browsers. Every browser tab runs its own "
        "app on the active profile. Loopback only unless --host says otherwise. Open the "
        "address it prints: it carries a token made for this run, and without it (or from "
        "a page of another origin) the server answers 403.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=_shared.port_number,
        default=DEFAULT_PORT,
        help=f"port (default {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--public-url",
        metavar="URL",
        help="the address browsers use, if not http://HOST:PORT (e.g. behind a proxy)",
    )
    parser.add_argument(
        "--demo", action="store_true", help="serve the demo (embedded demo server, no key)"
    )
    _shared.add_common(parser, json=False)


def app_command(args: argparse.Namespace) -> str:
    """The shell command textual-serve runs for each browser session."""
    argv = [sys.executable, "-m", "tui.cli"]
    profile = getattr(args, "profile", None)
    if profile:
        argv += ["--profile", profile]
    if args.demo:
        argv.append("demo")
    return shlex.join(argv)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    def serve() -> int:
        if not args.demo:  # fail now, not in every browser tab
            _shared.resolve_profile(getattr(args, "profile", None))
        if args.port == 0:  # the page must know its own address
            raise _shared.CommandError("--port 0: pick a port from 1 to 65535", 2)
        url = args.public_url or f"http://{_url_host(args.host)}:{args.port}"
        if not is_loopback(args.host):
            print(WARNING.format(host=args.host, url=url, port=args.port), file=sys.stderr)
        from tui.commands._web_server import TokenServer

        server = TokenServer(
            app_command(args), host=args.host, port=args.port, title="batchdeck", public_url=url
        )
        server.serve()
        return _shared.EXIT_OK

    return _shared.guarded(serve)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
