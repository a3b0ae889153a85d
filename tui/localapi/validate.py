"""Validation of a batch input file, as the Batch API does it while ``validating``.

A thin adapter over the client's validator (:func:`tui.core.requests.validate`: the
same limits, the same line rules, the same scanner), so ``batchdeck validate`` and the
server never disagree on a file. It returns either the lines to run (with their byte
offsets, so bodies are read again only when a line runs) or the errors that make the
batch ``failed``, each with its 1-based line number where one applies.

The API's own codes pass through unchanged (``invalid_json_line``,
``duplicate_custom_id``, ``url_mismatch``, ``model_mismatch``, ``empty_file``,
``too_many_tasks``, ``file_too_large``); the validator's finer codes are reported
with the API's coarser ones (:data:`API_CODES`), as the API words them:
``missing_required_parameter``, ``invalid_value``, ``invalid_json_line``. At most
:data:`MAX_REPORTED_ERRORS` errors are reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.core.requests import (
    MAX_FILE_BYTES,
    MAX_PROBLEMS,
    MAX_REQUESTS,
    Code,
    Limits,
    Problem,
    scan,
)
from tui.core.tokens import FileEstimator

MAX_INPUT_BYTES = MAX_FILE_BYTES
MAX_REPORTED_ERRORS = MAX_PROBLEMS

API_CODES: dict[str, str] = {
    Code.MISSING_CUSTOM_ID: "missing_required_parameter",
    Code.MISSING_METHOD: "missing_required_parameter",
    Code.MISSING_URL: "missing_required_parameter",
    Code.MISSING_BODY: "missing_required_parameter",
    Code.MISSING_MODEL: "missing_required_parameter",
    Code.INVALID_CUSTOM_ID: "invalid_value",
    Code.INVALID_METHOD: "invalid_value",
    Code.INVALID_BODY: "invalid_value",
    Code.INVALID_MODEL: "invalid_value",
    Code.UNKNOWN_PARAMETER: "invalid_value",
    Code.INVALID_URL: "url_mismatch",  # any url other than the batch's endpoint
    Code.BLANK_LINE: "invalid_json_line",
    Code.UTF8_BOM: "invalid_json_line",
    Code.INVALID_UTF8: "invalid_json_line",
    Code.LINE_TOO_LARGE: "file_too_large",
}
"""The validator's code -> the code the API reports (unlisted codes are the API's)."""


@dataclass(frozen=True, slots=True)
class LineRef:
    """A valid request line: where it is in the input file and its custom_id."""

    line: int
    offset: int
    length: int
    custom_id: str


@dataclass(slots=True)
class Validation:
    lines: list[LineRef] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    model: str | None = None
    input_tokens: int | None = None
    """The input tokens of every line (only when asked for, with ``count_tokens``)."""

    @property
    def ok(self) -> bool:
        return not self.errors


def api_error(problem: Problem) -> dict[str, Any]:
    """One entry of ``batch.errors.data`` for ``problem``."""
    return {
        "code": API_CODES.get(problem.code, problem.code),
        "message": problem.message,
        "param": problem.field,
        "line": problem.line,
    }


def validate_input(
    path: Path,
    endpoint: str,
    *,
    max_requests: int = MAX_REQUESTS,
    max_bytes: int = MAX_INPUT_BYTES,
    count_tokens: bool = False,
) -> Validation:
    """Check every line of the input file at ``path`` for a batch on ``endpoint``;
    with ``count_tokens``, count the input tokens of every line in the same pass
    (:class:`tui.core.tokens.FileEstimator`, exact: the client's basis).

    Raises ``OSError`` when the file cannot be read (``UnreadableFileError`` is one).
    """
    limits = Limits(max_requests=max_requests, max_bytes=max_bytes)
    estimator = FileEstimator(endpoint, exact=True) if count_tokens else None
    try:
        scanner = scan(
            Path(path),
            endpoint,
            limits,
            MAX_REPORTED_ERRORS,
            keep_custom_ids=True,
            on_request=estimator.add if estimator is not None else None,
        )
        report = scanner.report(Path(path))
        if not report.ok:
            return Validation(errors=[api_error(p) for p in report.problems], model=report.model)
        tokens = estimator.result().input_tokens if estimator is not None else None
    finally:
        if estimator is not None:
            estimator.close()
    ids, offsets = scanner.custom_ids or [], report.offsets
    lines = [
        LineRef(n, offsets[n - 1], offsets[n] - offsets[n - 1], ids[n - 1])
        for n in range(1, report.line_count + 1)
    ]
    return Validation(lines=lines, model=report.model, input_tokens=tokens)
