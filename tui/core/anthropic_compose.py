"""Compose on an Anthropic profile: the compose screen's inputs built as
``{custom_id, params}`` lines, checked with Anthropic's rules, estimated and priced.

The Request tab builds a chat-completions body (model, system, prompt, max tokens,
temperature...); rows or requests added one by one fill it as for OpenAI
(:func:`tui.core.submission.check_inputs`, into a private scratch file), and each line
is then converted (:func:`tui.core.anthropic_convert.to_anthropic`: the system message
becomes ``system``, ``max_tokens`` is required) into the chosen output file. A line
that does not convert, or breaks a rule (:mod:`tui.core.anthropic_lines`), is a
problem naming its line (= row) and field; the output is written only when every line
converted. An existing JSONL file (Source: JSONL) must already be Anthropic lines.

The result is a :class:`~tui.core.submission.CheckedFile` like OpenAI's, so the screen
shows it with the same panels (endpoint ``/v1/messages``).
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from tui.core import jsonsafe
from tui.core.anthropic_convert import OPENAI_URL, convert_file, to_anthropic
from tui.core.anthropic_lines import (
    ENDPOINT,
    MAX_BYTES,
    MAX_REQUESTS,
    LineProblem,
    check_file,
    estimate_params,
    read_requests,
)
from tui.core.compose import ComposeError
from tui.core.pricing import Price, PriceError, load_prices
from tui.core.request_report import Problem, ValidationReport
from tui.core.requests import Limits
from tui.core.submission import CheckedFile, ComposeInputs, check_inputs, preview_lines

PROBLEM_CODE = "anthropic_rule"
LIMITS = Limits(max_requests=MAX_REQUESTS, max_bytes=MAX_BYTES)


def anthropic_inputs(inputs: ComposeInputs) -> ComposeInputs:
    """The inputs as a chat-completions build (what is then converted)."""
    return replace(inputs, endpoint=OPENAI_URL, limits=LIMITS)


def check_anthropic(
    inputs: ComposeInputs, prices: Mapping[str, Price] | None = None
) -> CheckedFile:
    """Build (unless Source is an existing JSONL), check and estimate ``inputs`` as an
    Anthropic batch (see the module docstring). Raises :class:`ComposeError` (naming
    the row) or ``OSError``."""
    notes: tuple[str, ...] = ()
    if prices is None:
        try:
            prices = load_prices()
        except PriceError as exc:
            prices, notes = {}, (f"{exc}; costs not shown",)
    if inputs.source == "jsonl":
        if inputs.jsonl_path is None:
            raise ComposeError("choose the batch JSONL file to open (Source tab)")
        return replace(_checked(inputs.jsonl_path, prices), notes=notes)
    scratch = inputs.output.with_name(f".{inputs.output.name}.chat.partial")
    try:
        built = check_inputs(replace(anthropic_inputs(inputs), output=scratch), prices={})
        converted = convert_file(built.path, "anthropic", inputs.output)
    finally:
        scratch.unlink(missing_ok=True)
    rows_from = inputs.rows_path.name if inputs.source == "rows" and inputs.rows_path else ""
    if not converted.ok:
        report = _report(inputs.output, converted.problems, converted.converted, lines=False)
        return CheckedFile(inputs.output, report, None, rows_from, report.request_count, notes)
    return replace(_checked(inputs.output, prices), rows_from=rows_from, notes=notes)


def _checked(path: Path, prices: Mapping[str, Price]) -> CheckedFile:
    check = check_file(path)
    report = _report(path, check.problems, check.requests, count=check.problem_count)
    report = replace(report, model=check.model)
    if not check.ok:
        return CheckedFile(path, report, None, requests=check.requests)
    estimate = estimate_params((r["params"] for r in read_requests(path)), prices)
    return CheckedFile(path, report, estimate, requests=check.requests)


def _report(
    path: Path,
    problems: list[LineProblem],
    requests: int,
    *,
    count: int | None = None,
    lines: bool = True,
) -> ValidationReport:
    """A :class:`ValidationReport` of ``path`` (its line offsets when ``lines``) with
    Anthropic's ``problems``, for the screen's validation panel."""
    offsets = array("q", [0])
    size = 0
    if lines and path.is_file():
        with path.open("rb") as handle:
            for raw in handle:
                size += len(raw)
                offsets.append(size)
    listed = [Problem(PROBLEM_CODE, p.message, p.line, p.field or None) for p in problems]
    total = len(listed) if count is None else count
    return ValidationReport(
        path=path,
        endpoint=ENDPOINT,
        model=None,
        line_count=len(offsets) - 1,
        request_count=requests,
        bytes=size,
        embedding_inputs=0,
        problems=listed,
        problem_count=total,
        problem_counts={PROBLEM_CODE: total} if total else {},
        offsets=offsets,
        limits=LIMITS,
    )


def preview_anthropic(inputs: ComposeInputs, count: int = 5) -> list[Any]:
    """The first ``count`` requests as they will be sent (``{custom_id, params}``); a
    line that does not convert shows as ``{"problem": ...}``."""
    if inputs.source == "jsonl":
        if inputs.jsonl_path is None:
            raise ComposeError("choose the batch JSONL file to open (Source tab)")
        with inputs.jsonl_path.open("rb") as handle:
            return [
                jsonsafe.loads(line) if line.strip() else {}
                for line in itertools.islice(handle, count)
            ]
    out: list[Any] = []
    for line in preview_lines(anthropic_inputs(inputs), count):
        try:
            out.append(to_anthropic(line))
        except Exception as exc:  # Unconvertible: shown in place of the line
            field = getattr(exc, "field", "")
            out.append({"problem": f"{field + ': ' if field else ''}{exc}"})
    return out
