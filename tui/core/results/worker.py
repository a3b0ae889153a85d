"""A big result file indexed on two cores: this process reads the head, a worker
process the tail.

:func:`result_pieces` is how the index reads an output or error file: its pieces of
whole lines (:func:`~tui.core.results.pieces.read_pieces`) decoded into
:data:`~tui.core.results.decoding.Facts` (:func:`decode_pieces`: a piece at once in C
when every line of it decodes, else line by line). A file over :data:`SPLIT_BYTES`
(and a machine with a second core) is cut at a line start a bit past its middle
(:func:`split_point`; the head is larger by what this process reads while the worker
starts). ``python -m tui.core.results.worker PATH START BULK`` decodes the tail
the same way into its stdout, an unnamed file (:func:`write_tail`: memory stays flat, and
it never waits on a reader): each piece as it is decoded (start, lines before it
counted from ``START``, line count, bytes, then its rows in bulk,
:data:`~tui.core.results.columns.Packed`, which the index adds as they are, or each
line's facts), msgpack frames of 4-byte length, then a trailer (the file's end, the
tail's line count, how many pieces). Once the worker has exited, the index checks
the file is whole and takes those pieces one at a time after its own, as if it had
read them, recording them in its :class:`~tui.core.results.pieces.Source`.

A worker that fails in any way (cannot start, dies, exits non-zero, writes
something else) is reaped and its part read here instead: the index is the same
either way. One dropped half-way (the index's generator closed) is killed and
reaped. The worker's stdin and stderr are ``/dev/null``: the app's terminal is
Textual's. It finds ``tui`` as this process does (``PYTHONPATH`` gets the
package's directory first).
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
from collections.abc import Iterator, Sequence
from typing import BinaryIO

import msgspec

from tui.core.results.columns import Packed, pack_rows
from tui.core.results.decoding import INDEX_DECODER, Facts, facts_of, facts_or_blank
from tui.core.results.pieces import FilePath, Source, read_pieces, split_lines
from tui.core.results.rows import DECODE_ERRORS

SPLIT_BYTES = 96 << 20
"""A smaller file is indexed by this process alone (~0.1 s: a worker's start-up
would be half of it)."""
WORKER_LEAD = 40 << 20
"""About what this process indexes while a worker starts (~0.05 s): the head is
larger than the tail by this much."""
NEWLINE_SEARCH = 1 << 20  # a cut is at a newline within this many bytes of the guess

DecodedPiece = tuple[int, int, int, Packed | None, Sequence[Facts | None] | None]
"""Lines of a file decoded: (lines before them, how many, bytes spanned, then either
the rows in bulk (every line decoded, none invalid: to add as they are) or each
line's facts (None: a blank line))."""

_Frame = tuple[int, int, int, int, Packed | None, list[Facts | None] | None]  # start, a piece
_FRAME_DECODER = msgspec.msgpack.Decoder(_Frame)
_PACKAGE_ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
)
"""The directory holding ``tui`` (the worker imports it from there)."""


def decode_pieces(
    source: Source,
    *,
    start: int = 0,
    stop: int | None = None,
    lines_before: int = 0,
    read_ahead: bool | None = None,
    bulk: bool = True,
) -> Iterator[DecodedPiece]:
    """The pieces of ``source`` from ``start`` to ``stop``, decoded (the arguments:
    see ``read_pieces``); with ``bulk``, rows in bulk where they can be."""
    decode_lines = INDEX_DECODER.decode_lines
    for before, piece, lines, count, nbytes in read_pieces(
        source, start=start, stop=stop, lines_before=lines_before, read_ahead=read_ahead
    ):
        if piece is not None:
            try:  # the whole piece at once, in C; a piece with an odd line goes line by line
                items = decode_lines(piece)
            except DECODE_ERRORS:
                items = None
            if items is not None and len(items) == count:
                facts = list(map(facts_of, items))
                packed = pack_rows(facts) if bulk else None
                yield before, count, nbytes, packed, None if packed else facts
                continue
            lines = split_lines(piece)
        yield before, count, nbytes, None, [facts_or_blank(raw) for raw in lines or ()]


def result_pieces(source: Source, *, bulk: bool = True) -> Iterator[DecodedPiece]:
    """The decoded pieces of a whole output or error file (with ``bulk``, rows in bulk
    where they can be), the tail of a big one by a worker process (see the module's
    docstring)."""
    cut = split_point(source.path)
    if cut is None:
        yield from decode_pieces(source, bulk=bulk)
        return
    worker = Worker(source.path, cut, bulk=bulk)
    try:
        # No read-ahead thread: the worker has the other core (measured ~6% faster).
        yield from decode_pieces(source, stop=cut, read_ahead=False, bulk=bulk)
        head_lines = source.line_count
        tail = worker.result()
        if tail is None:  # the worker failed: its part is read here
            yield from decode_pieces(source, start=cut, lines_before=head_lines, bulk=bulk)
            return
        end, tail_lines, frames = tail
        for frame in frames:
            start, before, count, nbytes, packed, facts = _FRAME_DECODER.decode(frame)
            source.starts.append(start)
            source.before.append(head_lines + before)
            yield head_lines + before, count, nbytes, packed, facts
        source.starts.append(end)
        source.line_count = head_lines + tail_lines
    finally:
        worker.stop()


def split_point(path: FilePath) -> int | None:
    """Where a worker should start reading ``path`` (a line's start), or None: a
    small file, one core, no ``posix_spawn``, or no newline near the middle."""
    try:
        size = os.stat(path).st_size
    except OSError:
        return None
    if size < SPLIT_BYTES or not _can_spawn():
        return None
    guess = (size + WORKER_LEAD) // 2
    with open(path, "rb") as handle:
        handle.seek(guess - 1)
        block = handle.read(NEWLINE_SEARCH)
    newline = block.find(b"\n")
    if newline < 0 or guess + newline >= size:
        return None
    return guess + newline  # the byte after the newline


def _can_spawn() -> bool:
    if not hasattr(os, "posix_spawn") or not sys.executable:
        return False
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cores or 1) > 1


def _scratch_file() -> BinaryIO:
    """An unnamed read-write file for the worker's output: in memory where the system
    has ``memfd_create`` (Linux; ~38 bytes a row in bulk: 0.9 MB for the tail of the
    50k-line bench file), else a temp file. (``tempfile`` brings ``shutil``, ``random``
    and the compression modules: 5.6 ms before the worker could start.)"""
    if hasattr(os, "memfd_create"):
        with contextlib.suppress(OSError):
            return open(os.memfd_create("batchdeck-results-tail"), "w+b")
    import tempfile

    return tempfile.TemporaryFile()


class Worker:
    """A worker process decoding ``path`` from ``start`` (a line's start) to its end,
    into an unnamed file (its stdout; :func:`_scratch_file`)."""

    module = "tui.core.results.worker"  # what it runs (``python -m``)

    def __init__(self, path: FilePath, start: int, *, bulk: bool = True) -> None:
        self.pid: int | None = None
        self._out: BinaryIO | None = _scratch_file()
        try:
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(
                filter(None, (_PACKAGE_ROOT, env.get("PYTHONPATH")))
            )
            self.pid = os.posix_spawn(
                sys.executable,
                [sys.executable, "-m", self.module, os.fspath(path), str(start), str(int(bulk))],
                env,
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_DUP2, self._out.fileno(), 1),
                    (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
                ],
            )
        except OSError:
            self._close()

    def result(self) -> Tail | None:
        """Wait for the worker: its tail (:func:`read_tail`); None if it failed."""
        if self._out is None or self.pid is None:
            return None
        pid, self.pid = self.pid, None
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:  # reaped by someone else: its exit status is unknown
            return None
        if os.waitstatus_to_exitcode(status) != 0:
            return None
        return read_tail(self._out)

    def stop(self) -> None:
        """Kill the worker if it still runs, reap it, drop its output."""
        if self.pid is not None:
            import signal

            pid, self.pid = self.pid, None
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        self._close()

    def _close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


Tail = tuple[int, int, Iterator[bytes]]
"""A worker's output read: the file's end, the tail's line count, its pieces' frames
(read one at a time)."""
_TRAILER = struct.Struct("<3q")  # after the frames: the file's end, the tail's lines, pieces


def write_tail(path: FilePath, start: int, out: BinaryIO, *, bulk: bool = True) -> None:
    """Decode ``path`` from ``start`` into ``out``: each piece as it is decoded (a
    4-byte length, then msgpack), then :data:`_TRAILER`."""
    source = Source("output", path, "", 0)
    encode = msgspec.msgpack.Encoder().encode
    pieces = 0
    for before, count, nbytes, packed, facts in decode_pieces(
        source, start=start, read_ahead=False, bulk=bulk
    ):
        frame = encode((source.starts[-1], before, count, nbytes, packed, facts))
        out.write(len(frame).to_bytes(4, "little"))
        out.write(frame)
        pieces += 1
    out.write(_TRAILER.pack(source.starts[-1], source.line_count, pieces))
    out.flush()


def read_tail(out: BinaryIO) -> Tail | None:
    """What :func:`write_tail` wrote to ``out``; None unless it is all there (every
    frame whole, as many as the trailer says)."""
    size = out.seek(0, os.SEEK_END)
    body = size - _TRAILER.size
    if body < 0:
        return None
    out.seek(body)
    end, lines, pieces = _TRAILER.unpack(out.read(_TRAILER.size))
    position = found = 0
    while position < body:  # walk the frames' lengths
        out.seek(position)
        length = int.from_bytes(out.read(4), "little")
        position += 4 + length
        found += 1
        if length <= 0 or position > body:
            return None
    if found != pieces:
        return None
    out.seek(0)
    return end, lines, _frames(out, pieces)


def _frames(out: BinaryIO, pieces: int) -> Iterator[bytes]:
    for _ in range(pieces):
        yield out.read(int.from_bytes(out.read(4), "little"))


def main(argv: list[str]) -> None:
    path, start, bulk = argv
    with open(1, "wb", closefd=False) as out:
        write_tail(path, int(start), out, bulk=bulk == "1")
    # Done: no interpreter teardown (~10 ms), which the index waits for.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
