"""Batch input files: validate and split JSONL request files as the Batch API would.

An input line is ``{"custom_id": str, "method": "POST", "url": endpoint, "body": {...}}``.
:func:`validate` streams a file once and returns a :class:`ValidationReport` listing
every problem with its 1-based line number, the field it concerns and a stable code;
:func:`split` cuts a file that is valid except for its size into parts that each fit
the API's limits.

Rules and the choices made where the API documentation is silent:

- Every line is one JSON object; lines end with ``\\n`` (a ``\\r`` before it is JSON
  whitespace, so CRLF files are accepted). The last line may lack its newline.
- ``custom_id`` is a string, unique in the file; ``method`` is exactly ``"POST"``;
  ``url`` is one of :data:`~tui.core.models.BATCH_ENDPOINTS` and the same on every line
  (and equal to the endpoint the caller expects, when given); ``body`` is an object
  whose ``model`` is a string, the same on every line.
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

Speed: the file is read in large binary chunks and each line is decoded by msgspec into
a small struct holding only the fields checked; everything else is syntax-checked and
skipped in C. A line msgspec rejects is checked again slowly (``json``) to say exactly
what is wrong and where. Memory is one chunk, the longest line, 8 bytes per line for
the offsets, and one hash per ``custom_id``.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import os
import re
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, BinaryIO

import msgspec

from tui.core.errors import BatchdeckError
from tui.core.fsutil import atomic_file
from tui.core.models import BATCH_ENDPOINTS, BatchErrorItem

__all__ = [
    "DEFAULT_LIMITS",
    "EMBEDDINGS_ENDPOINT",
    "LIMIT_CODES",
    "MAX_EMBEDDING_INPUTS",
    "MAX_FILE_BYTES",
    "MAX_PROBLEMS",
    "MAX_REQUESTS",
    "Code",
    "InvalidRequestFileError",
    "Limits",
    "Problem",
    "RequestFileError",
    "SplitError",
    "ValidationReport",
    "count_embedding_inputs",
    "json_type_name",
    "part_path",
    "split",
    "validate",
]

MAX_REQUESTS = 50_000
MAX_FILE_BYTES = 200_000_000
MAX_EMBEDDING_INPUTS = 50_000
MAX_PROBLEMS = 1_000
EMBEDDINGS_ENDPOINT = "/v1/embeddings"

CHUNK_SIZE = 1024 * 1024  # bigger chunks measured no faster, only larger
_BOM = b"\xef\xbb\xbf"
_JSON_SPACE = " \t\r"
_ENDPOINTS = frozenset(BATCH_ENDPOINTS)


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
    FILE_TOO_LARGE = "file_too_large"
    LINE_TOO_LARGE = "line_too_large"
    TOO_MANY_EMBEDDING_INPUTS = "too_many_embedding_inputs"


LIMIT_CODES = frozenset({Code.TOO_MANY_TASKS, Code.FILE_TOO_LARGE, Code.TOO_MANY_EMBEDDING_INPUTS})
"""Problems :func:`split` exists to solve: it does not refuse a file for these."""
_FILE_CODES = LIMIT_CODES | {Code.EMPTY_FILE}


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-file limits; the defaults are the API's."""

    max_requests: int = MAX_REQUESTS
    max_bytes: int = MAX_FILE_BYTES
    max_embedding_inputs: int = MAX_EMBEDDING_INPUTS

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


# ---------------------------------------------------------------------------
# Fast path: decode only the checked fields.


class _Body(msgspec.Struct, gc=False):
    model: str
    input: msgspec.Raw = msgspec.Raw()


class _Request(msgspec.Struct, gc=False):
    custom_id: str
    method: str
    url: str
    body: _Body


_DECODER = msgspec.json.Decoder(_Request)
_FAST_ERRORS = (msgspec.DecodeError, msgspec.ValidationError)


def _id_key(custom_id: str) -> int:
    """The key the duplicate check stores (a hash; collisions are verified)."""
    return hash(custom_id)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _problem_order(problem: Problem) -> tuple[int, int]:
    """Whole-file problems first, then by line (stable, so per-line order is kept)."""
    return (0, 0) if problem.line is None else (1, problem.line)


def _iter_lines(
    handle: BinaryIO, chunk_size: int = CHUNK_SIZE, max_line: int = MAX_FILE_BYTES
) -> Iterator[bytes | int]:
    """Yield each line of a binary file without its ``\\n``, reading big chunks.

    A line that spans chunks is read again whole once its end is found, so memory is
    one chunk plus one line. A line longer than ``max_line`` bytes is never held in
    memory: its length is yielded instead of its bytes.
    """
    offset = 0  # file offset of the chunk in hand
    line_start = 0  # file offset of the first line not yielded yet
    while chunk := handle.read(chunk_size):
        lines = chunk.split(b"\n")
        tail = lines.pop()
        if lines:
            if line_start < offset:  # the first line began in an earlier chunk
                yield _read_line(handle, line_start, offset + len(lines[0]), max_line)
                del lines[0]
            for line in lines:
                yield line if len(line) <= max_line else len(line)
            line_start = offset + len(chunk) - len(tail)
        offset += len(chunk)
    if line_start < offset:  # the last line has no newline
        yield _read_line(handle, line_start, offset, max_line)


def _read_line(handle: BinaryIO, start: int, end: int, max_line: int) -> bytes | int:
    """Bytes ``start:end`` of the file (or their length past ``max_line``), in place."""
    if end - start > max_line:
        return end - start
    here = handle.tell()
    handle.seek(start)
    parts = []
    remaining = end - start
    while remaining and (block := handle.read(remaining)):
        parts.append(block)
        remaining -= len(block)
    handle.seek(here)
    if remaining:
        raise RequestFileError(f"{getattr(handle, 'name', 'file')}: changed while being read")
    return parts[0] if len(parts) == 1 else b"".join(parts)


class _Scanner:
    """Checks lines one at a time and accumulates the report's fields."""

    def __init__(
        self,
        fd: int,
        endpoint: str | None,
        limits: Limits,
        max_problems: int,
        *,
        keep_input_counts: bool = False,
    ) -> None:
        self.fd = fd
        self.expected = endpoint
        self.endpoint = endpoint
        self.model: str | None = None
        self.limits = limits
        self.max_problems = max_problems
        self.problems: list[Problem] = []
        self.problem_count = 0
        self.problem_counts: dict[str, int] = {}
        self.line = 0
        self.requests = 0
        self.end = 0
        self.embedding_inputs = 0
        self.offsets = array("q")
        self.input_counts: array[int] | None = array("q") if keep_input_counts else None
        self._seen: dict[int, int] = {}
        self._collided: dict[str, int] = {}

    # -- reporting ----------------------------------------------------------

    def add(
        self, code: Code, message: str, field: str | None = None, line: int | None = -1
    ) -> None:
        """Record a problem (on the current line unless ``line`` says otherwise).

        Past the cap only whole-file problems (limits, empty file) are still kept.
        """
        self.problem_count += 1
        name = code.value
        self.problem_counts[name] = self.problem_counts.get(name, 0) + 1
        if len(self.problems) < self.max_problems or code in _FILE_CODES:
            self.problems.append(Problem(name, message, self.line if line == -1 else line, field))

    # -- per line -------------------------------------------------------------

    def feed(self, raw: bytes | int) -> None:
        """Check one line (without its ``\\n``), or note one too long to hold (its size)."""
        self.offsets.append(self.end)
        self.line += 1
        if isinstance(raw, int):
            self._feed_too_long(raw)
            return
        self.end += len(raw) + 1
        # msgspec does not check UTF-8 inside the strings it skips: check it first.
        if raw.isascii() or _is_utf8(raw):
            try:
                req = _DECODER.decode(raw)
            except _FAST_ERRORS:
                inputs = self._feed_slow(raw)
            else:
                self._count_request()
                body = req.body
                inputs = self._check(req.custom_id, req.method, req.url, body.model, body.input)
        else:
            inputs = self._feed_slow(raw)
        if self.input_counts is not None:
            self.input_counts.append(inputs)

    def _feed_too_long(self, size: int) -> None:
        self.end += size + 1
        self._count_request()
        cap = self.limits.max_bytes
        self.add(Code.LINE_TOO_LARGE, f"{size} bytes in one line, over the {cap} byte file limit")
        if self.input_counts is not None:
            self.input_counts.append(0)

    def _feed_slow(self, raw: bytes) -> int:
        """Find exactly what is wrong with a line the fast decoder rejected."""
        skipped = 0
        if self.line == 1 and raw.startswith(_BOM):
            self.add(Code.UTF8_BOM, "file starts with a UTF-8 byte order mark; remove it")
            raw, skipped = raw[len(_BOM) :], len(_BOM)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self._count_request()
            at = exc.start + skipped + 1
            self.add(
                Code.INVALID_UTF8,
                f"byte {raw[exc.start]:#04x} (byte {at} of the line) is not UTF-8",
            )
            return 0
        if not text.strip(_JSON_SPACE):
            self.add(Code.BLANK_LINE, "blank line; every line must be a JSON object")
            return 0
        self._count_request()
        start = text.lstrip(_JSON_SPACE)[0]
        if start != "{":  # say so without parsing what may be a huge array
            self.add(Code.INVALID_JSON_LINE, f"not a JSON object: the line starts with {start!r}")
            return 0
        try:
            obj = json.loads(text, parse_constant=_reject_constant)
        except ValueError as exc:
            where = ""
            if isinstance(exc, json.JSONDecodeError):
                exc_msg, where = exc.msg, f" at column {exc.colno + bool(skipped)}"
            else:
                exc_msg = str(exc)
            self.add(Code.INVALID_JSON_LINE, f"not valid JSON: {exc_msg}{where}")
            return 0
        return self._check(*self._fields(obj))

    def _fields(self, obj: dict[str, Any]) -> tuple[Any, Any, Any, Any, Any]:
        """Report missing or mistyped fields; return the usable values (None if not)."""
        custom_id = self._string(obj, "custom_id", Code.MISSING_CUSTOM_ID, Code.INVALID_CUSTOM_ID)
        method = self._string(obj, "method", Code.MISSING_METHOD, Code.INVALID_METHOD)
        url = self._string(obj, "url", Code.MISSING_URL, Code.INVALID_URL)
        model = raw_input = None
        if "body" not in obj:
            self.add(Code.MISSING_BODY, "missing body (the request's JSON object)", "body")
        elif not isinstance(obj["body"], dict):
            self.add(Code.INVALID_BODY, "body must be a JSON object", "body")
        else:
            body = obj["body"]
            model = self._string(body, "model", Code.MISSING_MODEL, Code.INVALID_MODEL, "body.")
            raw_input = body.get("input")
        return custom_id, method, url, model, raw_input

    def _string(
        self, obj: dict[str, Any], key: str, missing: Code, invalid: Code, prefix: str = ""
    ) -> str | None:
        name = prefix + key
        if key not in obj:
            self.add(missing, f"missing {name}", name)
            return None
        value = obj[key]
        if not isinstance(value, str):
            self.add(invalid, f"{name} must be a string, not {json_type_name(value)}", name)
            return None
        return value

    # -- checks shared by both paths ------------------------------------------

    def _count_request(self) -> None:
        self.requests += 1
        cap = self.limits.max_requests
        if self.requests == cap + 1:
            self.add(Code.TOO_MANY_TASKS, f"more than {cap} requests in one file; split it")

    def _check(
        self,
        custom_id: str | None,
        method: str | None,
        url: str | None,
        model: str | None,
        raw_input: object,
    ) -> int:
        """Check field values; return this line's embedding inputs."""
        if custom_id is not None:
            self._check_custom_id(custom_id)
        if method is not None and method != "POST":
            self.add(Code.INVALID_METHOD, f"method must be POST, not {method!r}", "method")
        if url is not None:
            self._check_url(url)
        if model is not None:
            if self.model is None:
                self.model = model
            elif model != self.model:
                self.add(
                    Code.MODEL_MISMATCH,
                    f"model {model!r} differs from {self.model!r} used before; one model per file",
                    "body.model",
                )
        if url != EMBEDDINGS_ENDPOINT:
            return 0
        return self._count_inputs(raw_input)

    def _check_url(self, url: str) -> None:
        if url not in _ENDPOINTS:
            self.add(Code.INVALID_URL, f"url {url!r} is not a batch endpoint", "url")
        elif self.endpoint is None:
            self.endpoint = url
        elif url != self.endpoint:
            whose = "the batch's endpoint" if self.expected else "the url used before"
            self.add(
                Code.URL_MISMATCH, f"url {url!r} differs from {whose} {self.endpoint!r}", "url"
            )

    def _check_custom_id(self, custom_id: str) -> None:
        key = _id_key(custom_id)
        first = self._seen.setdefault(key, self.line)
        if first == self.line:
            return
        if self._custom_id_at(first) != custom_id:  # a hash collision: compare exactly
            first = self._collided.setdefault(custom_id, self.line)
            if first == self.line:
                return
        self.add(
            Code.DUPLICATE_CUSTOM_ID,
            f"custom_id {custom_id!r} already used on line {first}",
            "custom_id",
        )

    def _custom_id_at(self, line: int) -> object:
        """Re-read an earlier line's custom_id (only on a hash match)."""
        start, end = self.offsets[line - 1], self.offsets[line]
        raw = os.pread(self.fd, end - start, start).rstrip(b"\n")
        if line == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        obj = json.loads(raw)
        return obj.get("custom_id")

    def _count_inputs(self, raw_input: object) -> int:
        if isinstance(raw_input, msgspec.Raw):
            raw_input = msgspec.json.decode(raw_input) if len(raw_input) else None
        inputs = count_embedding_inputs(raw_input)
        before = self.embedding_inputs
        self.embedding_inputs += inputs
        cap = self.limits.max_embedding_inputs
        if before <= cap < self.embedding_inputs:
            self.add(
                Code.TOO_MANY_EMBEDDING_INPUTS,
                f"more than {cap} embedding inputs in one file; split it",
                "body.input",
            )
        return inputs

    # -- end of file ------------------------------------------------------------

    def finish(self, size: int) -> None:
        """Close the offsets table at ``size`` bytes read and apply whole-file rules."""
        self.offsets.append(size)
        cap = self.limits.max_bytes
        if size > cap:
            line = bisect.bisect_right(self.offsets, cap, lo=1)  # first line ending past cap
            self.add(
                Code.FILE_TOO_LARGE,
                f"{size} bytes, over the {cap} byte limit from this line on; split it",
                line=line,
            )
        if self.requests == 0:
            blanks = self.problem_counts.pop(Code.BLANK_LINE, 0)
            self.problem_count -= blanks
            self.problems = [p for p in self.problems if p.code != Code.BLANK_LINE]
            self.add(Code.EMPTY_FILE, "the file has no requests", line=None)
        self.problems.sort(key=_problem_order)

    def report(self, path: Path) -> ValidationReport:
        return ValidationReport(
            path=path,
            endpoint=self.endpoint,
            model=self.model,
            line_count=self.line,
            request_count=self.requests,
            bytes=self.offsets[-1],
            embedding_inputs=self.embedding_inputs,
            problems=self.problems,
            problem_count=self.problem_count,
            problem_counts=self.problem_counts,
            offsets=self.offsets,
            limits=self.limits,
        )


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


def _scan(
    path: Path,
    endpoint: str | None,
    limits: Limits,
    max_problems: int,
    *,
    keep_input_counts: bool = False,
) -> _Scanner:
    if endpoint is not None and endpoint not in _ENDPOINTS:
        raise ValueError(f"{endpoint!r} is not a batch endpoint: {', '.join(BATCH_ENDPOINTS)}")
    with open(path, "rb", buffering=0) as handle:
        scanner = _Scanner(
            handle.fileno(), endpoint, limits, max_problems, keep_input_counts=keep_input_counts
        )
        for raw in _iter_lines(handle, CHUNK_SIZE, limits.max_bytes):
            scanner.feed(raw)
        scanner.finish(handle.tell())
    return scanner


def validate(
    path: str | os.PathLike[str],
    *,
    endpoint: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    max_problems: int = MAX_PROBLEMS,
) -> ValidationReport:
    """Check a batch input file against every rule the API applies.

    ``endpoint`` is the batch's endpoint when already chosen: every ``url`` must equal
    it. Raises ``OSError`` if the file cannot be read and ``ValueError`` for an
    unknown ``endpoint``; problems in the file are in the report, never raised.
    """
    path = Path(path)
    return _scan(path, endpoint, limits, max_problems).report(path)


# ---------------------------------------------------------------------------
# Split


def part_path(source: Path, out_dir: Path, index: int, total: int) -> Path:
    """Where part ``index`` (1-based) of ``total`` goes: ``<stem>.part-001.jsonl``."""
    width = max(3, len(str(total)))
    return out_dir / f"{source.stem}.part-{index:0{width}d}.jsonl"


def _plan(path: Path, scanner: _Scanner, limits: Limits) -> list[tuple[int, int]]:
    """Cut the lines into runs that each fit ``limits``, in order, greedily.

    Returns ``(first, end)`` 0-based line indexes, ``end`` excluded.
    """
    offsets, inputs = scanner.offsets, scanner.input_counts
    assert inputs is not None
    parts: list[tuple[int, int]] = []
    start = count = size = used = 0
    for i in range(scanner.line):
        line_size, line_inputs = offsets[i + 1] - offsets[i], inputs[i]
        if line_size > limits.max_bytes:
            message = f"one request is {line_size} bytes, over the part limit {limits.max_bytes}"
            raise SplitError(path, Problem(Code.FILE_TOO_LARGE.value, message, i + 1))
        if line_inputs > limits.max_embedding_inputs:
            message = (
                f"one request has {line_inputs} embedding inputs, "
                f"over the part limit {limits.max_embedding_inputs}"
            )
            code = Code.TOO_MANY_EMBEDDING_INPUTS.value
            raise SplitError(path, Problem(code, message, i + 1, "body.input"))
        if count and (
            count + 1 > limits.max_requests
            or size + line_size > limits.max_bytes
            or used + line_inputs > limits.max_embedding_inputs
        ):
            parts.append((start, i))
            start, count, size, used = i, 0, 0, 0
        count, size, used = count + 1, size + line_size, used + line_inputs
    parts.append((start, scanner.line))
    return parts


def _copy_range(src: IO[bytes], dst: IO[bytes], start: int, end: int) -> None:
    src.seek(start)
    remaining = end - start
    while remaining:
        block = src.read(min(CHUNK_SIZE, remaining))
        if not block:
            raise RequestFileError(f"{src.name}: file shrank while it was being split")
        dst.write(block)
        remaining -= len(block)


def split(
    path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    max_requests: int = MAX_REQUESTS,
    max_bytes: int = MAX_FILE_BYTES,
    max_embedding_inputs: int = MAX_EMBEDDING_INPUTS,
    endpoint: str | None = None,
) -> list[Path]:
    """Split a batch input file into parts that each fit the limits; return their paths.

    Lines are copied byte for byte, in order, each into exactly one part; parts are
    filled greedily and named by :func:`part_path`. Each part is written atomically
    and replaces an existing file of the same name; afterwards the parts of an earlier
    split of a file with the same stem that are not in this one (``<stem>.part-NNN.jsonl``
    in ``out_dir``, exactly that pattern) are removed, so that submitting every part
    never sends a request twice. A file with problems other than
    its size or counts raises :class:`InvalidRequestFileError`; a single request too
    big for a part raises :class:`SplitError`. A file within the limits gives one part.
    """
    path, out = Path(path), Path(out_dir)
    limits = Limits(max_requests, max_bytes, max_embedding_inputs)
    scanner = _scan(path, endpoint, DEFAULT_LIMITS, MAX_PROBLEMS, keep_input_counts=True)
    report = scanner.report(path)
    if not report.only_limit_problems:
        blocking = [p for p in report.problems if p.code not in LIMIT_CODES]
        count = sum(n for code, n in report.problem_counts.items() if code not in LIMIT_CODES)
        raise InvalidRequestFileError(report, blocking, count)
    plan = _plan(path, scanner, limits)
    offsets = scanner.offsets
    written: list[Path] = []
    with open(path, "rb") as src:
        for index, (first, end) in enumerate(plan, start=1):
            target = part_path(path, out, index, len(plan))
            with atomic_file(target) as dst:
                _copy_range(src, dst, offsets[first], offsets[end])
            written.append(target)
    _remove_stale_parts(path, out, written)
    return written


def _remove_stale_parts(source: Path, out_dir: Path, keep: list[Path]) -> None:
    """Remove ``<stem>.part-NNN.jsonl`` files in ``out_dir`` that are not in ``keep``:
    parts of an earlier split into more parts (or wider numbers) than this one."""
    pattern = re.compile(re.escape(source.stem) + r"\.part-[0-9]{3,}\.jsonl")
    names = {target.name for target in keep} | {source.name}
    for name in os.listdir(out_dir):
        if pattern.fullmatch(name) and name not in names:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(out_dir / name)
