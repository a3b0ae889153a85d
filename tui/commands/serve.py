"""``batchdeck serve``: the embedded OpenAI-compatible Batch API server, in the foreground.

The bearer key the server requires comes from ``BATCHDECK_SERVE_API_KEY`` (private to
the user) or ``--api-key`` (shown to every local user by ``ps``: throwaway keys only).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from tui.commands import _shared

API_KEY_ENV = "BATCHDECK_SERVE_API_KEY"


def add_parser(sub: Any) -> None:
    serve = sub.add_parser(
        "serve",
        help="run the embedded OpenAI-compatible Batch API server",
        description="Serve the Files and Batches API (and synchronous endpoints) locally. "
        "With --upstream, batches run against any OpenAI-compatible server. "
        f"Set {API_KEY_ENV} to require a bearer key.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=_shared.port_number, default=8000, help="port (default 8000; 0 = any free)"
    )
    serve.add_argument("--data-dir", help="where files and batches are kept (default: data dir)")
    serve.add_argument("--upstream", metavar="URL", help="forward requests to this server")
    serve.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        metavar="X",
        help="run simulated time X times faster (default 1)",
    )
    serve.add_argument(
        "--api-key",
        metavar="K",
        help="require this bearer key; other local users can see it (ps), so use it for "
        f"throwaway keys and set {API_KEY_ENV} for real ones",
    )
    serve.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND:RATE",
        help="inject faults at random, e.g. 429:0.1, 500:0.05, drop:0.02, latency:0.2",
    )
    serve.add_argument(
        "--token-limit",
        action="append",
        default=[],
        type=token_limit,
        metavar="MODEL=TOKENS",
        help="fail a batch whose input tokens plus those of the model's unfinished batches "
        "exceed TOKENS, as OpenAI does (token_limit_exceeded); repeat for more models",
    )
    serve.add_argument(
        "--dialect",
        choices=("openai", "azure", "groq", "anthropic"),
        default="openai",
        help="speak this provider's dialect: its paths, auth header, ids and limits "
        "(default openai)",
    )
    serve.add_argument(
        "--quirks",
        action="store_true",
        help="answer batches the odd ways other services do: ISO timestamps, upper-case "
        "and unknown statuses, null or missing request_counts, extra fields",
    )


def token_limit(text: str) -> tuple[str, int]:
    """``MODEL=TOKENS`` for ``--token-limit``; argparse reports a bad one."""
    from tui.localapi.token_limits import parse_token_limit

    try:
        return parse_token_limit(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tui.core import paths
    from tui.localapi.server import serve_main

    limits: dict[str, int] = {}
    for model, tokens in args.token_limit:
        if model in limits:
            _shared.error(f"--token-limit: {model} is given twice ({limits[model]} and {tokens})")
            return 2
        limits[model] = tokens
    data_dir = Path(args.data_dir or paths.ensure_private_dir(paths.data_dir() / "server"))
    return serve_main(
        host=args.host,
        port=args.port,
        data_dir=data_dir,
        upstream=args.upstream,
        time_scale=args.time_scale,
        api_key=args.api_key or os.environ.get(API_KEY_ENV) or None,
        faults=args.fault,
        token_limits=limits,
        dialect=args.dialect,
        quirks=args.quirks,
    )
