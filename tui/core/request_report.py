"""What a request file check finds: codes, limits, problems, the report, the errors.

:func:`tui.core.requests.validate` fills a :class:`ValidationReport`; these types are
shared by the validator, :func:`tui.core.requests.split` and the embedded server.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from tui.core.errors import BatchdeckError
from tui.core.models import MAX_EMBEDDING_INPUTS, MAX_FILE_BYTES, MAX_REQUESTS, BatchErrorItem

MAX_PROBLEMS = 1_000
MAX_CUSTOM_ID_CHARS = 512
"""Longest ``custom_id`` accepted. The API documents no limit; 512 characters (the
limit of a metadata value) keeps ids short enough to show and to index."""
EMBEDDINGS_ENDPOINT = "/v1/embeddings"


class Code(StrEnum):
    """Stable problem codes; the API's own where it has one."""

    # The API's codes (batch.errors.data[].code).
    INVALID_JSON_LINE = "invalid_json_line"
    DUPLICATE_CUSTOM_ID = "duplicate_custom_id"
    URL_MISMATCH = "url_mismatch"
    MODEL_MISMATCH = "model_mismatch"
    EMPTY_FILE = "empty_file"
    TOO_MANY_TASKS = "too_many_tasks"
    # Ours, for what the API reports less precisely.
    INVALID_UTF8 = "invalid_utf8"
    UTF8_BOM = "utf8_bom"
    BLANK_LINE = "blank_line"
    MISSING_CUSTOM_ID = "missing_custom_id"
    INVALID_CUSTOM_ID = "invalid_custom_id"
    MISSING_METHOD = "missing_method"
    INVALID_METHOD = "invalid_method"
    MISSING_URL = "missing_url"
    INVALID_URL = "invalid_url"
    MISSING_BODY = "missing_body"
    INVALID_BODY = "invalid_body"
    MISSING_MODEL = "missing_model"
    INVALID_MODEL = "invalid_model"
    UNKNOWN_PARAMETER = "unknown_parameter"
    FILE_TOO_LARGE = "file_too_large"
    LINE_TOO_LARGE = "line_too_large"
    TOO_MANY_EMBEDDING_INPUTS = "too_many_embedding_inputs"


LIMIT_CODES = frozenset({Code.TOO_MANY_TASKS, Code.FILE_TOO_LARGE, Code.TOO_MANY_EMBEDDING_INPUTS})
"""Problems :func:`split` exists to solve: it does not refuse a file for these."""
_FILE_CODES = LIMIT_CODES | {Code.EMPTY_FILE}


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-file limits; the defaults are the API's. ``endpoints``: the batch endpoints
    the service offers (empty: every one of :data:`~tui.core.models.BATCH_ENDPOINTS`)."""

    max_requests: int = MAX_REQUESTS
    max_bytes: int = MAX_FILE_BYTES
    max_embedding_inputs: int = MAX_EMBEDDING_INPUTS
    endpoints: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("max_requests", "max_bytes", "max_embedding_inputs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input file.

    ``line`` is 1-based (None for the whole file); ``field`` is a dotted path such as
    ``"body.model"`` when the problem concerns one field.
    """

    code: str
    message: str
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "file"
        if self.field:
            where += f", {self.field}"
        return f"{where}: {self.message} [{self.code}]"

    def as_batch_error(self) -> BatchErrorItem:
        """This problem as an entry of ``batch.errors.data`` (``field`` becomes ``param``)."""
        return BatchErrorItem(
            code=self.code, message=self.message, param=self.field, line=self.line
        )


@dataclass(slots=True)
class ValidationReport:
    """What :func:`validate` found in one file.

    ``endpoint`` and ``model`` are the expected endpoint or else the first valid ones
    seen. ``line_count`` counts every line (blank ones too), ``request_count`` the
    non-blank ones. ``offsets[i]`` is the byte offset where line ``i + 1`` starts, and
    ``offsets[line_count]`` the file size, so a line can be re-read without a rescan.
    """

    path: Path
    endpoint: str | None
    model: str | None
    line_count: int
    request_count: int
    bytes: int
    embedding_inputs: int
    problems: list[Problem]
    problem_count: int
    problem_counts: dict[str, int]
    offsets: array[int] = field(repr=False)
    limits: Limits = DEFAULT_LIMITS

    @property
    def ok(self) -> bool:
        """True when the API would accept the file."""
        return self.problem_count == 0

    @property
    def truncated(self) -> bool:
        """True when more problems were found than ``problems`` holds."""
        return self.problem_count > len(self.problems)

    @property
    def only_limit_problems(self) -> bool:
        """True when every problem is a size or count limit (see :func:`split`)."""
        return all(code in LIMIT_CODES for code in self.problem_counts)

    def line_span(self, line: int) -> tuple[int, int]:
        """Byte range ``(start, end)`` of 1-based ``line``, its newline included."""
        if not 1 <= line <= self.line_count:
            raise IndexError(f"line {line} not in 1..{self.line_count}")
        return self.offsets[line - 1], self.offsets[line]

    def summary(self) -> str:
        """One line for a status bar or a log."""
        head = f"{self.path}: {self.request_count} requests, {self.bytes} bytes"
        if self.ok:
            return f"{head}, {self.endpoint}, {self.model}: ok"
        return f"{head}: {self.problem_count} problems, first: {self.problems[0]}"

    def raise_for_problems(self) -> None:
        """Raise :class:`InvalidRequestFileError` unless the file is valid."""
        if not self.ok:
            raise InvalidRequestFileError(self)


class RequestFileError(BatchdeckError):
    """Base class for input file errors."""


class UnreadableFileError(RequestFileError, OSError):
    """A file that cannot be read: missing, not permitted, or not a regular file (a
    FIFO, a directory, a device). Also an ``OSError``, for callers that catch those."""


class InvalidRequestFileError(RequestFileError, ValueError):
    """A file has problems: ``problems`` (up to the cap) of ``count``; ``report`` has all."""

    SHOWN = 10

    def __init__(
        self, report: ValidationReport, problems: list[Problem] | None = None, count: int = -1
    ) -> None:
        self.report = report
        self.problems = report.problems if problems is None else problems
        self.count = report.problem_count if count < 0 else count
        shown = "\n".join(f"  {p}" for p in self.problems[: self.SHOWN])
        more = self.count - min(len(self.problems), self.SHOWN)
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(f"{report.path}: {self.count} problem(s)\n{shown}{tail}")


class SplitError(RequestFileError, ValueError):
    """A single request is too big for any part."""

    def __init__(self, path: Path, problem: Problem) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def count_embedding_inputs(value: object) -> int:
    """Embedding inputs in one ``body.input``: a string or a token list is one."""
    if isinstance(value, str):
        return 1
    if not isinstance(value, list) or not value:
        return 0
    if all(isinstance(item, int) and not isinstance(item, bool) for item in value):
        return 1
    return len(value)


_JSON_KINDS = {
    dict: "object",
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


def json_type_name(value: object, *, article: bool = False) -> str:
    """The JSON name of a decoded value's type, for messages: ``"object"``, or with
    ``article=True`` as the API words it, ``"an object"`` (``"null"`` takes none)."""
    name = _JSON_KINDS.get(type(value), type(value).__name__)
    if not article or value is None:
        return name
    return ("an " if name[0] in "aeiou" else "a ") + name
