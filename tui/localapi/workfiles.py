"""A running batch's work files, under ``batches/<batch_id>/`` in the data dir::

    input.jsonl     a hard link to the input file (deleting the File keeps it)
    index.json      [line, byte offset, length, custom_id] of each request
    output.part     output lines so far (becomes the output File by a hard link)
    error.part      error lines so far (becomes the error File)

The part files are their own journal: each line names its ``custom_id`` and carries
the usage, so on restart :meth:`Run.replay` rebuilds progress from the whole lines
actually present and cuts each part back before its first line that is torn, not
JSON, unknown or seen already (what a kill mid-write leaves). Nothing else claims a
line is done, so a kill at any moment loses no line, runs none twice, and never
leaves a gap of zeros: a file is only ever cut shorter, never extended. To spare a
restart from decoding every line again, the batch record keeps a
:class:`Checkpoint` (the part sizes, counts and usage at its last save, made after
the parts were flushed): the lines it covers are only checked for being whole and
naming a custom_id of the batch once.
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

from tui.core import jsonsafe
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
UNFINISHED = frozenset(UNFINISHED_MESSAGES)


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


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Progress as of the batch record's last save, taken after the parts were flushed."""

    sizes: tuple[int, int]
    completed: int
    failed: int
    tokens: Tokens

    @classmethod
    def of(cls, record: dict[str, Any]) -> Checkpoint | None:
        """The checkpoint a batch record holds (None if it has none, or a broken one)."""
        try:
            out, err = (int(size) for size in record["_parts"])
            counts, usage = record["request_counts"], record["usage"]
            tokens = Tokens(
                int(usage["input_tokens"]),
                int(usage["input_tokens_details"]["cached_tokens"]),
                int(usage["output_tokens"]),
                int(usage["output_tokens_details"]["reasoning_tokens"]),
            )
            return cls((out, err), int(counts["completed"]), int(counts["failed"]), tokens)
        except (KeyError, TypeError, ValueError):
            return None


class _LineId(msgspec.Struct):
    custom_id: str


_decode_id = msgspec.json.Decoder(_LineId)


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
        (work / "journal.jsonl").unlink(missing_ok=True)  # left by older versions
        return cls(
            batch_id=batch_id,
            refs=refs,
            order=order,
            work=work,
            input=(work / "input.jsonl").open("rb"),
            out=_open_append(work / "output.part"),
            err=_open_append(work / "error.part"),
        )

    def replay(
        self, checkpoint: Checkpoint | None = None
    ) -> tuple[dict[str, int], dict[str, Any], int]:
        """Rebuild progress from the part files, cutting off what a crash left unfinished.

        With the ``checkpoint`` of the batch's last save, the lines it covers are only
        checked for whole lines and custom_ids (their counts and usage are the
        checkpoint's); if anything there is amiss, every line is read in full.
        Returns the request counts, the usage and the last finished run position.
        """
        by_id = {ref.custom_id: index for index, ref in enumerate(self.refs)}
        counts = {"total": len(self.refs), "completed": 0, "failed": 0}
        usage, offsets = zero_usage(), (0, 0)
        if checkpoint is not None and self._resume(checkpoint, by_id):
            counts.update(completed=checkpoint.completed, failed=checkpoint.failed)
            add_usage(usage, checkpoint.tokens)
            offsets = checkpoint.sizes
        else:
            self.done.clear()
        for ok, part, offset in ((True, self.out, offsets[0]), (False, self.err, offsets[1])):
            kept = offset
            with (self.work / ("output.part" if ok else "error.part")).open("rb") as handle:
                handle.seek(offset)
                for raw in handle:
                    index, tokens = self._replayed(raw, by_id, error_part=not ok)
                    if index is None:
                        break
                    kept += len(raw)
                    self.done.add(index)
                    counts["completed" if ok else "failed"] += 1
                    add_usage(usage, tokens)
            part.truncate(kept)
            part.seek(0, os.SEEK_END)
            if ok:
                self.out_size = kept
            else:
                self.err_size = kept
        last = max((pos for pos, index in enumerate(self.order) if index in self.done), default=-1)
        while self.next_pos < len(self.order) and self.order[self.next_pos] in self.done:
            self.next_pos += 1
        return counts, usage, last

    def _resume(self, checkpoint: Checkpoint, by_id: dict[str, int]) -> bool:
        """Mark done the lines the checkpoint covers; False if they are not all whole."""
        for name, end in zip(("output.part", "error.part"), checkpoint.sizes, strict=True):
            at = 0
            with (self.work / name).open("rb") as handle:
                while at < end:
                    raw = handle.readline()
                    at += len(raw)
                    if at > end or not raw.endswith(b"\n"):
                        return False
                    try:
                        custom_id = _decode_id.decode(raw).custom_id
                    except (msgspec.DecodeError, RecursionError):
                        return False
                    index = by_id.get(custom_id)
                    if index is None or index in self.done:
                        return False
                    self.done.add(index)
        return True

    def _replayed(
        self, raw: bytes, by_id: dict[str, int], *, error_part: bool
    ) -> tuple[int | None, Tokens]:
        """The input index and usage of a whole output line (None: cut the part here)."""
        try:
            line = _decode.decode(raw) if raw.endswith(b"\n") else None
        except (msgspec.DecodeError, RecursionError):
            line = None
        custom_id = line.get("custom_id") if isinstance(line, dict) else None
        index = by_id.get(custom_id) if isinstance(custom_id, str) else None
        if line is None or index is None or index in self.done:
            return None, Tokens()
        response = line.get("response")
        if error_part:
            error = line.get("error")
            if response is None and isinstance(error, dict) and error.get("code") in UNFINISHED:
                return None, Tokens()  # written last, by the end; it writes them again
            return index, Tokens()
        return index, usage_of(response.get("body") if isinstance(response, dict) else None)

    def body(self, ref: LineRef) -> Any:
        """The request body of an input line (read again from the input file)."""
        self.input.seek(ref.offset)
        try:
            line = jsonsafe.loads(self.input.read(ref.length))
        except jsonsafe.JsonInputError:
            return None
        return line.get("body") if isinstance(line, dict) else None

    def write_line(self, index: int, result: ExecResult, at: float) -> Tokens:
        """Append a finished line to the output or error part."""
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
        for handle in (self.out, self.err):
            handle.flush()
            if durable:
                os.fsync(handle.fileno())

    def cancel_inflight(self) -> None:
        for task in self.inflight.values():
            task.cancel()
        self.inflight.clear()

    def close(self) -> None:
        self.cancel_inflight()
        for handle in (self.input, self.out, self.err):
            with contextlib.suppress(OSError):
                handle.close()


def first_unparsable_line(path: Path) -> dict[str, Any] | None:
    """The ``invalid_json_line`` error of the first input line that is not safe JSON.

    What a batch fails with when its validation broke down on a hostile line.
    """
    with path.open("rb") as handle:
        for n, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                jsonsafe.loads(raw)
            except jsonsafe.JsonInputError as exc:
                message = f"This line is not parseable as valid JSON object: {exc}."
                return {"code": "invalid_json_line", "message": message, "param": None, "line": n}
    return None


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
        os.chmod(target, PRIVATE_FILE)  # copyfile's new file follows the umask
