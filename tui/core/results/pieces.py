"""A result file read in *pieces* of whole lines (what the index decodes at once).

:func:`read_pieces` reads a file in big chunks through one reused buffer and gives
out the whole lines of each, with how many there are; a piece with a blank line, or
an over-long line, comes split into its lines (the index reads those one by one).
:class:`Source` is one indexed file: where its pieces start, and each piece's line
starts once a line of it is read again (:meth:`Source.span`).

Imports no ``pathlib`` (a path is a ``Path`` or a string): a headless index starts fast.
"""

from __future__ import annotations

import bisect
import os
import re
from array import array
from collections.abc import Iterator, Sequence
from io import FileIO

import msgspec

FilePath = str | os.PathLike[str]
"""A file's path: a ``Path`` or a string (indexing imports no ``pathlib``: ~5 ms of a
headless index's start-up)."""

MAX_INDEXED_LINE = 64 * 1024 * 1024  # a longer line is reported, never held in memory


class Source(msgspec.Struct):
    """One indexed file, read in pieces of whole lines.

    Indexing records only where each piece starts (``starts``, then the end of the
    file) and how many lines came before it (``before``); the start of each line
    of a piece is found when a line of it is first read, and kept.
    """

    kind: str  # "input", "output" or "error"
    path: FilePath
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


def _byte_at(path: FilePath, position: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(position)
        return handle.read(1)


def file_size(path: FilePath) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


CHUNK_SIZE = 1 << 18  # a piece stays in the L2 cache between reading and decoding it

Piece = tuple[int, memoryview | None, Sequence[bytes | int] | None, int, int]
"""Whole lines of a file: (lines before them, their bytes, each line if already
split, how many lines, bytes spanned)."""


def read_pieces(
    source: Source,
    chunk_size: int = CHUNK_SIZE,
    *,
    read_ahead: bool | None = None,
    start: int = 0,
    stop: int | None = None,
    lines_before: int = 0,
) -> Iterator[Piece]:
    """Read ``source`` in big chunks and give out the whole lines of each.

    From byte ``start`` (a line's start; ``lines_before`` lines come before it) to
    ``stop`` (a line's start) or the end of the file. The file's end is recorded in
    ``source`` (after its last piece) only when read to the end: the pieces after
    ``stop`` are recorded by whoever reads them (:mod:`~tui.core.results.worker`).

    A piece comes as a memoryview of its bytes and its line count, for
    ``decode_lines``; it is valid until the next piece is asked for (buffers are
    reused: no copies, no fresh memory to fault in). A line longer than
    :data:`MAX_INDEXED_LINE` is never held whole in memory: it comes alone, as its
    length. Records the pieces in ``source`` (see :class:`Source`).

    With ``read_ahead`` (the default for a file over :data:`READ_AHEAD_BYTES`) the
    next chunk is read by a thread into a second buffer while a piece is decoded
    (:class:`_ReadAhead`): the kernel's copy of the file, ~15% of an index, is then
    done on the other core.
    """
    starts, before = source.starts, source.before
    offset = start  # file offset of buf[0]
    count = lines_before
    filled = 0  # bytes at the front of buf: the start of a line not yet given out
    skipping = -1  # while >= 0: the bytes of an over-long line skipped so far
    with open(source.path, "rb", buffering=0) as file:
        if start:
            file.seek(start)
        handle: FileIO | _Capped = file if stop is None else _Capped(file, stop - start)
        if read_ahead is None:
            end_of_part = os.fstat(file.fileno()).st_size if stop is None else stop
            read_ahead = end_of_part - start > READ_AHEAD_BYTES
        if read_ahead:
            chunk_size = (
                max(chunk_size, AHEAD_CHUNK_SIZE) if chunk_size == CHUNK_SIZE else chunk_size
            )
        buf = bytearray(chunk_size)
        view = memoryview(buf)
        ahead = _ReadAhead(handle) if read_ahead else None
        spare = bytearray(chunk_size) if ahead is not None else buf
        pending = False  # a read into spare[filled:] is under way
        try:
            while True:
                if pending:
                    got = ahead.result()  # type: ignore[union-attr]
                    pending = False
                else:
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
                        if ahead is not None:
                            spare = bytearray(len(buf))
                    got = handle.readinto(view[filled:])
                if not got:
                    break
                total = filled + got
                end = buf.rfind(b"\n", 0, total) + 1
                if end == 0:
                    filled = total
                    continue
                lines, plain = count_newlines(buf, end)
                starts.append(offset)
                before.append(count)
                carry = total - end
                if ahead is not None:  # the next chunk is read while this piece is decoded
                    spare[:carry] = buf[end:total]
                    ahead.start(memoryview(spare)[carry:])
                    pending = True
                if (
                    end > MAX_INDEXED_LINE
                    and (parts := split_lines(view[:end]))
                    and max(map(len, parts)) > MAX_INDEXED_LINE
                ):  # a long line inside: read line by line, count it only
                    yield (
                        count,
                        None,
                        [len(x) if len(x) > MAX_INDEXED_LINE else x for x in parts],
                        lines,
                        end,
                    )
                elif not plain:  # a blank line: read line by line
                    yield count, None, split_lines(view[:end]), lines, end
                else:
                    yield count, view[:end], None, lines, end
                count += lines
                offset += end
                filled = carry
                if pending:
                    buf, spare = spare, buf
                    view = memoryview(buf)
                else:
                    buf[:filled] = buf[end:total]
        finally:
            if ahead is not None:
                ahead.close()
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
    if stop is None:
        starts.append(offset)
    source.line_count = count


class _Capped:
    """A file read up to a limit (the part of it a reader was given)."""

    def __init__(self, file: FileIO, limit: int) -> None:
        self._file = file
        self._left = limit

    def readinto(self, target: memoryview) -> int:
        if self._left <= 0:
            return 0
        got = self._file.readinto(target[: self._left]) or 0
        self._left -= got
        return got


READ_AHEAD_BYTES = 4 << 20  # a smaller file is read in the caller's thread alone
AHEAD_CHUNK_SIZE = 1 << 20  # fewer hand-overs between the threads (no slower to decode)


class _ReadAhead:
    """A thread that reads a file into the buffer it is given, one read at a time:
    :meth:`start` a read, :meth:`result` waits for its byte count (or raises its
    error). The caller does not touch the file while a read is under way."""

    def __init__(self, handle: FileIO | _Capped) -> None:
        import threading
        from queue import SimpleQueue

        self._handle = handle
        self._asked: SimpleQueue[memoryview | None] = SimpleQueue()
        self._done: SimpleQueue[int | BaseException] = SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="results-read-ahead", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (target := self._asked.get()) is not None:
            try:
                self._done.put(self._handle.readinto(target))
            except BaseException as exc:  # handed to the caller, raised there
                self._done.put(exc)

    def start(self, target: memoryview) -> None:
        self._asked.put(target)

    def result(self) -> int:
        got = self._done.get()
        if isinstance(got, BaseException):
            raise got
        return got

    def close(self) -> None:
        """Stop the thread (after the read under way, if any)."""
        self._asked.put(None)
        self._thread.join()


def count_newlines(buf: bytearray, end: int) -> tuple[int, bool]:
    """Newlines in ``buf[:end]``, and whether every line there is *plain* (neither
    empty nor starting with white space or a control character).

    ``decode_lines`` skips a blank line and reads two values on one line: the count of
    its values matches the count of lines only if no line is blank, so a piece
    whose lines are not all plain is read line by line.

    ``bytearray.count`` looks at every byte (about 0.45 ms a MiB here), while ``find``
    jumps to the next newline with ``memchr`` (about ten times faster over long
    lines, but a Python step per line): lines are stepped over with ``find`` unless
    the first of them prove short, then the rest is counted in one pass (and looked
    at for a blank line with a regular expression). The needle is an int (a bytes
    needle costs a buffer look-up per call).
    """
    find = buf.find
    count = 0
    position = 0
    plain = end == 0 or buf[0] > _SPACE
    while (newline := find(_NEWLINE, position, end)) >= 0:
        count += 1
        position = newline + 1
        if count == SHORT_LINES_SAMPLE:
            break
        if position < end and buf[position] <= _SPACE:
            plain = False
    else:
        return count, plain
    if position < count * SHORT_LINE_BYTES:  # short lines: the rest in one pass
        rest = buf.count(_NEWLINE, position, end)
        return count + rest, plain and not re.compile(_NOT_PLAIN).search(buf, position - 1, end)
    while position < end:  # long lines: one memchr each, as few steps as can be
        if buf[position] <= _SPACE:
            plain = False
        newline = find(_NEWLINE, position, end)
        if newline < 0:
            break
        count += 1
        position = newline + 1
    return count, plain


_NEWLINE = 10
_SPACE = 32  # a line starting with this byte or a lower one is not plain (blank?)
_NOT_PLAIN = rb"\n[\x00- ]"  # compiled when first needed (re caches it)
SHORT_LINES_SAMPLE = 64  # lines looked at before choosing how to count the rest
SHORT_LINE_BYTES = 512  # below this average, one count pass beats a find per line


def split_lines(piece: memoryview) -> list[bytes]:
    """The lines of a piece (for reading them one at a time)."""
    data = bytes(piece)
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    return lines
