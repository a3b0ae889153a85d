"""The ``batchdeck`` command line.

Nothing heavy is imported here at module level: each subcommand imports what it
needs, so ``batchdeck --help`` and headless commands start fast and never load
Textual unless they show the app.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from tui import __version__

NO_KEY_HELP = """\
batchdeck needs an API key to talk to the OpenAI Batch API.

  Use your OpenAI account:
      export OPENAI_API_KEY=sk-...
      batchdeck

  Or any OpenAI-compatible server:
      export OPENAI_BASE_URL=http://127.0.0.1:8000/v1
      batchdeck

  Or describe profiles in {config} (keys stay in the environment):
      [profiles.work]
      base_url = "https://api.openai.com/v1"
      api_key_env = "WORK_OPENAI_KEY"
  then run:  batchdeck --profile work

  No key at hand? `batchdeck demo` runs the app on a built-in demo server.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="batchdeck",
        description="A terminal control room for the OpenAI Batch API.",
    )
    parser.add_argument("--version", action="version", version=f"batchdeck {__version__}")
    parser.add_argument("--profile", help="profile from config.toml to use")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser(
        "demo",
        help="run the app on an embedded demo server (no key needed)",
        description="Start an embedded Batch API server seeded with demo batches in every "
        "state, in a throw-away directory, and open the app on it.",
    )

    serve = sub.add_parser(
        "serve",
        help="run the embedded OpenAI-compatible Batch API server",
        description="Serve the Files and Batches API (and synchronous endpoints) locally. "
        "With --upstream, batches run against any OpenAI-compatible server.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = any free)")
    serve.add_argument("--data-dir", help="where files and batches are kept (default: data dir)")
    serve.add_argument("--upstream", metavar="URL", help="forward requests to this server")
    serve.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        metavar="X",
        help="run simulated time X times faster (default 1)",
    )
    serve.add_argument("--api-key", metavar="K", help="require this bearer key")
    serve.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND:RATE",
        help="inject faults at random, e.g. 429:0.1, 500:0.05, drop:0.02, latency:0.2",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            from tui.demo import run_demo

            return run_demo()
        if args.command == "serve":
            return _serve(args)
        return _run_app(args.profile)
    except KeyboardInterrupt:
        return 130


def _serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tui.core import paths
    from tui.localapi.server import serve_main

    data_dir = Path(args.data_dir) if args.data_dir else paths.data_dir() / "server"
    return serve_main(
        host=args.host,
        port=args.port,
        data_dir=data_dir,
        upstream=args.upstream,
        time_scale=args.time_scale,
        api_key=args.api_key,
        faults=args.fault,
    )


def _run_app(profile_name: str | None) -> int:
    from tui.core import errors, paths
    from tui.core.config import ConfigError, load_config

    try:
        config = load_config()
        profile = config.profile(profile_name)
    except ConfigError as exc:
        print(f"batchdeck: {exc}", file=sys.stderr)
        return 2
    has_config = config.path is not None and config.path.exists()
    if profile.api_key() is None and not (has_config or os.environ.get("OPENAI_BASE_URL")):
        print(NO_KEY_HELP.format(config=paths.config_file()), file=sys.stderr)
        return 2
    from tui.core.client import BatchClient

    try:
        client = BatchClient.for_profile(profile)
    except errors.ApiError as exc:
        print(f"batchdeck: {exc}\n", file=sys.stderr)
        print(NO_KEY_HELP.format(config=paths.config_file()), file=sys.stderr)
        return 2
    from tui.app import make_app
    from tui.core.registry import Registry

    app = make_app(config, client, Registry(), profile=profile)
    app.run()
    return app.return_code or 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
