"""A running batch's work files, under ``batches/<batch_id>/`` in the data dir::

    input.jsonl     a hard link to the input file (deleting the File keeps it)
    index.json      [line, byte offset, length, custom_id] of each request
    output.part     output lines so far (becomes the output File by a hard link)
    error.part      error lines so far (becomes the error File)
    journal.jsonl   one entry per finished line: [index, ok, input, cached, output,
                    reasoning tokens, output.part size, error.part size]

The journal is written after the line it describes, so on restart :meth:`Run.open`
replays it to rebuild progress and cuts the part files back to the sizes of its last
complete entry: a line half-written by a crash is dropped and simply run again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import msgspec

from tui.core.fsutil import PRIVATE_FILE
from tui.localapi.executors import ExecResult, Tokens, usage_of
from tui.localapi.ids import derived_id
from tui.localapi.validate import LineRef

_encode = msgspec.json.Encoder()
_decode = msgspec.json.Decoder()

UNFINISHED_MESSAGES = {
    "batch_expired": "This request could not be executed before the completion window expired.",
    "batch_cancelled": "This request was not executed because the batch was cancelled.",
}


def zero_usage() -> dict[str, Any]:
    return {
        "input_tokens": 0,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 0,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 0,
    }


def add_usage(usage: dict[str, Any], tokens: Tokens) -> None:
    usage["input_tokens"] += tokens.input
    usage["input_tokens_details"]["cached_tokens"] += tokens.cached
    usage["output_tokens"] += tokens.output
    usage["output_tokens_details"]["reasoning_tokens"] += tokens.reasoning
    usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]


def encode_index(lines: list[LineRef]) -> bytes:
    """The bytes of ``index.json`` for ``lines`` (the caller writes them atomically)."""
    return _encode.encode([[r.line, r.offset, r.length, r.custom_id] for r in lines])


def has_index(work: Path) -> bool:
    return (work / "index.json").exists()


@dataclass(eq=False)
class Run:
    """A batch past validation: its lines, what is done, and its open work files.

    Lines run in ``order``, a shuffle of the input lines seeded by the batch id, so
    outputs do not come in input order, the same way every time.
    """

    batch_id: str
    refs: list[LineRef]
    order: list[int]
    work: Path
    input: IO[bytes]
    out: IO[bytes]
    err: IO[bytes]
    journal: IO[bytes]
    out_size: int = 0
    err_size: int = 0
    done: set[int] = field(default_factory=set)
    next_pos: int = 0
    last_finish: float = 0.0
    inflight: dict[int, asyncio.Task[ExecResult]] = field(default_factory=dict)
    results: list[tuple[int, ExecResult, float]] = field(default_factory=list)
    dirty: bool = False
    last_persist: float = 0.0

    @classmethod
    def open(cls, batch_id: str, work: Path) -> Run:
        """Open (or reopen after a restart) the work files of a validated batch."""
        raw = _decode.decode((work / "index.json").read_bytes())
        refs = [LineRef(int(a), int(b), int(c), str(d)) for a, b, c, d in raw]
        order = list(range(len(refs)))
        random.Random(f"order\x1f{batch_id}").shuffle(order)
        return cls(
            batch_id=batch_id,
            refs=refs,
            order=order,
            work=work,
            input=(work / "input.jsonl").open("rb"),
            out=_open_append(work / "output.part"),
            err=_open_append(work / "error.part"),
            journal=_open_append(work / "journal.jsonl"),
        )

    def replay(self) -> tuple[dict[str, int], dict[str, Any], int]:
        """Rebuild progress from the journal and cut the part files back to match it.

        Returns the request counts, the usage and the last finished run position.
        """
        counts = {"total": len(self.refs), "completed": 0, "failed": 0}
        usage = zero_usage()
        good = 0
        with (self.work / "journal.jsonl").open("rb") as handle:
            for raw in handle:
                if not raw.endswith(b"\n"):
                    break
                try:
                    index, ok, t_in, cached, t_out, reasoning, out_end, err_end = _decode.decode(
                        raw
                    )
                except (msgspec.DecodeError, ValueError, TypeError):
                    break
                good += len(raw)
                self.done.add(int(index))
                counts["completed" if ok else "failed"] += 1
                if ok:
                    add_usage(usage, Tokens(t_in, cached, t_out, reasoning))
                self.out_size, self.err_size = int(out_end), int(err_end)
        sizes: list[tuple[IO[bytes], int]] = [
            (self.journal, good),
            (self.out, self.out_size),
            (self.err, self.err_size),
        ]
        for part, size in sizes:
            part.flush()
            part.truncate(size)
            part.seek(0, os.SEEK_END)
        last = max((pos for pos, index in enumerate(self.order) if index in self.done), default=-1)
        while self.next_pos < len(self.order) and self.order[self.next_pos] in self.done:
            self.next_pos += 1
        return counts, usage, last

    def body(self, ref: LineRef) -> Any:
        """The request body of an input line (read again from the input file)."""
        self.input.seek(ref.offset)
        try:
            return _decode.decode(self.input.read(ref.length)).get("body")
        except (msgspec.DecodeError, AttributeError):
            return None

    def write_line(self, index: int, result: ExecResult, at: float) -> Tokens:
        """Append a finished line to the output or error part and to the journal."""
        ref = self.refs[index]
        response = None
        if result.status_code is not None:
            response = {
                "status_code": result.status_code,
                "request_id": result.request_id,
                "body": result.body,
            }
        data = self._encode_line(ref, response, result.error)
        tokens = usage_of(result.body) if result.ok else Tokens()
        if result.ok:
            self.out.write(data)
            self.out_size += len(data)
        else:
            self.err.write(data)
            self.err_size += len(data)
        entry = [index, int(result.ok), tokens.input, tokens.cached, tokens.output]
        entry += [tokens.reasoning, self.out_size, self.err_size]
        self.journal.write(_encode.encode(entry) + b"\n")
        self.done.add(index)
        self.last_finish = max(self.last_finish, at)
        self.dirty = True
        return tokens

    def write_unfinished(self, code: str) -> None:
        """Add every line not run to the error part, with ``response: null``."""
        error = {"code": code, "message": UNFINISHED_MESSAGES[code]}
        for index in self.order:
            if index not in self.done:
                data = self._encode_line(self.refs[index], None, error)
                self.err.write(data)
                self.err_size += len(data)

    def _encode_line(
        self, ref: LineRef, response: dict[str, Any] | None, error: dict[str, str] | None
    ) -> bytes:
        line = {
            "id": derived_id("batch_req_", self.batch_id, ref.custom_id),
            "custom_id": ref.custom_id,
            "response": response,
            "error": error,
        }
        return _encode.encode(line) + b"\n"

    def flush(self, durable: bool) -> None:
        for handle in (self.out, self.err, self.journal):
            handle.flush()
            if durable:
                os.fsync(handle.fileno())

    def cancel_inflight(self) -> None:
        for task in self.inflight.values():
            task.cancel()
        self.inflight.clear()

    def close(self) -> None:
        self.cancel_inflight()
        for handle in (self.input, self.out, self.err, self.journal):
            with contextlib.suppress(OSError):
                handle.close()


def _open_append(path: Path) -> IO[bytes]:
    """A private work file, opened for appending (and truncating on resume)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
    handle = os.fdopen(fd, "r+b")
    handle.seek(0, os.SEEK_END)
    return handle


def link_or_copy(source: Path, target: Path) -> None:
    """Hard-link ``source`` to ``target`` (same bytes, no copy); copy if links fail."""
    try:
        os.link(source, target)
    except FileExistsError:
        target.unlink()
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
