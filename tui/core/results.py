"""Batch results: output and error files joined to their requests by ``custom_id``.

Three parts, none of which imports Textual:

- **Store** (:func:`fetch_results`, :func:`load_local`): the output, error and input
  files of a final batch are downloaded once into ``data_dir()/results/<batch>/``
  (each through a private temp file renamed into place only when complete, then
  checked against the server's size) with a ``manifest.json`` written last, so a
  copy with a manifest is complete and opens offline. Retries of the batch (registry
  jobs whose ``retry_of`` is its id) are fetched the same way by
  :func:`open_attempts`.
- **Index** (:class:`ResultIndex`): streams the files once, 256 KiB pieces of whole
  lines decoded by msgspec in C (``decode_lines`` into structs that skip the answer
  text; a piece with an odd line is read line by line), and keeps per request only
  its custom_id, line numbers, outcome, status, tokens and the first bytes of the
  answer; a line is read again by its byte offsets when it is shown (each piece's
  line starts are found when a line of it is first read). Output lines come
  first (rows appear while indexing), then the error file, then the input (requests
  with no result line become ``missing``), then each retry, whose lines replace the
  outcome of the same custom_id (the latest attempt wins). At the end rows are put
  in input order. A line that is not JSON, a duplicate custom_id and a result whose
  custom_id is not in the input each get a row of their own and never stop the rest.
- **Uses**: :func:`search` (text across requests and answers), :func:`export`
  (CSV or JSONL, atomically), :func:`write_retry_file` (the failed, expired and
  missing requests, byte for byte) and the ``answer_text``/``describe_*`` helpers
  the results screen renders.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import os
import re
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from tui.core.errors import BatchdeckError
from tui.core.text import one_line

if TYPE_CHECKING:
    from tui.core.client import BatchClient
    from tui.core.models import Batch
    from tui.core.registry import Registry

# The index imports only what it needs to read files quickly; the store, export and
# retry parts import the rest when used (a headless export starts fast).

__all__ = [
    "EXPORT_FORMATS",
    "RETRYABLE",
    "Attempt",
    "DownloadProgress",
    "IndexProgress",
    "LineReader",
    "NoResultsError",
    "Outcome",
    "ResultIndex",
    "ResultRow",
    "Source",
    "answer_text",
    "describe_request",
    "describe_response",
    "export",
    "export_format",
    "fetch_results",
    "load_local",
    "open_attempts",
    "results_dir",
    "retries_of",
    "search",
    "write_retry_file",
]

PREVIEW_CHARS = 160
MAX_INDEXED_LINE = 64 * 1024 * 1024  # a longer line is reported, never held in memory
MANIFEST = "manifest.json"
FILE_KINDS = ("output", "error", "input")


class Outcome(StrEnum):
    """What became of one request."""

    OK = "ok"
    HTTP_ERROR = "http_error"  # the model endpoint answered with a non-2xx status
    REQUEST_ERROR = "request_error"  # no response: batch_expired, batch_cancelled...
    MISSING = "missing"  # in the input, in neither result file
    INVALID = "invalid"  # a result line that is not a valid result (its line number says where)


RETRYABLE = frozenset({Outcome.HTTP_ERROR, Outcome.REQUEST_ERROR, Outcome.MISSING})
"""Outcomes a retry submits again."""

OUTCOME_LABELS = {
    Outcome.OK: "ok",
    Outcome.HTTP_ERROR: "HTTP error",
    Outcome.REQUEST_ERROR: "request error",
    Outcome.MISSING: "missing",
    Outcome.INVALID: "invalid line",
}


class NoResultsError(BatchdeckError):
    """The batch has no results to show (yet); the message says why, plainly."""


# ---------------------------------------------------------------------------
# Rows and sources


class Source(msgspec.Struct):
    """One indexed file, read in pieces of whole lines.

    Indexing records only where each piece starts (``starts``, then the end of the
    file) and how many lines came before it (``before``); the start of each line
    of a piece is found when a line of it is first read, and kept.
    """

    kind: str  # "input", "output" or "error"
    path: Path
    batch_id: str
    attempt: int  # 0 for the batch itself, n for its n-th retry
    starts: array[int] = msgspec.field(default_factory=lambda: array("q"))
    before: array[int] = msgspec.field(default_factory=lambda: array("q"))
    line_count: int = 0
    _lines: dict[int, array[int]] = msgspec.field(default_factory=dict)

    def span(self, line: int) -> tuple[int, int]:
        """Byte range of 1-based ``line``, its newline excluded."""
        if not 1 <= line <= self.line_count:
            raise IndexError(f"line {line} not in 1..{self.line_count}")
        piece = bisect.bisect_right(self.before, line - 1) - 1
        starts = self._piece_lines(piece)
        index = line - 1 - self.before[piece]
        return starts[index], starts[index + 1] - 1

    def line_at(self, position: int) -> int:
        """The 1-based line holding byte ``position``."""
        piece = bisect.bisect_right(self.starts, position) - 1
        starts = self._piece_lines(piece)
        return self.before[piece] + bisect.bisect_right(starts, position)

    def _piece_lines(self, piece: int) -> array[int]:
        """Where each line of ``piece`` starts, then where the piece ends (+1 if the
        file's last line has no newline, so every line ends one byte before the next)."""
        known = self._lines.get(piece)
        if known is not None:
            return known
        start, end = self.starts[piece], self.starts[piece + 1]
        count = self.before[piece + 1] if piece + 1 < len(self.before) else self.line_count
        count -= self.before[piece]
        out = array("q", [start])
        if count > 1:
            with open(self.path, "rb") as handle:
                handle.seek(start)
                data = handle.read(end - start)
            position = 0
            find = data.find
            for _ in range(count - 1):
                position = find(b"\n", position) + 1
                out.append(start + position)
        size = end - start
        ends_with_newline = size > 0 and _byte_at(self.path, end - 1) == b"\n"
        out.append(end if ends_with_newline else end + 1)
        self._lines[piece] = out
        return out


def _byte_at(path: Path, position: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(position)
        return handle.read(1)


class ResultRow(msgspec.Struct, gc=False, eq=False):
    """One request (or one stray result line) and what became of it.

    Only small fields: the answer itself stays in the file at ``source``/``line``.
    Rows compare by identity, so a set of rows is cheap.
    """

    custom_id: str
    outcome: Outcome
    status: int = 0  # HTTP status code of the response; 0 when there was none
    error_code: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    tokens: int = 0  # total
    snippet: bytes | str = ""  # the answer's start: a JSON string prefix, or text
    input_line: int = 0  # 1-based line of the request in the input; 0 when unknown
    source: int = -1  # index of the result line's file in ResultIndex.sources
    line: int = 0  # 1-based line in that file
    attempt: int = 0  # which attempt the outcome comes from (0 = the batch itself)
    note: str = ""  # "duplicate", "not in input", "not valid JSON", ...

    @property
    def preview(self) -> str:
        """One line of the answer (or error message), at most PREVIEW_CHARS."""
        snippet = self.snippet
        if isinstance(snippet, bytes):
            text = _json_prefix(snippet)
            if not _closed(snippet):  # only the start of a longer answer was kept
                return _preview(text + " …")
            return _preview(text)
        return _preview(snippet)

    @property
    def label(self) -> str:
        """The outcome as a person reads it: ``ok``, ``HTTP 500``, ``batch_expired``..."""
        if self.outcome is Outcome.HTTP_ERROR:
            return f"HTTP {self.status}"
        if self.outcome is Outcome.REQUEST_ERROR:
            return self.error_code or "request error"
        return OUTCOME_LABELS[self.outcome]


# ---------------------------------------------------------------------------
# Fast decoding of result lines: only the fields the index keeps.


class _Message(msgspec.Struct, gc=False):
    content: msgspec.Raw = msgspec.Raw()  # the answer stays undecoded: only its start is read
    refusal: str | None = None


class _Choice(msgspec.Struct, gc=False):
    message: _Message | None = None
    text: msgspec.Raw = msgspec.Raw()


class _Part(msgspec.Struct, gc=False):
    type: str = ""
    text: msgspec.Raw = msgspec.Raw()


class _OutputItem(msgspec.Struct, gc=False):
    type: str = ""
    content: list[_Part] | None = None


class _Usage(msgspec.Struct, gc=False):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


class _ApiError(msgspec.Struct, gc=False):
    message: str | None = None
    type: str | None = None
    code: str | None = None


class _Moderation(msgspec.Struct, gc=False):
    flagged: bool = False
    categories: dict[str, bool] | None = None


class _Body(msgspec.Struct, gc=False):
    object: str | None = None
    id: str | None = None
    status: str | None = None
    choices: list[_Choice] | None = None
    output: list[_OutputItem] | None = None
    data: list[msgspec.Raw] | None = None
    results: list[_Moderation] | None = None
    usage: _Usage | None = None
    error: _ApiError | None = None
    seconds: str | None = None
    size: str | None = None


class _Response(msgspec.Struct, gc=False):
    status_code: int = 0
    body: _Body | None = None


class _LineError(msgspec.Struct, gc=False):
    code: str | None = None
    message: str | None = None


class _ResultLine(msgspec.Struct, gc=False):
    custom_id: str | None = None
    response: _Response | None = None
    error: _LineError | None = None


class _InputLine(msgspec.Struct, gc=False):
    custom_id: str | None = None


_RESULT_DECODER = msgspec.json.Decoder(_ResultLine)
_INPUT_DECODER = msgspec.json.Decoder(_InputLine)
_ANY_DECODER = msgspec.json.Decoder()
_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError)


SNIPPET_BYTES = PREVIEW_CHARS * 3  # of raw JSON kept per row: enough for the preview


def _preview(text: str) -> str:
    return one_line(" ".join(text[: PREVIEW_CHARS * 2].split()), PREVIEW_CHARS)


def _snippet(raw: msgspec.Raw) -> bytes | str:
    """The start of a raw JSON value kept for the preview: a string's first bytes as
    they are (decoded only when shown), anything else decoded to text now."""
    head = memoryview(raw)[:SNIPPET_BYTES].tobytes()
    if head[:1] == b'"':  # a string: the common case, once per row
        return head
    if not head or head == b"null":
        return ""
    try:
        return _content_text(_ANY_DECODER.decode(raw))
    except _DECODE_ERRORS:
        return ""


def _json_prefix(head: bytes) -> str:
    """The text of a JSON string literal of which ``head`` may be only the start
    (cut inside an escape or a UTF-8 sequence: the cut is moved back)."""
    if not head.startswith(b'"'):
        return ""
    for cut in range(len(head), max(len(head) - 8, 1), -1):
        piece = head[:cut]
        try:
            value = _ANY_DECODER.decode(
                piece if cut == len(head) and _closed(piece) else piece + b'"'
            )
        except (*_DECODE_ERRORS, ValueError):  # a cut UTF-8 sequence is a UnicodeDecodeError
            continue
        return value if isinstance(value, str) else ""
    return head[1:].decode("utf-8", "replace")


def _closed(piece: bytes) -> bool:
    """Whether a string literal ends here (a quote not escaped by a backslash)."""
    if len(piece) < 2 or not piece.endswith(b'"'):
        return False
    slashes = len(piece) - 1 - len(piece[:-1].rstrip(b"\\"))
    return slashes % 2 == 0


def _content_text(content: Any) -> str:
    """Text of a chat message ``content``: a string or a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
        return "\n".join(parts)
    return ""


def _embedding_dims(raw: Any) -> int:
    """Dimensions of one ``data[]`` item of an embeddings answer, from its raw JSON."""
    try:
        item = _ANY_DECODER.decode(raw) if isinstance(raw, bytes | msgspec.Raw) else raw
    except _DECODE_ERRORS:
        return 0
    vector = item.get("embedding") if isinstance(item, dict) else None
    if isinstance(vector, list):
        return len(vector)
    if isinstance(vector, str):  # base64 of little-endian float32s
        return len(vector) * 3 // 4 // 4
    return 0


def _fast_snippet(body: _Body) -> bytes | str:
    """The preview of a decoded success body (see :func:`answer_text`)."""
    if body.choices is not None:
        for choice in body.choices:
            message = choice.message
            if message is not None:
                found = _snippet(message.content) or message.refusal or ""
            else:
                found = _snippet(choice.text)
            if found:
                return found
        return ""
    if body.output is not None:
        for item in body.output:
            if item.type == "message" and item.content:
                for part in item.content:
                    if part.type == "output_text":
                        return _snippet(part.text)
        return ""
    if body.results is not None:
        return _moderation_text([(r.flagged, r.categories or {}) for r in body.results])
    if body.data is not None:
        if body.object == "list" or (body.data and b'"embedding"' in bytes(body.data[0])):
            dims = _embedding_dims(bytes(body.data[0])) if body.data else 0
            return f"{len(body.data)} embedding(s) of {dims} dimensions"
        return f"{len(body.data)} image(s)" + (f", {body.size}" if body.size else "")
    if body.object == "video":
        return f"video {body.id or ''} {body.status or ''} {body.size or ''}".strip()
    return ""


def _moderation_text(results: Sequence[tuple[bool, dict[str, Any]]]) -> str:
    out = []
    for flagged, categories in results:
        if flagged:
            hits = ", ".join(sorted(k for k, v in categories.items() if v))
            out.append(f"flagged: {hits}" if hits else "flagged")
        else:
            out.append("not flagged")
    return "; ".join(out)


def _tokens(usage: _Usage | None) -> tuple[int, int, int]:
    if usage is None:
        return 0, 0, 0
    inp = usage.input_tokens or usage.prompt_tokens
    out = usage.output_tokens or usage.completion_tokens
    return inp, out, usage.total_tokens or inp + out


def parse_result_line(raw: bytes | memoryview) -> ResultRow:
    """One line of an output or error file as a row (without its position)."""
    try:
        line = _RESULT_DECODER.decode(raw)
    except msgspec.ValidationError:
        return _parse_result_slow(raw)
    except msgspec.DecodeError:
        return ResultRow("", Outcome.INVALID, note="not valid JSON")
    return _row_from_struct(line)


_OK = Outcome.OK  # looked up once: reading an enum member costs ~70 ns in Python 3.11


def _row_from_struct(line: _ResultLine) -> ResultRow:
    if line.custom_id is None:
        return ResultRow("", Outcome.INVALID, note="no custom_id")
    response = line.response
    if response is not None:
        body = response.body
        status = response.status_code
        inp, out, total = _tokens(body.usage if body else None)
        if 200 <= status < 300:  # once per row of a big output: arguments by position
            snippet = _fast_snippet(body) if body else ""
            return ResultRow(line.custom_id, _OK, status, "", inp, out, total, snippet)
        err = body.error if body else None
        code = (err.code or err.type or "") if err else ""
        message = (err.message or "") if err else ""
        return ResultRow(
            line.custom_id,
            Outcome.HTTP_ERROR,
            status=response.status_code,
            error_code=code,
            tokens=total,
            snippet=message[:SNIPPET_BYTES],
        )
    if line.error is not None:
        return ResultRow(
            line.custom_id,
            Outcome.REQUEST_ERROR,
            error_code=line.error.code or "",
            snippet=(line.error.message or "")[:SNIPPET_BYTES],
        )
    return ResultRow(line.custom_id, Outcome.INVALID, note="neither response nor error")


def _parse_result_slow(raw: bytes | memoryview) -> ResultRow:
    """A line whose shape the fast decoder refused: read it as plain JSON."""
    try:
        value = _ANY_DECODER.decode(raw)
    except _DECODE_ERRORS:
        return ResultRow("", Outcome.INVALID, note="not valid JSON")
    if not isinstance(value, dict):
        return ResultRow("", Outcome.INVALID, note="not a JSON object")
    custom_id = value.get("custom_id")
    if not isinstance(custom_id, str):
        return ResultRow("", Outcome.INVALID, note="no custom_id")
    info = describe_result(value)
    return ResultRow(
        custom_id,
        info.outcome,
        status=info.status,
        error_code=info.error_code,
        input_tokens=info.input_tokens,
        output_tokens=info.output_tokens,
        tokens=info.tokens,
        snippet=(info.answer if info.outcome is Outcome.OK else info.error_message)[:SNIPPET_BYTES],
        note=info.note,
    )


# ---------------------------------------------------------------------------
# Plain-JSON reading of one result (detail pane, export, odd lines)


class ResultInfo(msgspec.Struct, frozen=True, gc=False):
    """Everything about one result line, read from its JSON."""

    outcome: Outcome
    status: int = 0
    error_code: str = ""
    error_message: str = ""
    answer: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    tokens: int = 0
    note: str = ""


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def answer_text(body: Any) -> str:
    """The answer in a success body of any batch endpoint, as text.

    Chat completions: every ``choices[].message.content``; completions:
    ``choices[].text``; responses: ``output[].content[].text`` of ``output_text``
    parts; embeddings: their count and dimensions; moderations: flagged or not and
    why; images: how many; videos: id, status and size.
    """
    if not isinstance(body, dict):
        return ""
    choices = body.get("choices")
    if isinstance(choices, list):
        texts = []
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            message = choice.get("message")
            if isinstance(message, dict):
                refusal = message.get("refusal")
                texts.append(
                    _content_text(message.get("content"))
                    or (refusal if isinstance(refusal, str) else "")
                )
            elif isinstance(choice.get("text"), str):
                texts.append(choice["text"])
        return "\n".join(texts)
    output = body.get("output")
    if isinstance(output, list):
        return "\n".join(
            part["text"]
            for item in output
            if isinstance(item, dict) and item.get("type") == "message"
            for part in (item.get("content") or ())
            if isinstance(part, dict)
            and part.get("type") == "output_text"
            and isinstance(part.get("text"), str)
        )
    results = body.get("results")
    if isinstance(results, list):
        return _moderation_text(
            [
                (bool(r.get("flagged")), r.get("categories") or {})
                for r in results
                if isinstance(r, dict)
            ]
        )
    data = body.get("data")
    if isinstance(data, list):
        if data and isinstance(data[0], dict) and "embedding" in data[0]:
            return f"{len(data)} embedding(s) of {_embedding_dims(data[0])} dimensions"
        size = body.get("size")
        return f"{len(data)} image(s)" + (f", {size}" if isinstance(size, str) else "")
    if body.get("object") == "video":
        parts = [str(body.get(k) or "") for k in ("id", "status", "size")]
        return " ".join(["video", *parts]).strip()
    return ""


def describe_result(value: Any) -> ResultInfo:
    """A decoded output/error line, summarised."""
    if not isinstance(value, dict):
        return ResultInfo(Outcome.INVALID, note="not a JSON object")
    response = value.get("response")
    error = value.get("error")
    if isinstance(response, dict):
        status = _int(response.get("status_code"))
        body = response.get("body")
        usage = body.get("usage") if isinstance(body, dict) else None
        usage = usage if isinstance(usage, dict) else {}
        inp = _int(usage.get("input_tokens")) or _int(usage.get("prompt_tokens"))
        out = _int(usage.get("output_tokens")) or _int(usage.get("completion_tokens"))
        total = _int(usage.get("total_tokens")) or inp + out
        if 200 <= status < 300:
            return ResultInfo(
                Outcome.OK,
                status,
                answer=answer_text(body),
                input_tokens=inp,
                output_tokens=out,
                tokens=total,
            )
        err = body.get("error") if isinstance(body, dict) else None
        err = err if isinstance(err, dict) else {}
        code = err.get("code") or err.get("type") or ""
        return ResultInfo(
            Outcome.HTTP_ERROR,
            status,
            error_code=str(code),
            error_message=str(err.get("message") or ""),
            tokens=total,
        )
    if isinstance(error, dict):
        return ResultInfo(
            Outcome.REQUEST_ERROR,
            error_code=str(error.get("code") or ""),
            error_message=str(error.get("message") or ""),
        )
    return ResultInfo(Outcome.INVALID, note="neither response nor error")


# ---------------------------------------------------------------------------
# The index


class Attempt(msgspec.Struct, frozen=True):
    """The local files of one batch: the batch itself (attempt 0) or a retry."""

    batch_id: str
    attempt: int
    output: Path | None = None
    error: Path | None = None
    input: Path | None = None
    endpoint: str = ""
    status: str = ""


class IndexProgress(msgspec.Struct, frozen=True):
    """What one step of :meth:`ResultIndex.build` did.

    ``new_rows`` were appended (show them); ``updated`` is true when existing rows
    changed (repaint); ``final`` is true once, at the end, when ``rows`` is in its
    final (input) order.
    """

    phase: str
    new_rows: list[ResultRow]
    updated: bool
    bytes_done: int
    bytes_total: int
    final: bool = False


class ResultIndex:
    """The joined view of a batch (and its retries); built by :meth:`build`."""

    def __init__(self, attempts: Sequence[Attempt]) -> None:
        if not attempts:
            raise ValueError("no attempt to index")
        self.attempts = list(attempts)
        self.batch_id = attempts[0].batch_id
        self.endpoint = attempts[0].endpoint
        self.sources: list[Source] = []
        self.input: Source | None = None
        self.rows: list[ResultRow] = []
        self._primary: dict[str, ResultRow] = {}  # custom_id -> the row joined to the input
        self._duplicates: dict[str, list[ResultRow]] = {}  # custom_id -> its extra rows
        self._seen: dict[int, set[str]] = {}  # retry attempt -> custom_ids in its results
        self._ordered: list[ResultRow] | None = None  # rows in input order, once known
        self._late: list[ResultRow] = []  # rows made after the input was read
        self.done = False

    # -- building ---------------------------------------------------------------

    def build(self, *, rows_per_step: int = 2000) -> Iterator[IndexProgress]:
        """Index every file, yielding after every ``rows_per_step`` lines or so;
        ``rows`` holds each step's new rows by the time it is yielded."""
        plan: list[tuple[str, Attempt, Path]] = []
        first = self.attempts[0]
        for kind in ("output", "error"):
            path = getattr(first, kind)
            if path is not None:
                plan.append((kind, first, path))
        if first.input is not None:
            plan.append(("input", first, first.input))
        for retry in self.attempts[1:]:
            for kind in ("output", "error"):
                path = getattr(retry, kind)
                if path is not None:
                    plan.append((kind, retry, path))
        total = sum(_size(path) for _, _, path in plan)
        done = 0
        for kind, attempt, path in plan:
            source = Source(kind, path, attempt.batch_id, attempt.attempt)
            self.sources.append(source)
            if kind == "input":
                self.input = source
                steps = self._input_lines(source, rows_per_step)
            else:
                steps = self._result_lines(source, len(self.sources) - 1, rows_per_step)
            for new_rows, updated, consumed in steps:
                done += consumed
                self.rows.extend(new_rows)
                if self._ordered is not None and kind != "input":
                    self._late.extend(new_rows)
                yield IndexProgress(kind, new_rows, updated, done, total)
        self._finish()
        yield IndexProgress("done", [], True, total, total, final=True)

    def build_all(self) -> ResultIndex:
        """Index everything now (no progress); returns ``self``."""
        for _ in self.build(rows_per_step=4096):
            pass
        return self

    def _result_lines(self, source: Source, source_no: int, step: int) -> Iterator[_Step]:
        """Rows of an output or error file, about ``step`` lines at a time."""
        seen_here = self._seen.setdefault(source.attempt, set())  # ids of this retry
        retry = source.attempt > 0
        primary = self._primary
        attempt = source.attempt
        invalid = Outcome.INVALID
        decode_lines = _RESULT_DECODER.decode_lines
        new_rows: list[ResultRow] = []
        updated = False
        pending = 0
        pending_bytes = 0
        first = True
        for before, piece, lines, count, nbytes in _pieces(source):
            items = None
            if piece is not None:
                # The whole piece at once, in C; a piece with an odd line goes line by line.
                with contextlib.suppress(*_DECODE_ERRORS):
                    items = decode_lines(piece)
            rows: list[ResultRow | None]
            if items is not None and len(items) == count:
                rows = [_row_from_struct(item) for item in items]
            else:
                if lines is None:
                    lines = _split_lines(piece)  # type: ignore[arg-type]
                rows = [_parse_or_blank(raw) for raw in lines]
            number = before
            for row in rows:
                number += 1
                if row is None:
                    continue  # a blank line (e.g. at the end) holds no result
                row.source = source_no
                row.line = number
                row.attempt = attempt
                if row.outcome is invalid:
                    new_rows.append(row)
                    continue
                cid = row.custom_id
                known = primary.get(cid)
                if known is None:
                    if retry:
                        row.note = "not in input"
                        seen_here.add(cid)
                    primary[cid] = row
                    new_rows.append(row)
                elif retry and cid not in seen_here:
                    seen_here.add(cid)
                    _take_result(known, row)
                    updated = True
                else:  # twice in this batch's results (or in its output and its error file)
                    row.note = "duplicate"
                    row.input_line = known.input_line
                    self._duplicates.setdefault(cid, []).append(row)
                    new_rows.append(row)
            pending += len(rows)
            pending_bytes += nbytes
            if pending >= step or first:
                yield new_rows, updated, pending_bytes
                new_rows, updated, pending, pending_bytes, first = [], False, 0, 0, False
        yield new_rows, updated, pending_bytes

    def _input_lines(self, source: Source, step: int) -> Iterator[_Step]:
        """Attach each request to its result; requests with none are ``missing``."""
        primary = self._primary
        duplicates = self._duplicates
        new_rows: list[ResultRow] = []
        ordered: list[ResultRow] = []
        decode = _INPUT_DECODER.decode
        decode_lines = _INPUT_DECODER.decode_lines
        pending = 0
        pending_bytes = 0
        for before, piece, lines, count, nbytes in _pieces(source):
            items = None
            if piece is not None:
                with contextlib.suppress(*_DECODE_ERRORS):
                    items = decode_lines(piece)
            ids: list[str | None]
            if items is not None and len(items) == count:
                ids = [item.custom_id for item in items]
            else:
                if lines is None:
                    lines = _split_lines(piece)  # type: ignore[arg-type]
                ids = [_input_id(decode, raw) for raw in lines]
            number = before
            for custom_id in ids:
                number += 1
                if custom_id is None:
                    continue  # a blank or broken line: nothing to join
                known = primary.get(custom_id)
                if known is None:
                    row = ResultRow(custom_id, Outcome.MISSING, input_line=number)
                    primary[custom_id] = row
                    new_rows.append(row)
                    ordered.append(row)
                elif known.input_line == 0:
                    known.input_line = number
                    ordered.append(known)
                    if duplicates and custom_id in duplicates:
                        for extra in duplicates[custom_id]:
                            extra.input_line = number
                            ordered.append(extra)
                # else: the id is repeated in the input (the API refuses that): first wins
            pending += len(ids)
            pending_bytes += nbytes
            if pending >= step:
                yield new_rows, True, pending_bytes
                new_rows, pending, pending_bytes = [], 0, 0
        yield new_rows, True, pending_bytes
        for row in primary.values():
            if row.input_line == 0 and not row.note:
                row.note = "not in input"
        # Results not joined to a request (invalid lines, ids not in the input) follow.
        ordered.extend(row for row in self.rows if row.input_line == 0)
        self._ordered = ordered

    def _finish(self) -> None:
        """Rows in input order, then results not joined to a request (as read)."""
        if self._ordered is not None:
            self.rows = self._ordered + self._late
        self.done = True

    # -- reading ------------------------------------------------------------------

    def row_for(self, custom_id: str) -> ResultRow | None:
        """The row joined to ``custom_id``'s request (its latest attempt)."""
        return self._primary.get(custom_id)

    def counts(self) -> dict[Outcome, int]:
        out = dict.fromkeys(Outcome, 0)
        for row in self.rows:
            out[row.outcome] += 1
        return out

    def reader(self) -> LineReader:
        return LineReader(self)


def _parse_or_blank(raw: bytes | int) -> ResultRow | None:
    """A result line read on its own; None for a blank line."""
    if isinstance(raw, int):
        return ResultRow("", Outcome.INVALID, note=f"line of {raw} bytes, too long")
    if not raw.strip():
        return None
    return parse_result_line(raw)


def _input_id(decode: Callable[[bytes], _InputLine], raw: bytes | int) -> str | None:
    """The custom_id of one input line, or None (blank, broken, too long)."""
    if isinstance(raw, int) or not raw.strip():
        return None
    try:
        return decode(raw).custom_id
    except _DECODE_ERRORS:
        return None


def _take_result(target: ResultRow, newer: ResultRow) -> None:
    """``target`` (joined to the input) takes the outcome of a later attempt."""
    for name in (
        "outcome",
        "status",
        "error_code",
        "input_tokens",
        "output_tokens",
        "tokens",
        "snippet",
        "source",
        "line",
        "attempt",
    ):
        setattr(target, name, getattr(newer, name))
    target.note = ""


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


_Step = tuple[list[ResultRow], bool, int]
"""One step of indexing a file: new rows, whether known rows changed, bytes read."""


CHUNK_SIZE = 1 << 18  # a piece stays in the L2 cache between reading and decoding it

_Piece = tuple[int, memoryview | None, Sequence[bytes | int] | None, int, int]
"""Whole lines of a file: (lines before them, their bytes, each line if already
split, how many lines, bytes spanned)."""


def _pieces(source: Source, chunk_size: int = CHUNK_SIZE) -> Iterator[_Piece]:
    """Read ``source`` in big chunks and give out the whole lines of each.

    A piece comes as a memoryview of its bytes and its line count, for
    ``decode_lines``; it is valid until the next piece is asked for (one buffer is
    reused: no copies, no fresh memory to fault in). A line longer than
    :data:`MAX_INDEXED_LINE` is never held whole in memory: it comes alone, as its
    length. Records the pieces in ``source`` (see :class:`Source`).
    """
    starts, before = source.starts, source.before
    offset = 0  # file offset of buf[0]
    count = 0
    buf = bytearray(chunk_size)
    view = memoryview(buf)
    filled = 0  # bytes at the front of buf: the start of a line not yet given out
    skipping = -1  # while >= 0: the bytes of an over-long line skipped so far
    with open(source.path, "rb") as handle:
        while True:
            if skipping >= 0:
                got = handle.readinto(view)
                if not got:
                    break
                newline = buf.find(b"\n", 0, got)
                if newline < 0:
                    skipping += got
                    continue
                length = skipping + newline
                starts.append(offset)
                before.append(count)
                yield count, None, [length], 1, length + 1
                count += 1
                offset += length + 1
                filled = got - newline - 1
                buf[:filled] = buf[newline + 1 : got]
                skipping = -1
                continue
            if filled == len(buf):  # one line fills the buffer
                if filled >= MAX_INDEXED_LINE:
                    skipping, filled = filled, 0
                    continue
                bigger = bytearray(2 * len(buf))
                bigger[:filled] = buf
                buf, view = bigger, memoryview(bigger)
            got = handle.readinto(view[filled:])
            if not got:
                break
            total = filled + got
            end = buf.rfind(b"\n", 0, total) + 1
            if end == 0:
                filled = total
                continue
            lines = _count_newlines(buf, end)
            starts.append(offset)
            before.append(count)
            if (
                end > MAX_INDEXED_LINE
                and (parts := _split_lines(view[:end]))
                and max(map(len, parts)) > MAX_INDEXED_LINE
            ):  # a long line inside: read line by line, count it only
                yield (
                    count,
                    None,
                    [len(x) if len(x) > MAX_INDEXED_LINE else x for x in parts],
                    lines,
                    end,
                )
            else:
                yield count, view[:end], None, lines, end
            count += lines
            offset += end
            filled = total - end
            buf[:filled] = buf[end:total]
    if skipping >= 0:
        starts.append(offset)
        before.append(count)
        yield count, None, [skipping], 1, skipping
        count += 1
        offset += skipping
    elif filled:  # the last line has no newline
        starts.append(offset)
        before.append(count)
        if filled > MAX_INDEXED_LINE:
            yield count, None, [filled], 1, filled
        else:
            yield count, view[:filled], None, 1, filled
        count += 1
        offset += filled
    starts.append(offset)
    source.line_count = count


def _count_newlines(buf: bytearray, end: int) -> int:
    """Newlines in ``buf[:end]``.

    ``bytearray.count`` looks at every byte (about 0.45 ms a MiB here), while ``find``
    jumps to the next newline with ``memchr`` (about ten times faster over long
    lines, but a Python step per line): lines are stepped over with ``find`` unless
    the first of them prove short, then the rest is counted in one pass.
    """
    find = buf.find
    count = 0
    position = 0
    while (newline := find(b"\n", position, end)) >= 0:
        count += 1
        position = newline + 1
        if count == SHORT_LINES_SAMPLE and position < count * SHORT_LINE_BYTES:
            return count + buf.count(b"\n", position, end)
    return count


SHORT_LINES_SAMPLE = 64  # lines looked at before choosing how to count the rest
SHORT_LINE_BYTES = 512  # below this average, one count pass beats a find per line


def _split_lines(piece: memoryview) -> list[bytes]:
    """The lines of a piece (for reading them one at a time)."""
    data = bytes(piece)
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    return lines


class LineReader:
    """Reads single lines of an index's files by their offsets (files kept open)."""

    def __init__(self, index: ResultIndex) -> None:
        self.index = index
        self._fds: dict[int, int] = {}

    def __enter__(self) -> LineReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for fd in self._fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()

    def _read(self, source_no: int, line: int) -> bytes:
        source = self.index.sources[source_no]
        fd = self._fds.get(source_no)
        if fd is None:
            fd = self._fds[source_no] = os.open(source.path, os.O_RDONLY)
        start, end = source.span(line)
        return os.pread(fd, end - start, start).rstrip(b"\r")

    def result_bytes(self, row: ResultRow) -> bytes | None:
        if row.source < 0 or row.line <= 0:
            return None
        return self._read(row.source, row.line)

    def request_bytes(self, row: ResultRow) -> bytes | None:
        source = self.index.input
        if source is None or row.input_line <= 0:
            return None
        return self._read(self.index.sources.index(source), row.input_line)

    def result(self, row: ResultRow) -> Any:
        """The decoded result line (``None`` if there is none or it is not JSON)."""
        raw = self.result_bytes(row)
        return _decode_or_none(raw)

    def request(self, row: ResultRow) -> Any:
        """The decoded request line (``None`` if unknown or not JSON)."""
        return _decode_or_none(self.request_bytes(row))


def _decode_or_none(raw: bytes | None) -> Any:
    if raw is None:
        return None
    try:
        return _ANY_DECODER.decode(raw)
    except _DECODE_ERRORS:
        return None


# ---------------------------------------------------------------------------
# Search


def search(index: ResultIndex, text: str) -> set[ResultRow]:
    """Rows whose custom_id, request line or result line contains ``text``.

    Case-insensitive for ASCII letters. The files are scanned as bytes (memory
    mapped), looking for the text as written and as JSON escapes it, so nothing is
    decoded; each hit is mapped to its row through the line offsets.
    """
    needle = text.strip()
    if not needle:
        return set(index.rows)
    lowered = needle.lower()
    found = {row for row in index.rows if lowered in row.custom_id.lower()}
    variants = {needle.encode("utf-8"), json.dumps(needle)[1:-1].encode("ascii")}
    pattern = re.compile(b"|".join(re.escape(v) for v in variants), re.IGNORECASE)
    by_line: dict[tuple[int, int], list[ResultRow]] = {}
    input_no = index.sources.index(index.input) if index.input is not None else -1
    for row in index.rows:
        if row.source >= 0:
            by_line.setdefault((row.source, row.line), []).append(row)
        if row.input_line > 0:
            by_line.setdefault((input_no, row.input_line), []).append(row)
    for number, source in enumerate(index.sources):
        for line in _matching_lines(source, pattern):
            found.update(by_line.get((number, line), ()))
    return found


def _matching_lines(source: Source, pattern: re.Pattern[bytes]) -> Iterator[int]:
    """1-based numbers of the lines of ``source`` where ``pattern`` matches."""
    import mmap

    if source.line_count == 0 or _size(source.path) == 0:
        return
    with (
        open(source.path, "rb") as handle,
        mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mm,
    ):
        position = 0
        while (match := pattern.search(mm, position)) is not None:
            line = source.line_at(match.start())
            if line > source.line_count:
                return
            yield line
            position = source.span(line)[1] + 1


# ---------------------------------------------------------------------------
# Export

EXPORT_FORMATS = {".csv": "csv", ".jsonl": "jsonl"}
EXPORT_COLUMNS = (
    "custom_id",
    "outcome",
    "status_code",
    "error_code",
    "error_message",
    "answer",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "batch_id",
    "note",
)


def export_format(path: Path | str) -> str:
    """``csv`` or ``jsonl`` from a file name's extension; ``ValueError`` otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in EXPORT_FORMATS:
        raise ValueError(
            f"cannot tell the export format from {str(path)!r}: use a name ending in .csv or .jsonl"
        )
    return EXPORT_FORMATS[suffix]


def _dig(value: Any, dotted: str) -> Any:
    """``value["a"]["b"][0]`` for ``"a.b.0"``; ``None`` where the path does not lead."""
    for part in dotted.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.lstrip("-").isdigit():
            position = int(part)
            value = value[position] if -len(value) <= position < len(value) else None
        else:
            return None
    return value


def export_records(
    index: ResultIndex, request_fields: Sequence[str] = ()
) -> Iterator[dict[str, Any]]:
    """One dict per row, in the index's order: the columns of :data:`EXPORT_COLUMNS`
    plus ``request.<field>`` for each dotted path into the request line (e.g.
    ``body.model``, ``body.messages.0.content``)."""
    with LineReader(index) as reader:
        for row in index.rows:
            info = describe_result(reader.result(row)) if row.source >= 0 else None
            record: dict[str, Any] = {
                "custom_id": row.custom_id,
                "outcome": row.outcome.value,
                "status_code": row.status or None,
                "error_code": row.error_code or None,
                "error_message": (info.error_message if info else "") or None,
                "answer": info.answer if info and row.outcome is Outcome.OK else None,
                "input_tokens": row.input_tokens,
                "output_tokens": row.output_tokens,
                "total_tokens": row.tokens,
                "batch_id": index.attempts[row.attempt].batch_id if row.source >= 0 else None,
                "note": row.note or None,
            }
            if request_fields:
                request = reader.request(row)
                for name in request_fields:
                    record[f"request.{name}"] = _dig(request, name)
            yield record


def export(
    index: ResultIndex, destination: Path, request_fields: Sequence[str] = (), fmt: str = ""
) -> int:
    """Write the joined rows to ``destination`` (CSV or JSONL, from its extension
    unless ``fmt`` says), atomically; returns the number of rows written.

    In CSV, a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
    return gets a leading ``'``, so a spreadsheet shows model output such as
    ``=HYPERLINK(...)`` as text instead of running it as a formula (CSV injection).
    JSONL keeps every value exactly as it is."""
    import csv
    import io

    from tui.core.fsutil import atomic_file, export_mode

    fmt = fmt or export_format(destination)
    count = 0
    with atomic_file(Path(destination), export_mode()) as handle:
        if fmt == "jsonl":
            encoder = msgspec.json.Encoder()
            for record in export_records(index, request_fields):
                handle.write(encoder.encode(record) + b"\n")
                count += 1
            return count
        text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
        writer = csv.writer(text)
        writer.writerow([*EXPORT_COLUMNS, *(f"request.{name}" for name in request_fields)])
        for record in export_records(index, request_fields):
            writer.writerow([_csv_cell(value) for value in record.values()])
            count += 1
        text.flush()
        text.detach()
    return count


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> str:
    """A CSV cell: text defused against formulas (see :func:`export`), other values as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return f"'{value}" if value.startswith(_FORMULA_STARTS) else value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False)


# ---------------------------------------------------------------------------
# Retry


class RetryFile(msgspec.Struct, frozen=True):
    """A new input file of the requests to run again."""

    path: Path
    count: int
    custom_ids: tuple[str, ...]


def retry_rows(index: ResultIndex) -> list[ResultRow]:
    """Requests whose latest outcome is a failure, an expiry/cancel, or nothing."""
    return [
        row
        for row in index.rows
        if row.outcome in RETRYABLE and row.input_line > 0 and row.note != "duplicate"
    ]


def write_retry_file(index: ResultIndex, destination: Path) -> RetryFile:
    """Write the failed, expired and missing requests, their original lines byte for
    byte (same custom_ids and bodies), to ``destination`` atomically."""
    from tui.core.fsutil import atomic_file

    if index.input is None:
        raise NoResultsError("the batch's input file is not available, so nothing can be retried")
    rows = retry_rows(index)
    if not rows:
        raise NoResultsError("every request has an answer: nothing to retry")
    with LineReader(index) as reader, atomic_file(Path(destination)) as handle:
        for row in rows:
            raw = reader.request_bytes(row)
            if raw is not None:
                handle.write(raw + b"\n")
    return RetryFile(Path(destination), len(rows), tuple(row.custom_id for row in rows))


def retry_path(batch_id: str) -> Path:
    """Where the next retry file of ``batch_id`` goes (in its results directory)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return results_dir(batch_id) / f"retry-{stamp}-{os.urandom(3).hex()}.jsonl"


# ---------------------------------------------------------------------------
# Showing one row


class ResponseView(msgspec.Struct, frozen=True):
    """What the detail pane shows of a result.

    ``markdown`` is model text to render as Markdown (already made printable);
    ``lines`` are plain lines (embeddings, errors, images...). Both may be set.
    """

    title: str
    markdown: str = ""
    lines: tuple[str, ...] = ()


def describe_request(request: Any) -> list[tuple[str, str]]:
    """A request line as (heading, text) pairs: each chat message by role, the
    responses ``input``, the prompt or input of other endpoints, then the other
    body fields as compact JSON."""
    if not isinstance(request, dict):
        return [("request", "(not available)")]
    body = request.get("body")
    if not isinstance(body, dict):
        return [("request", json.dumps(request, ensure_ascii=False, indent=2))]
    out: list[tuple[str, str]] = []
    shown = set()
    messages = body.get("messages")
    if isinstance(messages, list):
        shown.add("messages")
        for message in messages:
            if isinstance(message, dict):
                role = str(message.get("role") or "message")
                text = _content_text(message.get("content")) or json.dumps(
                    message.get("content"), ensure_ascii=False
                )
                out.append((role, text))
    for name in ("instructions", "input", "prompt"):
        value = body.get(name)
        if value is None:
            continue
        shown.add(name)
        if isinstance(value, str):
            out.append((name, value))
        elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
            for item in value:
                role = str(item.get("role") or item.get("type") or name)
                text = _content_text(item.get("content")) or json.dumps(item, ensure_ascii=False)
                out.append((role, text))
        else:
            out.append((name, json.dumps(value, ensure_ascii=False, indent=2)))
    rest = {k: v for k, v in body.items() if k not in shown}
    if rest:
        out.append(("parameters", json.dumps(rest, ensure_ascii=False, indent=2)))
    return out


def describe_response(result: Any, *, vector_preview: int = 8) -> ResponseView:
    """The answer of a result line for the detail pane (see :class:`ResponseView`)."""
    if not isinstance(result, dict):
        return ResponseView("not a valid result line")
    info = describe_result(result)
    if info.outcome is Outcome.REQUEST_ERROR:
        return ResponseView(
            f"request error: {info.error_code or 'unknown'}",
            lines=(f"code: {info.error_code}", f"message: {info.error_message}"),
        )
    body = (result.get("response") or {}).get("body")
    if info.outcome is Outcome.HTTP_ERROR:
        err = body.get("error") if isinstance(body, dict) else None
        err = err if isinstance(err, dict) else {}
        lines = [f"status: {info.status}"]
        for key in ("code", "type", "param", "message"):
            if err.get(key) is not None:
                lines.append(f"{key}: {err[key]}")
        return ResponseView(f"HTTP {info.status}: {info.error_code or 'error'}", lines=tuple(lines))
    if info.outcome is Outcome.INVALID:
        return ResponseView(info.note or "invalid result line")
    tokens = f"{info.input_tokens} in / {info.output_tokens} out / {info.tokens} tokens"
    if not isinstance(body, dict):
        return ResponseView(f"ok {info.status}", lines=("(no body)",))
    data = body.get("data")
    if isinstance(data, list) and data and isinstance(data[0], dict) and "embedding" in data[0]:
        lines = []
        for item in data:
            vector = item.get("embedding") if isinstance(item, dict) else None
            dims = _embedding_dims(item)
            if isinstance(vector, list):
                head = ", ".join(
                    f"{x:.4f}" if isinstance(x, float) else str(x) for x in vector[:vector_preview]
                )
                more = ", …" if len(vector) > vector_preview else ""
                lines.append(f"[{item.get('index', len(lines))}] {dims} dimensions: [{head}{more}]")
            else:
                lines.append(f"[{item.get('index', len(lines))}] {dims} dimensions (base64)")
        return ResponseView(f"ok · embeddings · {tokens}", lines=tuple(lines))
    if "choices" in body or "output" in body:
        return ResponseView(f"ok · {body.get('model') or ''} · {tokens}", markdown=info.answer)
    if isinstance(data, list):  # images
        lines = [info.answer]
        for n, item in enumerate(data):
            if not isinstance(item, dict):
                continue
            if isinstance(item.get("b64_json"), str):
                lines.append(f"image {n + 1}: base64, {len(item['b64_json']) * 3 // 4} bytes")
            elif isinstance(item.get("url"), str):
                lines.append(f"image {n + 1}: {one_line(item['url'], 100)}")
            if isinstance(item.get("revised_prompt"), str):
                lines.append(f"  revised prompt: {item['revised_prompt']}")
        return ResponseView(f"ok · images · {tokens}", lines=tuple(lines))
    if isinstance(body.get("results"), list):  # moderations
        lines = [info.answer]
        for result_item in body["results"]:
            scores = result_item.get("category_scores") if isinstance(result_item, dict) else None
            if isinstance(scores, dict):
                top = sorted(scores.items(), key=lambda kv: -float(kv[1] or 0))[:3]
                lines.append("top scores: " + ", ".join(f"{k} {v:.3f}" for k, v in top))
        return ResponseView("ok · moderation", lines=tuple(lines))
    return ResponseView(f"ok · {body.get('object') or 'result'}", lines=(info.answer,))


# ---------------------------------------------------------------------------
# Store: downloads, manifest, retries


class LocalResults(msgspec.Struct, frozen=True):
    """A complete local copy of a final batch's files."""

    batch: Batch
    directory: Path
    output: Path | None
    error: Path | None
    input: Path | None

    def attempt(self, number: int) -> Attempt:
        return Attempt(
            self.batch.id,
            number,
            output=self.output,
            error=self.error,
            input=self.input,
            endpoint=self.batch.endpoint,
            status=self.batch.status,
        )


DownloadProgress = Callable[[str, int, int | None], None]
"""Called with (what: "output"/"error"/"input", bytes done, bytes total or None)."""


def results_dir(batch_id: str) -> Path:
    """``data_dir()/results/<batch id made safe as a file name>``."""
    from tui.core import paths
    from tui.core.registry import RECORD_SUFFIX, record_name

    return paths.data_dir() / "results" / record_name(batch_id).removesuffix(RECORD_SUFFIX)


def load_local(batch_id: str) -> LocalResults | None:
    """The complete local copy of ``batch_id``'s results, if one was made."""
    from tui.core.models import Batch

    directory = results_dir(batch_id)
    try:
        manifest = json.loads((directory / MANIFEST).read_bytes())
        batch = Batch.from_dict(manifest["batch"])
        files = manifest.get("files") or {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    found: dict[str, Path | None] = {}
    for kind in FILE_KINDS:
        entry = files.get(kind)
        if not isinstance(entry, dict):
            found[kind] = None
            continue
        path = Path(str(entry.get("path") or directory / f"{kind}.jsonl"))
        expected = entry.get("bytes")
        if _size(path) != expected and not (expected == 0 and path.is_file()):
            return None  # a file went missing or changed: not a complete copy
        found[kind] = path
    return LocalResults(batch, directory, found["output"], found["error"], found["input"])


def _clear_leftovers(directory: Path) -> None:
    """Temp files of downloads a crash interrupted (atomic_file names them ``.*.tmp``)."""
    for stray in directory.glob(".*.tmp"):
        with contextlib.suppress(OSError):
            stray.unlink()


async def fetch_results(
    client: BatchClient,
    batch_id: str,
    *,
    registry: Registry | None = None,
    progress: DownloadProgress | None = None,
) -> LocalResults:
    """Download a final batch's output, error and input files once.

    A complete local copy is used as it is. Otherwise the batch is retrieved; one
    that is not final or has neither an output nor an error file raises
    :class:`NoResultsError`. Each file is streamed to a temp file renamed into place
    when complete and then checked against the size the server reports. The input
    file is optional: if the server no longer has it, the registry's local input
    path is used when it exists. The registry's job (if any) records the paths.
    """
    import asyncio  # here, not at the top: it costs an index-only process ~25 ms

    from tui.core import errors, paths
    from tui.core.fsutil import atomic_write

    local = load_local(batch_id)
    if local is not None:
        return local
    batch = await client.retrieve_batch(batch_id)
    if not batch.is_final:
        raise NoResultsError(f"batch {batch_id} is {batch.status}: its results are not ready yet")
    if not batch.output_file_id and not batch.error_file_id:
        raise NoResultsError(f"batch {batch_id} ({batch.status}) has no output or error file")
    directory = paths.ensure_private_dir(results_dir(batch_id))
    _clear_leftovers(directory)
    job = await asyncio.to_thread(registry.find_by_batch, batch_id) if registry else None
    files: dict[str, dict[str, Any]] = {}
    for kind, file_id in (
        ("output", batch.output_file_id),
        ("error", batch.error_file_id),
        ("input", batch.input_file_id),
    ):
        if not file_id:
            continue
        try:
            path, size = await _download_one(
                client, file_id, directory / f"{kind}.jsonl", kind, progress
            )
        except errors.NotFoundError:
            if kind != "input":
                raise
            own = Path(job.input_path) if job is not None and job.input_path else None
            if own is None or not own.is_file():
                continue  # results still open; missing requests cannot be told
            path, size = own, _size(own)
        files[kind] = {"id": file_id, "path": str(path), "bytes": size}
    manifest = {"batch": batch.to_dict(), "files": files, "downloaded_at": int(time.time())}
    atomic_write(directory / MANIFEST, json.dumps(manifest, indent=2).encode())
    if registry is not None and job is not None:
        downloads = {**job.downloads, **{kind: entry["path"] for kind, entry in files.items()}}
        await asyncio.to_thread(_record_results, registry, job.job_id, downloads, batch)
    result = load_local(batch_id)
    if result is None:  # pragma: no cover - a file changed under us
        raise NoResultsError(f"the downloaded files of {batch_id} changed while being written")
    return result


def _record_results(
    registry: Registry, job_id: str, downloads: dict[str, str], batch: Batch
) -> None:
    """Remember in the job where its files were saved and the batch as last seen."""
    registry.update(job_id, downloads=downloads)
    registry.record_snapshot(batch)


async def _download_one(
    client: BatchClient,
    file_id: str,
    destination: Path,
    kind: str,
    progress: DownloadProgress | None,
) -> tuple[Path, int]:
    from tui.core import errors

    info = await client.retrieve_file(file_id)
    if destination.is_file() and info.bytes and _size(destination) == info.bytes:
        return destination, info.bytes  # downloaded before the manifest was written
    report = (lambda done, total: progress(kind, done, total)) if progress else None
    await client.download_file(file_id, destination, progress=report, info=info)
    size = _size(destination)
    if info.bytes and size != info.bytes:
        with contextlib.suppress(OSError):
            destination.unlink()
        raise errors.NetworkError(
            f"{kind} file {file_id}: downloaded {size} bytes, the server says {info.bytes}"
        )
    return destination, size


def retries_of(registry: Registry, batch_id: str) -> list[str]:
    """Batch ids of the retries of ``batch_id`` and of their retries, oldest first."""
    jobs = [job for job in registry.load().values() if job.batch_id and job.retry_of]
    jobs.sort(key=lambda job: job.created_at)
    lineage = {batch_id}
    out: list[str] = []
    for job in jobs:
        if job.retry_of in lineage and job.batch_id not in lineage:
            lineage.add(job.batch_id)  # type: ignore[arg-type]
            out.append(job.batch_id)  # type: ignore[arg-type]
    return out


class Opened(msgspec.Struct, frozen=True):
    """The attempts to index and what could not be included (as plain messages)."""

    attempts: list[Attempt]
    batch: Batch
    notes: list[str]


async def open_attempts(
    client: BatchClient,
    batch_id: str,
    *,
    registry: Registry | None = None,
    progress: DownloadProgress | None = None,
) -> Opened:
    """The batch's local files (downloaded if needed) and those of its final retries."""
    import asyncio

    from tui.core import errors

    first = await fetch_results(client, batch_id, registry=registry, progress=progress)
    attempts = [first.attempt(0)]
    notes: list[str] = []
    retry_ids = await asyncio.to_thread(retries_of, registry, batch_id) if registry else []
    for retry_id in retry_ids:
        try:
            local = await fetch_results(client, retry_id, registry=registry, progress=progress)
        except NoResultsError as exc:
            notes.append(f"retry {retry_id} not included: {exc}")
            continue
        except errors.ApiError as exc:
            notes.append(f"retry {retry_id} not included: {exc.message}")
            continue
        attempts.append(local.attempt(len(attempts)))
    return Opened(attempts, first.batch, notes)
