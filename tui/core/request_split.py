"""Split a batch input file that is valid except for its size into parts that fit.

:func:`split` validates first (:func:`tui.core.requests.validate`'s rules), then copies
lines byte for byte into parts that each fit the limits.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import IO

from tui.core.fsutil import atomic_file
from tui.core.request_file import open_request_file
from tui.core.request_report import (
    DEFAULT_LIMITS,
    LIMIT_CODES,
    MAX_EMBEDDING_INPUTS,
    MAX_FILE_BYTES,
    MAX_PROBLEMS,
    MAX_REQUESTS,
    Code,
    InvalidRequestFileError,
    Limits,
    Problem,
    RequestFileError,
    SplitError,
)
from tui.core.request_scan import CHUNK_SIZE, Scanner, scan


def part_path(source: Path, out_dir: Path, index: int, total: int) -> Path:
    """Where part ``index`` (1-based) of ``total`` goes: ``<stem>.part-001.jsonl``."""
    width = max(3, len(str(total)))
    return out_dir / f"{source.stem}.part-{index:0{width}d}.jsonl"


def _plan(path: Path, scanner: Scanner, limits: Limits) -> list[tuple[int, int]]:
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


def _copy_range(path: Path, src: IO[bytes], dst: IO[bytes], start: int, end: int) -> None:
    src.seek(start)
    remaining = end - start
    while remaining:
        block = src.read(min(CHUNK_SIZE, remaining))
        if not block:
            raise RequestFileError(f"{path}: the file shrank while it was being split")
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
    scanner = scan(path, endpoint, DEFAULT_LIMITS, MAX_PROBLEMS, keep_input_counts=True)
    report = scanner.report(path)
    if not report.only_limit_problems:
        blocking = [p for p in report.problems if p.code not in LIMIT_CODES]
        count = sum(n for code, n in report.problem_counts.items() if code not in LIMIT_CODES)
        raise InvalidRequestFileError(report, blocking, count)
    plan = _plan(path, scanner, limits)
    offsets = scanner.offsets
    written: list[Path] = []
    with open_request_file(path) as src:
        for index, (first, end) in enumerate(plan, start=1):
            target = part_path(path, out, index, len(plan))
            with atomic_file(target) as dst:
                _copy_range(path, src, dst, offsets[first], offsets[end])
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
