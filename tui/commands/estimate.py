"""``batchdeck estimate FILE [--endpoint URL] [--exact] [--json]``: a batch input
file's tokens and cost, and nothing else, for pipelines.

No rule check (``batchdeck validate`` does that): lines that are not requests are
skipped; a file without any request is an error. Tokens come from the offline tokenizer
(:func:`tui.core.tokens.estimate_file`; a big file from a sample unless
``--exact``), costs from the price table, with and without the Batch discount.
Exit codes: 0 done; 1 the file cannot be read or the price table is broken; 2 bad
usage.
"""

from __future__ import annotations

import argparse
from typing import Any

from tui.commands import _shared


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "estimate",
        help="a batch input file's tokens and cost (no rule check)",
        description="Estimate the input tokens, the worst-case output and the cost of a batch "
        "input file, without checking it against the Batch API's rules (see validate).",
    )
    parser.add_argument("file", metavar="FILE", help="the JSONL file")
    parser.add_argument("--endpoint", help="the batch endpoint (default: the first line's url)")
    parser.add_argument(
        "--exact",
        action="store_true",
        help="tokenize every line (a big file is otherwise estimated from a sample, within 1%%)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    return _shared.guarded(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from tui.commands.validate import estimate_lines
    from tui.core.pricing import load_prices
    from tui.core.tokens import estimate_file

    prices = load_prices()  # a broken table is an error (exit 1) naming the file
    estimate = estimate_file(args.file, args.endpoint, prices, exact=args.exact)
    if estimate.requests == 0:
        raise _shared.CommandError(f"{args.file}: no request line to estimate (see validate)")
    if args.json:
        _shared.emit_json({"file": args.file, **estimate.to_dict()})
    else:
        _shared.write("".join(f"{line}\n" for line in estimate_lines(estimate)))
    return _shared.EXIT_OK
