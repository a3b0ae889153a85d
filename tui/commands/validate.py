"""``batchdeck validate FILE``: check a batch input file as the API would, and estimate it.

Problems are printed one per line as ``FILE:LINE: message [code]`` (the form editors
and CI logs link to), then a summary, all on stdout: the report is the command's data
(``submit`` prints a refused file's problems the same way). The exit code is 0 for a
file the API accepts, 1 for one with problems or cannot be read (missing, not
permitted, or not a regular file: a FIFO, a directory or a device is refused at once,
never read), 2 for a bad ``--endpoint``.
``--json`` prints one JSON object instead.

The estimate comes from the same parse as the check. A big file's input tokens are
estimated from a random sample of lines, within 1% (the output says so; ``--exact``
tokenizes every line).
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from tui.commands import _shared

if TYPE_CHECKING:
    from tui.core.pricing import Price
    from tui.core.requests import ValidationReport
    from tui.core.tokens import Estimate, FileEstimator

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = _shared.EXIT_OK, _shared.EXIT_FAILURE, _shared.EXIT_USAGE


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "validate",
        help="check a batch input file (JSONL) and estimate its tokens and cost",
        description="Check every line of a batch input file against the Batch API's rules "
        "and limits, then estimate input tokens, the worst-case output and the cost. "
        "Exits 1 when the file has problems, each printed as FILE:LINE: message [code].",
    )
    parser.add_argument("file", help="the JSONL file to check")
    parser.add_argument("--endpoint", help="the batch endpoint every line must use")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--no-estimate", action="store_true", help="skip the token and cost estimate"
    )
    parser.add_argument(
        "--exact",
        action="store_true",
        help="tokenize every line (a big file is otherwise estimated from a sample, within 1%%)",
    )


def problem_lines(report: ValidationReport) -> list[str]:
    """``FILE:LINE: message [code]`` for each problem kept, then a count of the rest."""
    from tui.core.text import one_line

    lines = []
    for problem in report.problems:
        where = f"{report.path}:{problem.line}" if problem.line is not None else str(report.path)
        field = f" ({problem.field})" if problem.field else ""
        lines.append(f"{where}: {one_line(problem.message)}{field} [{problem.code}]")
    if report.truncated:
        lines.append(f"{report.path}: ... and {report.problem_count - len(report.problems)} more")
    return lines


def report_dict(report: ValidationReport) -> dict[str, Any]:
    """The report as plain JSON data."""
    return {
        "file": str(report.path),
        "ok": report.ok,
        "endpoint": report.endpoint,
        "model": report.model,
        "requests": report.request_count,
        "bytes": report.bytes,
        "embedding_inputs": report.embedding_inputs,
        "problem_count": report.problem_count,
        "problem_counts": report.problem_counts,
        "needs_split": (not report.ok) and report.only_limit_problems,
        "problems": [
            {"line": p.line, "code": p.code, "field": p.field, "message": p.message}
            for p in report.problems
        ],
    }


def estimate_lines(estimate: Estimate) -> list[str]:
    """The estimate for people: tokens, output bound, cost with and without the discount."""
    from tui.core.pricing import format_usd

    how = f"{estimate.encoding}, estimated"
    if estimate.sampled is not None:
        how += " " + estimate.sample_note("--exact counts all")
    lines = [
        f"requests:      {estimate.requests:,}",
        f"input tokens:  {estimate.input_tokens:,} ({how})",
    ]
    if estimate.unbounded == estimate.requests:
        output = "output tokens: no upper bound (no request has max tokens)"
    elif estimate.unbounded:
        output = (
            f"output tokens: no upper bound ({estimate.unbounded:,} of {estimate.requests:,} "
            f"requests have no max tokens; the others at most {estimate.output_tokens_max:,})"
        )
    else:
        output = f"output tokens: at most {estimate.output_tokens_max:,}"
    lines.append(output)
    cost, floor = estimate.max_cost, estimate.input_cost
    if floor is None:
        lines.append(f"cost:          no price for {estimate.model!r} (add it to prices.toml)")
    elif cost is None:
        lines.append(f"cost (batch):  {format_usd(floor.batch)} input, no upper bound")
        lines.append(
            f"cost (standard, without the Batch discount): {format_usd(floor.standard)} input, "
            "no upper bound"
        )
    else:
        lines.append(
            f"cost (batch):  {format_usd(floor.batch)} input, up to {format_usd(cost.batch)}"
        )
        lines.append(
            f"cost (standard, without the Batch discount): up to {format_usd(cost.standard)}"
        )
    return lines


def _prices() -> dict[str, Price] | None:
    """The editable price table (a broken one is a warning: no costs)."""
    from tui.core.pricing import PriceError, load_prices

    try:
        return dict(load_prices())
    except PriceError as exc:
        _shared.error(f"warning: {exc}; costs not shown")
        return None


def _estimator(path: str, endpoint: str | None, exact: bool) -> FileEstimator:
    from tui.core.tokens import FileEstimator

    try:
        size = os.stat(path).st_size
    except OSError:  # validate says why
        size = 0
    return FileEstimator(endpoint, exact=exact, size=size)


def run(args: argparse.Namespace) -> int:
    return _shared.guarded(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from tui.core.requests import validate

    profile = _shared.profile_for_limits(getattr(args, "profile", None))
    if profile.provider == "anthropic":
        from tui.commands._anthropic_cli import validate_anthropic

        return validate_anthropic(args)  # {custom_id, params} lines

    estimator = None if args.no_estimate else _estimator(args.file, args.endpoint, args.exact)
    try:
        try:
            report = validate(
                args.file,
                endpoint=args.endpoint,
                limits=profile.limits.request_limits(),
                on_request=estimator.add if estimator is not None else None,
            )
        except OSError as exc:  # UnreadableFileError: a plain message naming the file
            raise _shared.CommandError(f"batchdeck validate: {exc}", EXIT_PROBLEMS) from exc
        except ValueError as exc:
            raise _shared.CommandError(f"batchdeck validate: {exc}", EXIT_USAGE) from exc
        estimate = None
        if estimator is not None and (report.ok or report.only_limit_problems):
            estimate = estimator.result(_prices())
    finally:
        if estimator is not None:
            estimator.close()
    if args.json:
        import json  # here: the text output does not need it

        data = report_dict(report)
        data["estimate"] = estimate.to_dict() if estimate is not None else None
        _shared.write(json.dumps(data, indent=2) + "\n")
    else:
        _shared.write("".join(f"{line}\n" for line in problem_lines(report)))
        _shared.write(f"{_summary(report)}\n")
        lines = estimate_lines(estimate) if estimate is not None else []
        _shared.write("".join(f"{line}\n" for line in lines))
    return EXIT_OK if report.ok else EXIT_PROBLEMS


def _summary(report: ValidationReport) -> str:
    from tui.core.text import one_line

    head = f"{report.path}: {report.request_count:,} requests, {report.bytes:,} bytes"
    if report.ok:
        return f"{head}, {report.endpoint}, {one_line(report.model or '')}: ok"
    if report.only_limit_problems:
        return f"{head}: over the API's limits; `batchdeck submit --split` sends it in parts"
    return f"{head}: {report.problem_count:,} problem(s)"
