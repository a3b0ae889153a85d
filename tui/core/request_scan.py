"""The line scanner behind :func:`tui.core.requests.validate` (rules: see there).

Speed: the file is read in large binary chunks and each line is parsed once, in C, by
msgspec, which also refuses what the API refuses in any part of a line: bytes that
are not UTF-8, control characters in strings, ``NaN``, numbers out of range
(``1e999``, a 5,000-digit integer) and lone surrogate escapes. Nesting is bounded
before parsing (:data:`~tui.core.jsonsafe.MAX_DEPTH`): a line with few brackets
cannot be deep, and counting them costs a few ``memchr`` calls. A line msgspec
refuses is checked again slowly (``json``) to say exactly what is wrong and where.
Lines are found in each chunk without copying them, and a line like the ones before
(same endpoint and model, a new ``custom_id``) takes a short path
(:meth:`Scanner.feed_all`). A typed schema skipping the message text would parse
faster, but msgspec checks neither UTF-8 nor number ranges in what it skips, so each
line is parsed whole (``tests/unit/test_request_scan_fast.py`` shows it).
Memory is one chunk, the longest line, 8 bytes per line for the offsets, and one
hash per ``custom_id``.
"""

from __future__ import annotations

import bisect
import math
import os
import re
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from tui.core.jsonsafe import MAX_DEPTH, JsonInputError, depth, loads
from tui.core.models import BATCH_ENDPOINTS
from tui.core.request_file import open_request_file
from tui.core.request_report import (
    EMBEDDINGS_ENDPOINT,
    LIMIT_CODES,
    MAX_CUSTOM_ID_CHARS,
    MAX_FILE_BYTES,
    Code,
    Limits,
    Problem,
    RequestFileError,
    ValidationReport,
    count_embedding_inputs,
    json_type_name,
)

CHUNK_SIZE = 256 * 1024  # 1 MB measured no faster and 2.4 MB larger at peak
MAX_INT_DIGITS = 4300  # Python's own limit for int(str); msgspec refuses longer too
_BOM = b"\xef\xbb\xbf"
_BRACE, _BRACKET = ord("{"), ord("[")
_JSON_SPACE = " \t\r"
_ENDPOINTS = frozenset(BATCH_ENDPOINTS)
_FIELDS = frozenset({"custom_id", "method", "url", "body"})
_FILE_CODES = LIMIT_CODES | {Code.EMPTY_FILE}
_SURROGATE = re.compile("[\ud800-\udfff]")

_DECODER = msgspec.json.Decoder()

OnRequest = Callable[[str | None, Mapping[str, Any], int], object]
"""Called with each parsed line's ``url``, ``body`` and size in bytes (e.g. the token
estimate)."""


_id_key: Callable[[str], int] = hash
"""The key the duplicate check stores for a ``custom_id`` (its hash; collisions are
verified). The builtin itself: a function around it cost a Python call per line."""


def _shallow(raw: bytes, limit: int = MAX_DEPTH, start: int = 0, end: int | None = None) -> bool:
    """True when ``raw[start:end]`` has at most ``limit`` opening brackets, so it cannot
    nest deeper; ``find`` runs at ``memchr`` speed, faster than ``bytes.count``."""
    found = 0
    if end is None:
        end = len(raw)
    for opener in (b"{", b"["):
        at = raw.find(opener, start, end)
        while at >= 0:
            found += 1
            if found > limit:
                return False
            at = raw.find(opener, at + 1, end)
    return True


class _Openers:
    """Counts the ``{`` and ``[`` of consecutive lines of one buffer, for :func:`_shallow`'s
    test. Each search runs on from the bracket before (across line ends), so a line costs
    one ``find`` per bracket it holds, not two more that run to its end each time."""

    __slots__ = ("_brace", "_bracket", "_find", "_stop")

    def __init__(self, buf: bytes, start: int, stop: int) -> None:
        self._find = buf.find
        self._stop = stop
        self._brace = self._next(b"{", start)
        self._bracket = self._next(b"[", start)

    def _next(self, opener: bytes, start: int) -> int:
        at = self._find(opener, start, self._stop)
        return self._stop if at < 0 else at

    def at_most(self, limit: int, end: int) -> bool:
        """True when the next line, ending at ``end``, holds at most ``limit`` brackets
        (lines are asked in order, each once).

        The searches pass the byte as an int and no end (a hit past ``stop`` is past
        every line's end all the same): ``find`` parses fewer arguments and gets no
        buffer for the needle, ~5% of this method's time on the bench file."""
        find, stop, found = self._find, self._stop, 0
        at = self._brace
        while at < end:
            found += 1
            if found > limit:
                return self._skip_to(end)
            at = find(_BRACE, at + 1)
            if at < 0:
                at = stop
        self._brace = at
        at = self._bracket
        while at < end:
            found += 1
            if found > limit:
                return self._skip_to(end)
            at = find(_BRACKET, at + 1)
            if at < 0:
                at = stop
        self._bracket = at
        return True

    def _skip_to(self, end: int) -> bool:
        """Pass the rest of a line with too many brackets to count; False."""
        self._brace = self._next(b"{", end)
        self._bracket = self._next(b"[", end)
        return False


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is out of range")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text)} digits is out of range")
    return int(text)


def _parse_json(text: str | bytes) -> Any:
    """Python's parser, refusing what msgspec refuses except lone surrogates (to say
    which field holds one). Used where msgspec refused a line, to say why."""
    import json  # here: a valid file never needs it

    return json.loads(
        text, parse_constant=_reject_constant, parse_float=_finite_float, parse_int=_bounded_int
    )


def _problem_order(problem: Problem) -> tuple[int, int]:
    """Whole-file problems first, then by line (stable, so per-line order is kept)."""
    return (0, 0) if problem.line is None else (1, problem.line)


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
        raise RequestFileError("the file changed while being read")
    return parts[0] if len(parts) == 1 else b"".join(parts)


Block = tuple[bytes, int, int] | int
"""Lines ``buf[start:stop]`` (each ending at a ``\\n``, the last maybe not), or the
size of one line too long to hold."""


def iter_blocks(
    handle: BinaryIO, chunk_size: int = CHUNK_SIZE, max_line: int = MAX_FILE_BYTES
) -> Iterator[Block]:
    """The lines of a binary file (without their ``\\n``), a chunk's worth at a time,
    without copying them.

    A line that spans chunks is read again whole once its end is found, so memory is
    one chunk plus one line. A line longer than ``max_line`` bytes is never held in
    memory: its length is yielded instead of its bytes.
    """
    offset = 0  # file offset of the chunk in hand
    line_start = 0  # file offset of the first line not yielded yet
    while chunk := handle.read(chunk_size):
        last = chunk.rfind(b"\n")
        if last >= 0:
            first = 0
            if line_start < offset:  # the first line began in an earlier chunk
                first = chunk.index(b"\n") + 1
                line = _read_line(handle, line_start, offset + first - 1, max_line)
                yield line if isinstance(line, int) else (line, 0, len(line))
            if first <= last:
                max_found = max_line < chunk_size and _longest(chunk, first, last) > max_line
                if max_found:  # rare: yield line by line, sizes for the long ones
                    for raw in chunk[first:last].split(b"\n"):
                        yield len(raw) if len(raw) > max_line else (raw, 0, len(raw))
                else:
                    yield chunk, first, last + 1
            line_start = offset + last + 1
        offset += len(chunk)
    if line_start < offset:  # the last line has no newline
        line = _read_line(handle, line_start, offset, max_line)
        yield line if isinstance(line, int) else (line, 0, len(line))


def _longest(chunk: bytes, start: int, stop: int) -> int:
    """The longest line in ``chunk[start:stop]`` (only asked when lines may be over the
    limit, which then is smaller than a chunk)."""
    return max(map(len, chunk[start:stop].split(b"\n")))


class Scanner:
    """Checks lines one at a time and accumulates the report's fields.

    ``keep_input_counts`` keeps each line's embedding inputs (for splitting);
    ``keep_custom_ids`` each line's ``custom_id`` ("" where it has none; for the
    embedded server, which runs the lines); ``on_request`` is given every line that
    parses to an object with a ``body`` object (so each line is parsed once).
    """

    def __init__(
        self,
        fd: int,
        endpoint: str | None,
        limits: Limits,
        max_problems: int,
        *,
        keep_input_counts: bool = False,
        keep_custom_ids: bool = False,
        on_request: OnRequest | None = None,
    ) -> None:
        self.fd = fd
        self.on_request = on_request
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
        self.custom_ids: list[str] | None = [] if keep_custom_ids else None
        self._seen: dict[int, int] = {}
        self._collided: dict[str, int] = {}
        self._line_id = ""

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
        obj: Any = None
        if not isinstance(raw, int) and (_shallow(raw) or depth(raw) <= MAX_DEPTH):
            try:
                obj = _DECODER.decode(raw)
            except (msgspec.DecodeError, RecursionError):
                obj = None
        self._feed_parsed(raw, obj)

    def feed_all(self, blocks: Iterable[Block]) -> None:
        """:meth:`feed` each line of each block; a line like the ones before it (same
        endpoint and model, a new ``custom_id``, nothing to report) takes a shorter path,
        which keeps the line, offset and request counts in locals (written back before
        anything else reads them)."""
        decode = _DECODER.decode
        offsets_append = self.offsets.append
        claim = self._seen.setdefault
        id_key = _id_key
        on_request = self.on_request
        input_counts = self.input_counts
        custom_ids = self.custom_ids
        cap = self.limits.max_requests
        for block in blocks:
            if isinstance(block, int):
                self._feed_parsed(block, None)
                continue
            buf, start, stop = block
            find = buf.find
            view = memoryview(buf)
            shallow = _Openers(buf, start, stop).at_most
            line, offset, requests = self.line, self.end, self.requests
            endpoint, model = self.endpoint, self.model
            try:
                while start < stop:
                    end = find(b"\n", start, stop)
                    if end < 0:
                        end = stop
                    obj: Any = None
                    if shallow(MAX_DEPTH, end) or depth(buf[start:end]) <= MAX_DEPTH:
                        try:
                            obj = decode(view[start:end])
                        except (msgspec.DecodeError, RecursionError):
                            obj = None
                        if type(obj) is dict and len(obj) == 4:
                            custom_id = obj.get("custom_id")
                            url = obj.get("url")
                            body = obj.get("body")
                            if (
                                type(custom_id) is str
                                and 0 < len(custom_id) <= MAX_CUSTOM_ID_CHARS
                                and obj.get("method") == "POST"
                                and url == endpoint in _ENDPOINTS
                                and type(body) is dict
                                and body.get("model") == model is not None
                                and requests < cap
                                and claim(id_key(custom_id), line + 1) == line + 1
                            ):
                                offsets_append(offset)
                                line += 1
                                size = end - start
                                offset += size + 1
                                requests += 1
                                inputs = 0
                                if url == EMBEDDINGS_ENDPOINT:
                                    self.line = line  # a problem it adds names the line
                                    inputs = self._count_inputs(body.get("input"))
                                if input_counts is not None:
                                    input_counts.append(inputs)
                                if custom_ids is not None:
                                    custom_ids.append(custom_id)
                                if on_request is not None:
                                    on_request(url, body, size)
                                start = end + 1
                                continue
                    self.line, self.end, self.requests = line, offset, requests
                    self._feed_parsed(buf[start:end], obj)
                    line, offset, requests = self.line, self.end, self.requests
                    endpoint, model = self.endpoint, self.model
                    start = end + 1
            finally:
                self.line, self.end, self.requests = line, offset, requests

    def _feed_parsed(self, raw: bytes | int, obj: Any) -> None:
        """Check one line given its parse (None where msgspec refused it or it is deep)."""
        self.offsets.append(self.end)
        self.line += 1
        self._line_id = ""
        if isinstance(raw, int):
            inputs = self._feed_too_long(raw)
        else:
            self.end += len(raw) + 1
            if type(obj) is dict:
                self._count_request()
                inputs = self._check_object(obj)
                if self.on_request is not None and type(obj.get("body")) is dict:
                    url = obj.get("url")
                    self.on_request(url if type(url) is str else None, obj["body"], len(raw))
            else:
                inputs = self._feed_slow(raw)
        if self.input_counts is not None:
            self.input_counts.append(inputs)
        if self.custom_ids is not None:
            self.custom_ids.append(self._line_id)

    def _check_object(self, obj: dict[str, Any]) -> int:
        """Check a parsed line; the usual case (four fields of the right types) quickly."""
        custom_id, method, url, body = (
            obj.get("custom_id"),
            obj.get("method"),
            obj.get("url"),
            obj.get("body"),
        )
        if (
            len(obj) == 4
            and type(custom_id) is str
            and type(method) is str
            and type(url) is str
            and type(body) is dict
        ):
            model = body.get("model")
            if type(model) is str:
                if method == "POST" and url == self.endpoint in _ENDPOINTS and model == self.model:
                    # Same endpoint and model as the lines before (both checked then).
                    self._check_custom_id(custom_id)
                    if url != EMBEDDINGS_ENDPOINT:
                        return 0
                    return self._count_inputs(body.get("input"))
                return self._check(custom_id, method, url, model, body.get("input"))
        return self._check(*self._fields(obj))

    def _feed_too_long(self, size: int) -> int:
        self.end += size + 1
        self._count_request()
        cap = self.limits.max_bytes
        self.add(Code.LINE_TOO_LARGE, f"{size} bytes in one line, over the {cap} byte file limit")
        return 0

    def _feed_slow(self, raw: bytes) -> int:
        """Find exactly what is wrong with a line the fast parse refused."""
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
        if not _shallow(raw) and depth(raw) > MAX_DEPTH:
            self.add(Code.INVALID_JSON_LINE, f"JSON nested deeper than {MAX_DEPTH} levels")
            return 0
        try:
            obj = _parse_json(text)
        except ValueError as exc:
            import json  # loaded by _parse_json

            where = ""
            if isinstance(exc, json.JSONDecodeError):
                exc_msg = exc.msg.removesuffix(" at")  # "Invalid control character at"
                where = f" at column {exc.colno + bool(skipped)}"
            else:
                exc_msg = str(exc)
            self.add(Code.INVALID_JSON_LINE, f"not valid JSON: {exc_msg}{where}")
            return 0
        before = self.problem_count
        inputs = self._check(*self._fields(obj))
        if self.problem_count == before:  # what json accepts and msgspec does not
            try:
                loads(raw)
            except JsonInputError as exc:
                self.add(Code.INVALID_JSON_LINE, str(exc))
        return inputs

    def _fields(self, obj: dict[str, Any]) -> tuple[Any, Any, Any, Any, Any]:
        """Report missing, mistyped or unknown fields; return the usable values (None if not)."""
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
        unknown = [key for key in obj if key not in _FIELDS]
        if unknown:
            names = ", ".join(repr(key[:40]) for key in unknown[:5])
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            self.add(
                Code.UNKNOWN_PARAMETER,
                f"unknown field(s) {names}{more}: a line holds only custom_id, method, url "
                "and body",
                unknown[0][:40],
            )
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
        if _SURROGATE.search(value):  # only json lets one through; msgspec refuses them
            self.add(invalid, f"{name} holds a lone surrogate escape, which is not text", name)
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
            self.add(Code.INVALID_METHOD, f"method must be POST, not {method[:40]!r}", "method")
        if url is not None:
            self._check_url(url)
        if model is not None:
            self._check_model(model)
        if url != EMBEDDINGS_ENDPOINT:
            return 0
        return self._count_inputs(raw_input)

    def _check_model(self, model: str) -> None:
        if not model:
            self.add(Code.INVALID_MODEL, "body.model must not be empty", "body.model")
        elif self.model is None:
            self.model = model
        elif model != self.model:
            self.add(
                Code.MODEL_MISMATCH,
                f"model {model[:100]!r} differs from {self.model[:100]!r} used before; "
                "one model per file",
                "body.model",
            )

    def _check_url(self, url: str) -> None:
        if url not in _ENDPOINTS:
            self.add(Code.INVALID_URL, f"url {url[:100]!r} is not a batch endpoint", "url")
        elif self.endpoint is None:
            self.endpoint = url
        elif url != self.endpoint:
            whose = "the batch's endpoint" if self.expected else "the url used before"
            self.add(
                Code.URL_MISMATCH, f"url {url!r} differs from {whose} {self.endpoint!r}", "url"
            )

    def _check_custom_id(self, custom_id: str) -> None:
        if not custom_id:
            self.add(Code.INVALID_CUSTOM_ID, "custom_id must not be empty", "custom_id")
            return
        if len(custom_id) > MAX_CUSTOM_ID_CHARS:
            self.add(
                Code.INVALID_CUSTOM_ID,
                f"custom_id is {len(custom_id)} characters, over {MAX_CUSTOM_ID_CHARS}",
                "custom_id",
            )
            return
        self._line_id = custom_id
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
            f"custom_id {custom_id[:100]!r} already used on line {first}",
            "custom_id",
        )

    def _custom_id_at(self, line: int) -> object:
        """Re-read an earlier line's custom_id (only on a hash match)."""
        start, end = self.offsets[line - 1], self.offsets[line]
        raw = os.pread(self.fd, end - start, start).rstrip(b"\n")
        if line == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        obj = _parse_json(raw)  # its custom_id was checked, so it parses (maybe not strictly)
        return obj.get("custom_id")

    def _count_inputs(self, raw_input: object) -> int:
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


def scan(
    path: Path,
    endpoint: str | None,
    limits: Limits,
    max_problems: int,
    *,
    keep_input_counts: bool = False,
    keep_custom_ids: bool = False,
    on_request: OnRequest | None = None,
) -> Scanner:
    """Check every line of ``path``; the scanner holds what was found."""
    if endpoint is not None and endpoint not in _ENDPOINTS:
        raise ValueError(f"{endpoint!r} is not a batch endpoint: {', '.join(BATCH_ENDPOINTS)}")
    with open_request_file(path, buffering=0) as handle:
        scanner = Scanner(
            handle.fileno(),
            endpoint,
            limits,
            max_problems,
            keep_input_counts=keep_input_counts,
            keep_custom_ids=keep_custom_ids,
            on_request=on_request,
        )
        scanner.feed_all(iter_blocks(handle, CHUNK_SIZE, limits.max_bytes))
        scanner.finish(handle.tell())
    return scanner
