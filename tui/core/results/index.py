"""The index: a batch's result files (and its retries') joined by ``custom_id``.

:class:`ResultIndex` streams the files once, pieces of whole lines (256 KiB; 1 MiB
read ahead by a thread for a big file: :mod:`~tui.core.results.pieces`) decoded by
msgspec in C (``decode_lines`` into
structs that skip the answer text; a piece with an odd line is read line by line;
the tail of a result file over 96 MB by a worker process meanwhile:
:mod:`~tui.core.results.worker`),
and keeps per request a few numbers in
columns (:class:`~tui.core.results.columns.RowTable`): a
:class:`~tui.core.results.rows.ResultRow` is made only when read. A line is read
again by its byte offsets when it is shown (:class:`LineReader`; each piece's line
starts are found when a line of it is first read). Output lines come first (rows
appear while indexing), then the error file, then the input (requests with no
result line become ``missing``), then each retry, whose lines replace the outcome
of the same custom_id (the latest attempt wins). At the end rows are put in input order. A line
that is not JSON, a duplicate custom_id and a result whose custom_id is not in the
input each get a row of their own and never stop the rest. :func:`search` finds
text across requests and answers without decoding them.

Importing this module loads no asyncio, pathlib, json or typing_extensions (a
headless index or export starts fast; ``tests/unit/test_results_package.py``).
"""

from __future__ import annotations

import contextlib
import os
import re
import weakref
from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import msgspec

from tui.core.results.columns import ROW_FIELDS, Rows, RowTable
from tui.core.results.decoding import (
    INPUT_DECODER,
    Facts,
    InputLine,
    parse_result_line,
)
from tui.core.results.pieces import (
    FilePath,
    Source,
    file_size,
    read_pieces,
    split_lines,
)
from tui.core.results.rows import ANY_DECODER, DECODE_ERRORS, Outcome, ResultRow
from tui.core.results.worker import result_pieces


class Attempt(msgspec.Struct, frozen=True):
    """The local files of one batch: the batch itself (attempt 0) or a retry."""

    batch_id: str
    attempt: int
    output: FilePath | None = None
    error: FilePath | None = None
    input: FilePath | None = None
    endpoint: str = ""
    status: str = ""


class IndexProgress(msgspec.Struct, frozen=True):
    """What one step of :meth:`ResultIndex.build` did.

    ``new_rows`` were appended (show them; each is made when read); ``updated`` is
    true when existing rows changed (repaint); ``final`` is true once, at the end,
    when ``rows`` is in its final (input) order.
    """

    phase: str
    new_rows: Sequence[ResultRow]
    updated: bool
    bytes_done: int
    bytes_total: int
    final: bool = False


class ResultIndex:
    """The joined view of a batch (and its retries); built by :meth:`build`.

    Rows are kept in columns (:class:`~tui.core.results.columns.RowTable`) and made
    when read: ``rows`` is a sequence over them, and a row read twice is the same
    object while someone holds it (so rows can go in sets; a held row sees later
    attempts' outcomes as they are indexed).
    """

    def __init__(self, attempts: Sequence[Attempt]) -> None:
        if not attempts:
            raise ValueError("no attempt to index")
        self.attempts = list(attempts)
        self.batch_id = attempts[0].batch_id
        self.endpoint = attempts[0].endpoint
        self.sources: list[Source] = []
        self.input: Source | None = None
        self.table = RowTable()
        self._attempt_of: list[int] = []  # the attempt of each source
        self._primary: dict[str, int] = {}  # custom_id -> slot of the row joined to the input
        self._duplicates: dict[str, list[int]] = {}  # custom_id -> slots of its extra rows
        self._seen: dict[int, set[str]] = {}  # retry attempt -> custom_ids in its results
        self._ordered: array[int] | None = None  # slots in input order, once known
        self._late = 0  # the first slot made after the input was read
        self._order: array[int] | None = None  # slots in their final order
        self._alive: weakref.WeakValueDictionary[int, ResultRow] = weakref.WeakValueDictionary()
        self._load = self._snippet_of  # one bound method, shared by every row
        self._changes = 0  # how many times a row's columns changed in place
        self.done = False

    @property
    def rows(self) -> Rows:
        """Every row: as read while indexing, in input order once done."""
        if self._order is not None:
            return Rows(self, self._order)
        return Rows(self, range(len(self.table)))

    def row_at(self, slot: int) -> ResultRow:
        """The row in ``slot`` (the same object as long as one is held)."""
        row = self._alive.get(slot)
        if row is None:
            changes = self._changes
            row = self.table.make(slot, self._attempt_of, self._load)
            self._alive[slot] = row
            while changes != self._changes:  # indexing (in a thread) changed a row meanwhile
                changes = self._changes
                self._refresh(row, slot)
        return row

    def _changed(self, slot: int) -> None:
        """After a row's columns changed: a held row of ``slot`` takes its new fields."""
        self._changes += 1
        row = self._alive.get(slot)
        if row is not None:
            self._refresh(row, slot)

    def _refresh(self, row: ResultRow, slot: int) -> None:
        fresh = self.table.make(slot, self._attempt_of, self._load)
        for name in ROW_FIELDS:
            setattr(row, name, getattr(fresh, name))

    def _snippet_of(self, row: ResultRow) -> bytes | str:
        """The start of ``row``'s answer (or error message), read from its line."""
        try:
            with LineReader(self) as reader:
                raw = reader.result_bytes(row)
        except (OSError, IndexError):
            return ""
        return parse_result_line(raw).snippet or "" if raw else ""

    # -- building ---------------------------------------------------------------

    def build(self, *, rows_per_step: int = 2000) -> Iterator[IndexProgress]:
        """Index every file, yielding after every ``rows_per_step`` lines or so;
        ``rows`` holds each step's new rows by the time it is yielded."""
        plan: list[tuple[str, Attempt, FilePath]] = []
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
        total = sum(file_size(path) for _, _, path in plan)
        done = 0
        for kind, attempt, path in plan:
            source = Source(kind, path, attempt.batch_id, attempt.attempt)
            self.sources.append(source)
            self._attempt_of.append(attempt.attempt)
            if kind == "input":
                self.input = source
                steps = self._input_lines(source, rows_per_step)
            else:
                steps = self._result_lines(source, len(self.sources) - 1, rows_per_step)
            shown = len(self.table)
            for updated, consumed in steps:
                done += consumed
                new_rows = Rows(self, range(shown, len(self.table)))
                shown = len(self.table)
                yield IndexProgress(kind, new_rows, updated, done, total)
        self._finish()
        yield IndexProgress("done", (), True, total, total, final=True)

    def build_all(self) -> ResultIndex:
        """Index everything now (no progress); returns ``self``."""
        for _ in self.build(rows_per_step=4096):
            pass
        return self

    def _result_lines(self, source: Source, source_no: int, step: int) -> Iterator[_Step]:
        """Rows of an output or error file, about ``step`` lines at a time.

        The common case goes in bulk: lines decoded a piece at once and added as
        columns, joined by custom_id (:meth:`_join`) only when a line must be added
        on its own or the file ends (one dict made at once, instead of a look-up and
        an insert per line).
        """
        seen_here = self._seen.setdefault(source.attempt, set())  # ids of this retry
        retry = source.attempt > 0
        table = self.table
        unjoined = -1  # the first row added in bulk and not joined yet (-1: none)
        updated = False
        pending = 0
        pending_bytes = 0
        first = True
        # In bulk unless a retry (its lines replace outcomes) or an odd line.
        for before, count, nbytes, packed, facts in result_pieces(source, bulk=not retry):
            if packed is not None:
                if unjoined < 0:
                    unjoined = len(table)
                table.extend(packed, source_no, before + 1)
            else:
                if unjoined >= 0:
                    updated |= self._join(unjoined)
                    unjoined = -1
                updated |= self._result_facts(facts or (), source_no, before, seen_here)
            pending += count
            pending_bytes += nbytes
            if pending >= step or first:
                yield updated, pending_bytes
                updated, pending, pending_bytes, first = False, 0, 0, False
        if unjoined >= 0:
            updated |= self._join(unjoined)
        yield updated, pending_bytes

    def _join(self, first: int) -> bool:
        """Join the rows from slot ``first`` on (added in bulk) by custom_id: the first
        row of an id is the one joined to the input, a later one (an id repeated in
        the results) is a duplicate; whether rows already made changed."""
        table = self.table
        ids = table.ids[first:]
        slots = range(first, first + len(ids))
        fresh = dict(zip(ids, slots, strict=True))
        primary = self._primary
        if len(fresh) == len(ids):  # each id once among them: the common case
            if not primary:
                self._primary = fresh
                return False
            if primary.keys().isdisjoint(fresh):
                primary.update(fresh)
                return False
        changed = False
        for slot, custom_id in zip(slots, ids, strict=True):
            known = primary.get(custom_id)
            if known is None:
                primary[custom_id] = slot
                continue
            table.note[slot] = "duplicate"
            table.input_line[slot] = table.input_line[known]
            self._duplicates.setdefault(custom_id, []).append(slot)
            self._changed(slot)
            changed = True
        return changed

    def _result_facts(
        self, facts: Sequence[Facts | None], source_no: int, before: int, seen_here: set[str]
    ) -> bool:
        """Add result lines one by one (an odd line, a retry, an id seen before);
        whether known rows changed."""
        retry = self.sources[source_no].attempt > 0
        primary = self._primary
        table = self.table
        add = table.add
        invalid = Outcome.INVALID
        updated = False
        number = before
        for fact in facts:
            number += 1
            if fact is None:
                continue  # a blank line (e.g. at the end) holds no result
            if fact[1] is invalid:
                add(fact, source_no, number)
                continue
            cid = fact[0]
            known = primary.get(cid)
            if known is None:
                if retry:
                    fact = (*fact[:7], "not in input")
                    seen_here.add(cid)
                primary[cid] = add(fact, source_no, number)
            elif retry and cid not in seen_here:
                seen_here.add(cid)
                table.take(known, fact, source_no, number)
                self._changed(known)
                updated = True
            else:  # twice in this batch's results (or in its output and its error file)
                slot = add((*fact[:7], "duplicate"), source_no, number, table.input_line[known])
                self._duplicates.setdefault(cid, []).append(slot)
        return updated

    def _input_lines(self, source: Source, step: int) -> Iterator[_Step]:
        """Attach each request to its result; requests with none are ``missing``."""
        primary = self._primary
        duplicates = self._duplicates
        table = self.table
        input_line = table.input_line
        ordered = array("q")
        decode = INPUT_DECODER.decode
        decode_lines = INPUT_DECODER.decode_lines
        pending = 0
        pending_bytes = 0
        for before, piece, lines, count, nbytes in read_pieces(source):
            items = None
            if piece is not None:
                with contextlib.suppress(*DECODE_ERRORS):
                    items = decode_lines(piece)
            ids: list[str | None]
            if items is not None and len(items) == count:
                ids = [item.custom_id for item in items]
            else:
                if lines is None:
                    lines = split_lines(piece)  # type: ignore[arg-type]
                ids = [_input_id(decode, raw) for raw in lines]
            number = before
            for custom_id in ids:
                number += 1
                if custom_id is None:
                    continue  # a blank or broken line: nothing to join
                known = primary.get(custom_id)
                if known is None:
                    slot = table.add((custom_id, *_MISSING), -1, 0, number)
                    primary[custom_id] = slot
                    ordered.append(slot)
                elif input_line[known] == 0:
                    input_line[known] = number
                    ordered.append(known)
                    self._changed(known)
                    if duplicates and custom_id in duplicates:
                        for extra in duplicates[custom_id]:
                            input_line[extra] = number
                            ordered.append(extra)
                            self._changed(extra)
                # else: the id is repeated in the input (the API refuses that): first wins
            pending += len(ids)
            pending_bytes += nbytes
            if pending >= step:
                yield True, pending_bytes
                pending, pending_bytes = 0, 0
        yield True, pending_bytes
        notes = table.note
        for slot in primary.values():
            if input_line[slot] == 0 and slot not in notes:
                notes[slot] = "not in input"
                self._changed(slot)
        # Results not joined to a request (invalid lines, ids not in the input) follow.
        ordered.extend(slot for slot in range(len(table)) if input_line[slot] == 0)
        self._ordered = ordered
        self._late = len(table)

    def _finish(self) -> None:
        """Rows in input order, then results not joined to a request (as read)."""
        if self._ordered is not None:
            self._order = self._ordered
            self._order.extend(range(self._late, len(self.table)))
        self.done = True

    # -- reading ------------------------------------------------------------------

    def row_for(self, custom_id: str) -> ResultRow | None:
        """The row joined to ``custom_id``'s request (its latest attempt)."""
        slot = self._primary.get(custom_id)
        return None if slot is None else self.row_at(slot)

    def counts(self) -> dict[Outcome, int]:
        return self.table.counts()

    def reader(self) -> LineReader:
        return LineReader(self)


_MISSING = (Outcome.MISSING, 0, "", 0, 0, 0, "")


def _input_id(decode: Callable[[bytes], InputLine], raw: bytes | int) -> str | None:
    """The custom_id of one input line, or None (blank, broken, too long)."""
    if isinstance(raw, int) or not raw.strip():
        return None
    try:
        return decode(raw).custom_id
    except DECODE_ERRORS:
        return None


_Step = tuple[bool, int]
"""One step of indexing a file: whether known rows changed, bytes read (its new rows
are the slots made during it)."""


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
        return ANY_DECODER.decode(raw)
    except DECODE_ERRORS:
        return None


def search(index: ResultIndex, text: str) -> set[ResultRow]:
    """Rows whose custom_id, request line or result line contains ``text``.

    Case-insensitive for ASCII letters. The files are scanned as bytes (memory
    mapped), looking for the text as written and as JSON escapes it, so nothing is
    decoded; each hit is mapped to its row through the line offsets.
    """
    import json  # here: indexing alone does not need it

    needle = text.strip()
    if not needle:
        return set(index.rows)
    table = index.table
    lowered = needle.lower()
    found = {slot for slot, cid in enumerate(table.ids) if lowered in cid.lower()}
    variants = {needle.encode("utf-8"), json.dumps(needle)[1:-1].encode("ascii")}
    pattern = re.compile(b"|".join(re.escape(v) for v in variants), re.IGNORECASE)
    by_line: dict[tuple[int, int], list[int]] = {}
    input_no = index.sources.index(index.input) if index.input is not None else -1
    for slot, (source, line, input_line) in enumerate(
        zip(table.source, table.line, table.input_line, strict=True)
    ):
        if source >= 0:
            by_line.setdefault((source, line), []).append(slot)
        if input_line > 0:
            by_line.setdefault((input_no, input_line), []).append(slot)
    for number, source_file in enumerate(index.sources):
        for line in _matching_lines(source_file, pattern):
            found.update(by_line.get((number, line), ()))
    return {index.row_at(slot) for slot in found}


def _matching_lines(source: Source, pattern: re.Pattern[bytes]) -> Iterator[int]:
    """1-based numbers of the lines of ``source`` where ``pattern`` matches."""
    import mmap

    if source.line_count == 0 or file_size(source.path) == 0:
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
