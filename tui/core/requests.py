"""Batch input files: validate and split JSONL request files as the Batch API would.

An input line is ``{"custom_id": str, "method": "POST", "url": endpoint, "body": {...}}``.
:func:`validate` streams a file once and returns a :class:`ValidationReport` listing
every problem with its 1-based line number, the field it concerns and a stable code;
:func:`split` cuts a file that is valid except for its size into parts that each fit
the API's limits. The embedded server validates with the same scanner
(:mod:`tui.localapi.validate`), so client and server never disagree on a file.

This module is the front door; the work is done in :mod:`~tui.core.request_report`
(codes, limits, the report), :mod:`~tui.core.request_scan` (the line scanner, and how
it stays fast), :mod:`~tui.core.request_split` and :mod:`~tui.core.request_file` (only
regular files are read: a FIFO, a directory or a device is refused at once).

Rules and the choices made where the API documentation is silent:

- Every line is one JSON object; lines end with ``\\n`` (a ``\\r`` before it is JSON
  whitespace, so CRLF files are accepted). The last line may lack its newline.
- A line holds exactly ``custom_id``, ``method``, ``url`` and ``body``; any other field
  is ``unknown_parameter``.
- ``custom_id`` is a non-empty string of at most 512 characters (the API documents no
  limit), unique in the file; ``method`` is exactly ``"POST"``;
  ``url`` is one of :data:`~tui.core.models.BATCH_ENDPOINTS` and the same on every line
  (and equal to the endpoint the caller expects, when given); ``body`` is an object
  whose ``model`` is a non-empty string, the same on every line.
- Each line is parsed as the API does: ``NaN``/``Infinity``, numbers out of range
  (``1e999``, a 5,000-digit integer), lone surrogate escapes, raw control characters
  in strings and nesting deeper than 128 levels are ``invalid_json_line``.
- Limits (:class:`Limits`): 50,000 requests; 200 MB read as 200,000,000 bytes (OpenAI
  says "up to 200 MB" without defining MB, so the smaller reading is used: a file we
  pass is never one the API rejects for size); for ``/v1/embeddings`` 50,000 embedding
  inputs over all requests (a string, or a list of token ids, is one input; a list of
  strings or of token lists is one input per item).
- Blank lines (empty or only JSON whitespace) are errors (``blank_line``): JSON Lines
  does not allow them, and the API counts lines, so a blank line would shift every
  line number it reports. A file with no non-blank line is ``empty_file``.
- A UTF-8 byte order mark at the start is an error (``utf8_bom``): the API parses each
  line as JSON and JSON text must not start with one. The rest of line 1 is still
  checked. Bytes that are not UTF-8 are ``invalid_utf8``, with their column.
- A line longer than the whole-file byte limit is ``line_too_large`` and is never read
  into memory (a one-line 1 GB JSON array stays cheap to reject).
- Only the first :data:`MAX_PROBLEMS` problems are kept; ``problem_count`` and
  ``problem_counts`` still count them all, so a wholly broken file stays small.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.core.request_file import open_request_file
from tui.core.request_report import (
    DEFAULT_LIMITS,
    EMBEDDINGS_ENDPOINT,
    LIMIT_CODES,
    MAX_CUSTOM_ID_CHARS,
    MAX_EMBEDDING_INPUTS,
    MAX_FILE_BYTES,
    MAX_PROBLEMS,
    MAX_REQUESTS,
    Code,
    InvalidRequestFileError,
    Limits,
    Problem,
    RequestFileError,
    SplitError,
    UnreadableFileError,
    ValidationReport,
    count_embedding_inputs,
    json_type_name,
)
from tui.core.request_scan import OnRequest, Scanner, scan

if TYPE_CHECKING:
    from tui.core.request_split import part_path, split

__all__ = [
    "DEFAULT_LIMITS",
    "EMBEDDINGS_ENDPOINT",
    "LIMIT_CODES",
    "MAX_CUSTOM_ID_CHARS",
    "MAX_EMBEDDING_INPUTS",
    "MAX_FILE_BYTES",
    "MAX_PROBLEMS",
    "MAX_REQUESTS",
    "Code",
    "InvalidRequestFileError",
    "Limits",
    "OnRequest",
    "Problem",
    "RequestFileError",
    "Scanner",
    "SplitError",
    "UnreadableFileError",
    "ValidationReport",
    "count_embedding_inputs",
    "json_type_name",
    "open_request_file",
    "part_path",
    "scan",
    "split",
    "validate",
]


def __getattr__(name: str) -> Any:
    """``split`` and ``part_path``, loaded from :mod:`~tui.core.request_split` when first
    asked for: a check does not need them (``batchdeck validate`` starts ~1.5 ms sooner)."""
    if name in ("split", "part_path"):
        from tui.core import request_split

        return getattr(request_split, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def validate(
    path: str | os.PathLike[str],
    *,
    endpoint: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    max_problems: int = MAX_PROBLEMS,
    on_request: OnRequest | None = None,
) -> ValidationReport:
    """Check a batch input file against every rule the API applies.

    ``endpoint`` is the batch's endpoint when already chosen: every ``url`` must equal
    it. Raises :class:`UnreadableFileError` (an ``OSError``) if the file cannot be read
    or is not a regular file, and ``ValueError`` for an unknown ``endpoint``; problems
    in the file are in the report, never raised. ``on_request`` sees each parsed
    line's ``url`` and ``body`` (a :class:`tui.core.tokens.FileEstimator`'s ``add``
    estimates the file from the same parse).
    """
    path = Path(path)
    report = scan(path, endpoint, limits, max_problems, on_request=on_request).report(path)
    _check_offered_endpoint(report, limits)
    return report


def _check_offered_endpoint(report: ValidationReport, limits: Limits) -> None:
    """A file for an endpoint the profile's service does not offer is refused (a
    ``url`` problem on the whole file, so it is never split)."""
    if not limits.endpoints or report.endpoint is None or report.endpoint in limits.endpoints:
        return
    message = (
        f"endpoint {report.endpoint} is not offered by this profile's service "
        f"(its batch endpoints: {', '.join(limits.endpoints)})"
    )
    problem = Problem(Code.INVALID_URL.value, message, None, "url")
    if len(report.problems) < MAX_PROBLEMS:
        report.problems.insert(0, problem)
    report.problem_count += 1
    report.problem_counts[problem.code] = report.problem_counts.get(problem.code, 0) + 1
