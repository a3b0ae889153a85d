"""``batchdeck serve``: the embedded OpenAI-compatible Batch API server, in the foreground.

The bearer key the server requires comes from ``BATCHDECK_SERVE_API_KEY`` (private to
the user) or ``--api-key`` (shown to every local user by ``ps``: throwaway keys only).
The key sent to the upstreams comes from the environment only: the variable named by
``--upstream-key-env``, else ``BATCHDECK_UPSTREAM_API_KEY``.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from tui.commands import _shared

API_KEY_ENV = "BATCHDECK_SERVE_API_KEY"
UPSTREAM_KEY_ENV = "BATCHDECK_UPSTREAM_API_KEY"
DEFAULT_CONCURRENCY = 8  # tui.localapi.upstreams.DEFAULT_CONCURRENCY (not imported: startup)


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
    serve.add_argument(
        "--upstream",
        action="append",
        metavar="URL",
        help="forward requests to this OpenAI-compatible server (repeat for several: each "
        "request goes to the healthy one with the fewest requests in flight)",
    )
    serve.add_argument(
        "--upstream-concurrency",
        type=_shared.positive_int,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"requests in flight per upstream (default {DEFAULT_CONCURRENCY}; "
        "set it to the model server's batch size, e.g. vLLM's --max-num-seqs)",
    )
    serve.add_argument(
        "--upstream-key-env",
        metavar="NAME",
        help=f"send the key in environment variable NAME to the upstreams (default: "
        f"{UPSTREAM_KEY_ENV}, if set)",
    )
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
        "--anthropic-queue-limit",
        type=_shared.positive_int,
        metavar="REQUESTS",
        help="refuse a message batch (429 rate_limit_error, as Anthropic does) whose "
        "requests would take those waiting in the processing queue over REQUESTS",
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


def upstream_key(name: str | None) -> str | None:
    """The upstream key from the environment (never from argv); ValueError if
    ``--upstream-key-env NAME`` names an empty or unset variable."""
    if name is None:
        return os.environ.get(UPSTREAM_KEY_ENV) or None
    value = os.environ.get(name, "").strip()
    if not value:
        raise ValueError(
            f"--upstream-key-env {name}: the environment variable {name} is empty or not set"
        )
    return value


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
    try:
        key = upstream_key(args.upstream_key_env)
    except ValueError as exc:
        _shared.error(f"batchdeck serve: {exc}")
        return 2
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
        anthropic_queue_limit=args.anthropic_queue_limit,
        upstream_api_key=key,
        upstream_concurrency=args.upstream_concurrency,
    )
