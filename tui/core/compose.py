"""Build batch input files from rows of data and a request template.

A :class:`RequestTemplate` is an endpoint, a request body and a ``custom_id`` pattern.
Every string in the body may hold ``{column}`` placeholders, filled from each row;
``{{`` and ``}}`` are literal braces. ``{index}`` is the row's 1-based number (unless
the rows have a column of that name, which wins). The ``custom_id`` pattern works the
same way: ``"row-{index}"`` numbers the requests, ``"{id}"`` takes the ``id`` column,
and a format spec is allowed (``"req-{index:05d}"``).

Rows come from a CSV or TSV file (first line is the header), a JSONL file (one object
per line; values that are not strings are written as JSON) or a text file (one row
per non-blank line, in the column ``text``): :func:`read_rows`.

Errors name the row: a placeholder with no column in that row, a row with the wrong
number of fields, a CSV/TSV record the ``csv`` module cannot read (named with the
file and line), an empty or duplicate ``custom_id`` (duplicates are refused, never
renamed). A CSV/TSV field may be up to :data:`CSV_FIELD_LIMIT` characters: importing
this module raises the ``csv`` module's process-wide limit (128 KiB by default) to it
once, since prompts pasted into one cell can be long. Files are written atomically
(:func:`tui.core.fsutil.atomic_file`) and then checked with
:func:`tui.core.requests.validate`, which remains the single judge of what the API
accepts.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import os
import string
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from tui.core.errors import BatchdeckError
from tui.core.fsutil import atomic_file
from tui.core.models import BATCH_ENDPOINTS
from tui.core.pricing import Price
from tui.core.request_file import open_request_file
from tui.core.requests import DEFAULT_LIMITS, Limits, ValidationReport, validate
from tui.core.tokens import Estimate, Estimator

__all__ = [
    "DEFAULT_ID_PATTERN",
    "INDEX",
    "ROW_KINDS",
    "TEXT_COLUMN",
    "BuildResult",
    "ComposeError",
    "RequestTemplate",
    "Template",
    "build_file",
    "columns_of",
    "detect_kind",
    "encode_request",
    "iter_requests",
    "preview",
    "read_rows",
    "write_requests",
]

INDEX = "index"
TEXT_COLUMN = "text"
DEFAULT_ID_PATTERN = "row-{index}"
ROW_KINDS = ("csv", "tsv", "jsonl", "text")
_SUFFIX_KINDS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_FORMATTER = string.Formatter()
_ENCODE = msgspec.json.Encoder().encode

Row = Mapping[str, str]

CSV_FIELD_LIMIT = 16 * 1024 * 1024
"""The largest CSV/TSV field read, in characters (``csv.field_size_limit``, raised at import)."""
csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))


class ComposeError(BatchdeckError, ValueError):
    """A row or a template cannot make a request; ``row`` is 1-based when known."""

    def __init__(self, message: str, *, row: int | None = None, column: str | None = None):
        self.row = row
        self.column = column
        super().__init__(f"row {row}: {message}" if row is not None else message)


# ---------------------------------------------------------------------------
# Rows


def detect_kind(path: str | os.PathLike[str]) -> str:
    """``csv``, ``tsv`` or ``jsonl`` by the file's suffix; anything else is ``text``."""
    return _SUFFIX_KINDS.get(Path(path).suffix.lower(), "text")


def _cell(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return _ENCODE(value).decode("utf-8")


def _records(handle: io.TextIOBase, delimiter: str) -> Iterator[list[str]]:
    """The file's CSV/TSV records; a :class:`csv.Error` (not a ``ValueError``) becomes a
    :class:`ComposeError` naming the file, the line and the row (``None``: the header)."""
    reader = csv.reader(handle, delimiter=delimiter)
    name = getattr(handle, "name", "the file")
    records = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            where = f"{name}, line {reader.line_num}"
            if records == 0:
                raise ComposeError(f"the header is not readable CSV ({where}): {exc}") from None
            raise ComposeError(f"not readable CSV ({where}): {exc}", row=records) from None
        records += 1
        yield fields


def _delimited_rows(handle: io.TextIOBase, delimiter: str) -> Iterator[dict[str, str]]:
    reader = _records(handle, delimiter)
    header = next(reader, None)
    if header is None:
        return
    if len(set(header)) != len(header):
        twice = sorted({name for name in header if header.count(name) > 1})
        raise ComposeError(f"the header names a column twice: {', '.join(twice)}")
    width = len(header)
    number = 0
    for fields in reader:
        if not fields:  # a blank line
            continue
        number += 1
        if len(fields) != width:
            raise ComposeError(f"has {len(fields)} fields, the header has {width}", row=number)
        yield dict(zip(header, fields, strict=True))


def _jsonl_rows(handle: io.TextIOBase) -> Iterator[dict[str, str]]:
    number = 0
    for line in handle:
        if not line.strip():
            continue
        number += 1
        try:
            obj = msgspec.json.decode(line)
        except msgspec.DecodeError as exc:
            raise ComposeError(f"not valid JSON: {exc}", row=number) from None
        if not isinstance(obj, dict):
            raise ComposeError("is not a JSON object", row=number)
        yield {str(key): _cell(value) for key, value in obj.items()}


def _text_rows(handle: io.TextIOBase) -> Iterator[dict[str, str]]:
    for line in handle:
        text = line.rstrip("\r\n")
        if text.strip():
            yield {TEXT_COLUMN: text}


def read_rows(path: str | os.PathLike[str], kind: str | None = None) -> Iterator[dict[str, str]]:
    """The rows of a data file, each a ``{column: text}`` dict, streamed in order."""
    kind = kind or detect_kind(path)
    if kind not in ROW_KINDS:
        raise ComposeError(f"unknown row file kind {kind!r}: {', '.join(ROW_KINDS)}")
    with _text_file(path, kind) as fh:
        if kind == "csv":
            yield from _delimited_rows(fh, ",")
        elif kind == "tsv":
            yield from _delimited_rows(fh, "\t")
        elif kind == "jsonl":
            yield from _jsonl_rows(fh)
        else:
            yield from _text_rows(fh)


def columns_of(path: str | os.PathLike[str], kind: str | None = None) -> list[str]:
    """The columns a template can use: the header, or the first object's keys."""
    kind = kind or detect_kind(path)
    if kind == "text":
        return [TEXT_COLUMN]
    if kind in ("csv", "tsv"):
        with _text_file(path, kind) as fh:
            return list(next(_records(fh, "," if kind == "csv" else "\t"), []))
    return list(next(iter(read_rows(path, kind)), {}))


@contextlib.contextmanager
def _text_file(path: str | os.PathLike[str], kind: str) -> Iterator[io.TextIOBase]:
    """``path`` open as UTF-8 text (a FIFO, directory or device is refused at once by
    :func:`open_request_file`); bytes that are not UTF-8 are a :class:`ComposeError`
    naming the file, not a ``UnicodeDecodeError`` from deep inside a read."""
    newline = "" if kind in ("csv", "tsv") else None
    try:
        with io.TextIOWrapper(open_request_file(path), "utf-8-sig", newline=newline) as fh:
            yield fh
    except UnicodeDecodeError as exc:
        name = Path(path).name
        raise ComposeError(f"{name} is not UTF-8 text ({exc.reason})") from None


# ---------------------------------------------------------------------------
# Templates


class Template:
    """A string with ``{column}`` placeholders, parsed once and filled per row."""

    __slots__ = ("_fast", "_pieces", "fields", "source", "static")

    def __init__(self, source: str) -> None:
        self.source = source
        pieces: list[tuple[str, str | None, str]] = []
        try:
            parsed = list(_FORMATTER.parse(source))
        except ValueError as exc:
            raise ComposeError(
                f"template {source[:60]!r}: {exc} (write {{{{ and }}}} for literal braces)"
            ) from None
        for literal, name, spec, conversion in parsed:
            if name is None:
                pieces.append((literal, None, ""))
                continue
            if name == "":
                raise ComposeError(
                    f"template {source[:60]!r}: empty placeholder {{}}; name a column "
                    "(write {{ and }} for literal braces)"
                )
            if conversion:
                raise ComposeError(
                    f"template {source[:60]!r}: {{{name}!{conversion}}} is not allowed"
                )
            if spec and ("{" in spec or "}" in spec):
                raise ComposeError(f"template {source[:60]!r}: nested placeholders are not allowed")
            pieces.append((literal, name, spec or ""))
        self._pieces = tuple(pieces)
        self.fields = tuple(dict.fromkeys(name for _, name, _ in pieces if name is not None))
        self.static = not self.fields
        # Plain names and no specs: str.format_map (in C) fills it; errors go the slow way.
        plain = all(name.isidentifier() and not spec for _, name, spec in pieces if name)
        self._fast = source if plain and INDEX not in self.fields else None

    def literal(self) -> str:
        """The text of a template without placeholders (``{{`` made ``{``)."""
        return "".join(literal for literal, _, _ in self._pieces)

    def render(self, row: Row, index: int) -> str:
        """Fill the placeholders from ``row`` (``index`` is its 1-based number)."""
        if self._fast is not None:
            try:
                return self._fast.format_map(row)
            except (KeyError, TypeError, ValueError):
                pass  # the slow path below says exactly what is wrong
        out: list[str] = []
        for literal, name, spec in self._pieces:
            out.append(literal)
            if name is None:
                continue
            value: Any = row.get(name)
            if value is None:
                if name != INDEX:
                    known = ", ".join(list(row)[:12]) or "none"
                    raise ComposeError(
                        f"no column {name!r} (columns: {known})", row=index, column=name
                    )
                value = index
            if spec:
                try:
                    value = format(value, spec)
                except ValueError as exc:
                    raise ComposeError(
                        f"{{{name}:{spec}}}: {exc}", row=index, column=name
                    ) from None
            elif not isinstance(value, str):
                value = str(value)
            out.append(value)
        return "".join(out)


Renderer = Callable[[Row, int], Any]


def _compile(value: Any) -> tuple[Any, Renderer | None]:
    """``(static value, None)`` when nothing in ``value`` depends on the row, else
    ``(None, renderer)``. Only strings are templated; keys and other types are kept."""
    if isinstance(value, str):
        template = Template(value)
        if template.static:
            return template.literal(), None
        return None, template.render
    if isinstance(value, Mapping):
        parts = [(key, *_compile(item)) for key, item in value.items()]
        if all(fn is None for _, _, fn in parts):
            return {key: static for key, static, _ in parts}, None

        def render_dict(row: Row, index: int) -> dict[str, Any]:
            return {key: static if fn is None else fn(row, index) for key, static, fn in parts}

        return None, render_dict
    if isinstance(value, list | tuple):
        items = [_compile(item) for item in value]
        if all(fn is None for _, fn in items):
            return [static for static, _ in items], None

        def render_list(row: Row, index: int) -> list[Any]:
            return [static if fn is None else fn(row, index) for static, fn in items]

        return None, render_list
    return value, None


@dataclass(frozen=True)
class RequestTemplate:
    """What every request of a composed batch looks like.

    ``body`` is the request body with ``{column}`` placeholders in its strings;
    ``custom_id`` the pattern that names each request (see the module docstring).
    """

    endpoint: str
    body: Mapping[str, Any]
    custom_id: str = DEFAULT_ID_PATTERN
    _compiled: tuple[Any, Renderer | None, Template] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.endpoint not in BATCH_ENDPOINTS:
            raise ComposeError(
                f"{self.endpoint!r} is not a batch endpoint: {', '.join(BATCH_ENDPOINTS)}"
            )
        if not isinstance(self.body, Mapping):
            raise ComposeError("the body must be a JSON object")
        model = self.body.get("model")
        if not isinstance(model, str) or not model.strip():
            raise ComposeError("the body needs a model")
        if not self.custom_id.strip():
            raise ComposeError("the custom_id pattern is empty")
        static, renderer = _compile(self.body)
        object.__setattr__(self, "_compiled", (static, renderer, Template(self.custom_id)))

    @property
    def fields(self) -> tuple[str, ...]:
        """Every column the body and the ``custom_id`` pattern use."""
        names: dict[str, None] = {}
        _collect_fields(self.body, names)
        names.update(dict.fromkeys(Template(self.custom_id).fields))
        return tuple(names)

    def missing_columns(self, columns: Iterable[str]) -> list[str]:
        """Columns the template uses that ``columns`` lack (``index`` is built in)."""
        have = set(columns) | {INDEX}
        return [name for name in self.fields if name not in have]

    def render(self, row: Row, index: int) -> tuple[str, dict[str, Any]]:
        """``(custom_id, body)`` for one row."""
        assert self._compiled is not None
        static, renderer, id_template = self._compiled
        custom_id = id_template.render(row, index)
        if not custom_id:
            raise ComposeError(f"custom_id pattern {self.custom_id!r} gave an empty id", row=index)
        body = static if renderer is None else renderer(row, index)
        return custom_id, body


def _collect_fields(value: Any, into: dict[str, None]) -> None:
    if isinstance(value, str):
        into.update(dict.fromkeys(Template(value).fields))
    elif isinstance(value, Mapping):
        for item in value.values():
            _collect_fields(item, into)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect_fields(item, into)


# ---------------------------------------------------------------------------
# Requests and files


def iter_requests(
    rows: Iterable[Row], template: RequestTemplate
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(custom_id, body)`` per row, in order; a duplicate ``custom_id`` is an error."""
    seen: dict[str, int] = {}
    for index, row in enumerate(rows, start=1):
        custom_id, body = template.render(row, index)
        first = seen.setdefault(custom_id, index)
        if first != index:
            raise ComposeError(
                f"custom_id {custom_id!r} is already used by row {first}; "
                "choose a column or pattern that is unique",
                row=index,
            )
        yield custom_id, body


def preview(rows: Iterable[Row], template: RequestTemplate, count: int = 5) -> list[dict[str, Any]]:
    """The first ``count`` request lines exactly as they will be written."""
    return [
        request_line(custom_id, template.endpoint, body)
        for custom_id, body in itertools.islice(iter_requests(rows, template), count)
    ]


def request_line(custom_id: str, endpoint: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """One input line as a dict: ``custom_id``, ``method``, ``url``, ``body``."""
    return {"custom_id": custom_id, "method": "POST", "url": endpoint, "body": body}


def encode_request(custom_id: str, endpoint: str, body: Mapping[str, Any]) -> bytes:
    """One input line as bytes, newline included."""
    return _ENCODE(request_line(custom_id, endpoint, body)) + b"\n"


def write_requests(
    path: str | os.PathLike[str],
    endpoint: str,
    requests: Iterable[tuple[str, Mapping[str, Any]]],
    *,
    estimator: Estimator | None = None,
) -> int:
    """Write ``(custom_id, body)`` pairs as a JSONL file, atomically; returns the count.

    Duplicate or empty ``custom_id`` values are refused (nothing is written)."""
    seen: dict[str, int] = {}
    count = 0
    with atomic_file(Path(path)) as handle:
        buffer: list[bytes] = []
        for count, (custom_id, body) in enumerate(requests, start=1):
            if not isinstance(custom_id, str) or not custom_id:
                raise ComposeError("custom_id is empty", row=count)
            first = seen.setdefault(custom_id, count)
            if first != count:
                raise ComposeError(
                    f"custom_id {custom_id!r} is already used by request {first}", row=count
                )
            buffer.append(encode_request(custom_id, endpoint, body))
            if estimator is not None:
                estimator.add(body)
            if len(buffer) >= 1024:
                handle.write(b"".join(buffer))
                buffer.clear()
        handle.write(b"".join(buffer))
    return count


@dataclass(frozen=True)
class BuildResult:
    """A written batch file, its validation report and (when asked) its estimate."""

    path: Path
    requests: int
    report: ValidationReport
    estimate: Estimate | None

    @property
    def needs_split(self) -> bool:
        """Over a size or count limit, but otherwise valid: split it to send it."""
        return not self.report.ok and self.report.only_limit_problems


def build_file(
    rows: Iterable[Row],
    template: RequestTemplate,
    path: str | os.PathLike[str],
    *,
    estimate: bool = True,
    prices: Mapping[str, Price] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> BuildResult:
    """Render every row, write the JSONL atomically, validate it (against ``limits``)
    and estimate it."""
    path = Path(path)
    estimator = Estimator(template.endpoint) if estimate else None
    count = write_requests(
        path, template.endpoint, iter_requests(rows, template), estimator=estimator
    )
    report = validate(path, endpoint=template.endpoint, limits=limits)
    result = estimator.result(prices) if estimator is not None else None
    return BuildResult(path=path, requests=count, report=report, estimate=result)
