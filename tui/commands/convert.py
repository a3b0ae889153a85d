"""``batchdeck convert FILE --to anthropic|openai [-o OUT]``: turn an OpenAI
chat-completions batch file into an Anthropic Message Batches file, or back.

Each line that cannot be converted is printed as ``FILE:LINE: field: why`` on stderr.
The output is written atomically, and only when every line converted (exit 0);
otherwise nothing is written and the exit code is 1, unless ``--skip-unconvertible``
writes the lines that did convert (exit 0, the others still listed). Exit 2 for bad
arguments.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from tui.commands import _shared

SHOWN = 50


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "convert",
        help="convert a batch file between OpenAI chat completions and Anthropic messages",
        description="Convert every line of a batch input file: OpenAI chat-completions lines "
        "to Anthropic {custom_id, params} lines (--to anthropic) or back (--to openai). "
        "System messages, max tokens, stop sequences, temperature, top_p, images and "
        "function tools convert; what cannot (n > 1, logprobs, tool-call messages...) is "
        "reported per line, and then nothing is written unless --skip-unconvertible.",
    )
    parser.add_argument("file", help="the JSONL file to convert")
    parser.add_argument("--to", required=True, choices=("anthropic", "openai"))
    parser.add_argument(
        "-o", "--output", help="where to write (default: FILE's name with .anthropic/.openai)"
    )
    parser.add_argument(
        "--skip-unconvertible",
        action="store_true",
        help="write the lines that convert and leave out the others (exit 0)",
    )
    parser.add_argument(
        "--max-tokens",
        type=_shared.positive_int,
        metavar="N",
        help="max_tokens for OpenAI lines that have none (Anthropic requires one)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    return _shared.guarded(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from tui.core.anthropic_convert import convert_file
    from tui.core.text import one_line

    result = convert_file(
        args.file,
        args.to,
        args.output,
        skip_unconvertible=args.skip_unconvertible,
        max_tokens=args.max_tokens,
    )
    for problem in result.problems[:SHOWN]:
        _shared.info(one_line(problem.where(result.source)))
    if len(result.problems) > SHOWN:
        more = f"{result.source}: ... and {len(result.problems) - SHOWN:,} more"
        _shared.info(one_line(more))
    if args.json:
        data = {
            "file": str(result.source),
            "output": str(result.target) if result.written else None,
            "to": args.to,
            "converted": result.converted,
            "unconvertible": [
                {"line": p.line, "field": p.field, "message": p.message} for p in result.problems
            ],
        }
        _shared.write(json.dumps(data, indent=2) + "\n")
    elif result.written:
        skipped = f", {len(result.problems):,} left out" if result.problems else ""
        line = f"{result.target}: {result.converted:,} lines converted to {args.to}{skipped}"
        _shared.write(one_line(line) + "\n")
    else:
        _shared.error(
            f"{one_line(str(result.source))}: {len(result.problems):,} line(s) cannot be "
            "converted; nothing written (--skip-unconvertible writes the others)"
        )
    return _shared.EXIT_OK if result.written else _shared.EXIT_FAILURE
