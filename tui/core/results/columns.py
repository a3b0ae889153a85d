"""The rows of an index kept in columns: a few bytes a row, whatever the answers.

:class:`RowTable` holds each row's fields in arrays (outcome codes in a bytearray,
numbers in ``array('q')``, custom_ids in one list, the rare error codes and notes in
dicts), numbered by *slot* (the order rows were made in). A
:class:`~tui.core.results.rows.ResultRow` is made only when asked for
(:meth:`RowTable.make`); the answer's start (its ``snippet``) is read from the file
when its preview is first shown. :class:`Rows` is a sequence of rows over slots.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Sequence
from struct import error as StructError
from struct import pack
from typing import TYPE_CHECKING, overload

from tui.core.results.decoding import Facts
from tui.core.results.rows import Outcome, ResultRow

if TYPE_CHECKING:
    from tui.core.results.index import ResultIndex

OUTCOMES = tuple(Outcome)
CODES = {outcome: code for code, outcome in enumerate(OUTCOMES)}
LIMIT = 1 << 62  # a number beyond this (from an odd line) is kept as this


Packed = tuple[list[str], bytes, bytes, list[tuple[int, str, str]]]
"""Consecutive rows in bulk (:func:`pack_rows`): their custom_ids, outcome codes, the
status, input, output and total tokens columns as int64s one after the other, and
(row, error code, note) where either is set. What a worker process sends too."""


def pack_rows(facts: Sequence[Facts]) -> Packed | None:
    """Result lines' facts as :data:`Packed`; None when a line is invalid or a number
    does not fit (add them one by one then)."""
    ids, outcomes, status, error_codes, inp, out, total, notes = zip(*facts, strict=True)
    if Outcome.INVALID in outcomes:
        return None
    int64s = f"{len(ids)}q"
    try:  # struct.pack: half the work of array("q", values), which parses each item
        numbers = b"".join([pack(int64s, *values) for values in (status, inp, out, total)])
    except (OverflowError, StructError):
        return None
    extras = []
    if any(error_codes) or any(notes):
        extras = [
            (at, code, note)
            for at, (code, note) in enumerate(zip(error_codes, notes, strict=True))
            if code or note
        ]
    return list(ids), bytes(map(CODES.__getitem__, outcomes)), numbers, extras


class RowTable:
    """Every row's fields, by slot."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.outcome = bytearray()
        self.status = array("q")
        self.input_tokens = array("q")
        self.output_tokens = array("q")
        self.tokens = array("q")
        self.input_line = array("q")
        self.source = array("q")  # index in ResultIndex.sources; -1 for none
        self.line = array("q")
        self.error_code: dict[int, str] = {}
        self.note: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, facts: Facts, source: int, line: int, input_line: int = 0) -> int:
        """A new row from a result line's facts (or a request's, with no result); its slot."""
        custom_id, outcome, status, error_code, inp, out, total, note = facts
        slot = len(self.ids)
        self._numbers(slot, status, inp, out, total, append=True)
        self.ids.append(custom_id)
        self.outcome.append(CODES[outcome])
        self.input_line.append(input_line)
        self.source.append(source)
        self.line.append(line)
        if error_code:
            self.error_code[slot] = error_code
        if note:
            self.note[slot] = note
        return slot

    def extend(self, packed: Packed, source: int, first_line: int) -> None:
        """New rows from consecutive lines, in bulk (the common case of a big output:
        no line odd, no custom_id seen before), as :func:`pack_rows` gave them."""
        ids, outcomes, numbers, extras = packed
        slot = len(self.ids)
        count = len(ids)
        size = 8 * count
        columns = (self.status, self.input_tokens, self.output_tokens, self.tokens)
        for at, column in enumerate(columns):
            column.frombytes(numbers[at * size : (at + 1) * size])
        self.ids.extend(ids)
        self.outcome.extend(outcomes)
        self.input_line.frombytes(bytes(size))
        self.source.extend(array("q", (source,)) * count)
        self.line.frombytes(pack(f"{count}q", *range(first_line, first_line + count)))
        for at, error_code, note in extras:
            if error_code:
                self.error_code[slot + at] = error_code
            if note:
                self.note[slot + at] = note

    def take(self, slot: int, facts: Facts, source: int, line: int) -> None:
        """``slot`` (joined to the input) takes the outcome of a later attempt's line."""
        _, outcome, status, error_code, inp, out, total, _ = facts
        self._numbers(slot, status, inp, out, total, append=False)
        self.outcome[slot] = CODES[outcome]
        self.source[slot] = source
        self.line[slot] = line
        if error_code:
            self.error_code[slot] = error_code
        else:
            self.error_code.pop(slot, None)
        self.note.pop(slot, None)

    def _numbers(self, slot: int, *values: int, append: bool) -> None:
        columns = (self.status, self.input_tokens, self.output_tokens, self.tokens)
        try:
            if append:
                for column, value in zip(columns, values, strict=True):
                    column.append(value)
            else:
                for column, value in zip(columns, values, strict=True):
                    column[slot] = value
        except OverflowError:  # a huge number in an odd line: kept bounded
            if append:
                for column in columns:
                    del column[slot:]
            bounded = (max(-LIMIT, min(LIMIT, value)) for value in values)
            self._numbers(slot, *bounded, append=append)

    def make(
        self, slot: int, attempts: Sequence[int], load: Callable[[ResultRow], bytes | str]
    ) -> ResultRow:
        """The row at ``slot``; ``attempts[source]`` is each source's attempt number."""
        outcome = OUTCOMES[self.outcome[slot]]
        source = self.source[slot]
        readable = source >= 0 and outcome is not Outcome.INVALID
        return ResultRow(
            self.ids[slot],
            outcome,
            self.status[slot],
            self.error_code.get(slot, ""),
            self.input_tokens[slot],
            self.output_tokens[slot],
            self.tokens[slot],
            None if readable else "",
            self.input_line[slot],
            source,
            self.line[slot],
            attempts[source] if source >= 0 else 0,
            self.note.get(slot, ""),
            load if readable else None,
        )

    def counts(self) -> dict[Outcome, int]:
        return {outcome: self.outcome.count(code) for outcome, code in CODES.items()}


ROW_FIELDS = tuple(name for name in ResultRow.__struct_fields__ if name != "custom_id")
"""What a held row takes again when its columns change (its custom_id never does)."""


class Rows(Sequence[ResultRow]):
    """Rows of an index by slot, each made when read (the same object while held)."""

    def __init__(self, index: ResultIndex, slots: Sequence[int]) -> None:
        self._index = index
        self._slots = slots

    def __len__(self) -> int:
        return len(self._slots)

    @overload
    def __getitem__(self, position: int) -> ResultRow: ...

    @overload
    def __getitem__(self, position: slice) -> list[ResultRow]: ...

    def __getitem__(self, position: int | slice) -> ResultRow | list[ResultRow]:
        row = self._index.row_at
        if isinstance(position, slice):
            return [row(slot) for slot in self._slots[position]]
        return row(self._slots[position])

    def __iter__(self) -> Iterator[ResultRow]:
        row = self._index.row_at
        for slot in self._slots:
            yield row(slot)

    def __bool__(self) -> bool:
        return len(self._slots) > 0

    def __repr__(self) -> str:
        return f"<{len(self)} rows>"
