"""Split a batch input file that is valid except for its size into parts that fit.

:func:`split` validates first (:func:`tui.core.requests.validate`'s rules), then copies
lines byte for byte into parts that each fit the limits: requests, bytes, embedding
inputs and, when asked (``max_tokens``, for the queue's enqueued-token limit), the
estimated input tokens of each part (:func:`tui.core.tokens.request_input_tokens`,
counted exactly for every line in the same pass; :func:`split_counted` also says
how many requests and tokens each part holds).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

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
from tui.core.tokens import Counter, counter_for, encoding_for_model, request_input_tokens

TOO_MANY_TOKENS = "too_many_tokens"
"""The code of a :class:`SplitError` for one request over the part's token limit."""


def part_path(source: Path, out_dir: Path, index: int, total: int) -> Path:
    """Where part ``index`` (1-based) of ``total`` goes: ``<stem>.part-001.jsonl``."""
    width = max(3, len(str(total)))
    return out_dir / f"{source.stem}.part-{index:0{width}d}.jsonl"


class LineTokens:
    """The estimated input tokens of each request line, in order (a scan's
    ``on_request`` hook); the tokenizer is the first request's model's."""

    def __init__(self, endpoint: str | None, max_tokens: int | None = None) -> None:
        self.endpoint = endpoint
        self.max = max_tokens
        self.counts: list[int] = []
        self._count: Counter | None = None

    def __call__(self, url: str | None, body: Mapping[str, Any], size: int) -> None:
        if self._count is None:
            model = body.get("model")
            self._count = counter_for(encoding_for_model(model if isinstance(model, str) else None))
        endpoint = self.endpoint or url or ""
        self.counts.append(request_input_tokens(endpoint, body, self._count))


def _plan(
    path: Path, scanner: Scanner, limits: Limits, tokens: LineTokens | None = None
) -> list[tuple[int, int]]:
    """Cut the lines into runs that each fit ``limits`` (and ``tokens.max``), in order,
    greedily.

    Returns ``(first, end)`` 0-based line indexes, ``end`` excluded.
    """
    offsets, inputs = scanner.offsets, scanner.input_counts
    assert inputs is not None
    counts, max_tokens = _token_counts(path, scanner, tokens)
    parts: list[tuple[int, int]] = []
    start = count = size = used = spent = 0
    for i in range(scanner.line):
        line_size, line_inputs = offsets[i + 1] - offsets[i], inputs[i]
        line_tokens = counts[i] if counts else 0
        if line_tokens > max_tokens:
            message = (
                f"one request has {line_tokens} input tokens, over the part limit {max_tokens}"
            )
            raise SplitError(path, Problem(TOO_MANY_TOKENS, message, i + 1, "body"))
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
            or spent + line_tokens > max_tokens
        ):
            parts.append((start, i))
            start, count, size, used, spent = i, 0, 0, 0, 0
        count, size, used = count + 1, size + line_size, used + line_inputs
        spent += line_tokens
    parts.append((start, scanner.line))
    return parts


def _token_counts(
    path: Path, scanner: Scanner, tokens: LineTokens | None
) -> tuple[list[int], int | float]:
    if tokens is None or tokens.max is None:
        return [], math.inf
    if len(tokens.counts) != scanner.line:
        raise RequestFileError(f"{path}: the file changed while it was being split")
    return tokens.counts, tokens.max


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
    limits = Limits(max_requests, max_bytes, max_embedding_inputs)
    return [part.path for part in split_counted(path, out_dir, limits, endpoint=endpoint)]


@dataclass(frozen=True)
class Part:
    """One part written by :func:`split_counted`: its file, requests and estimated
    input tokens (0 when tokens were not counted)."""

    path: Path
    requests: int
    tokens: int


def split_counted(
    path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    limits: Limits = DEFAULT_LIMITS,
    *,
    endpoint: str | None = None,
    max_tokens: int | None = None,
    count_tokens: bool = False,
) -> list[Part]:
    """:func:`split`, also keeping each part's estimated input tokens at or under
    ``max_tokens`` (when given; a single request over it raises :class:`SplitError`
    with code :data:`TOO_MANY_TOKENS`). Tokens are counted when ``max_tokens`` or
    ``count_tokens`` is given."""
    path, out = Path(path), Path(out_dir)
    counting = max_tokens is not None or count_tokens
    tokens = LineTokens(endpoint, max_tokens) if counting else None
    scanner = scan(
        path, endpoint, DEFAULT_LIMITS, MAX_PROBLEMS, keep_input_counts=True, on_request=tokens
    )
    report = scanner.report(path)
    if not report.only_limit_problems:
        blocking = [p for p in report.problems if p.code not in LIMIT_CODES]
        count = sum(n for code, n in report.problem_counts.items() if code not in LIMIT_CODES)
        raise InvalidRequestFileError(report, blocking, count)
    plan = _plan(path, scanner, limits, tokens)
    offsets = scanner.offsets
    written: list[Part] = []
    with open_request_file(path) as src:
        for index, (first, end) in enumerate(plan, start=1):
            target = part_path(path, out, index, len(plan))
            with atomic_file(target) as dst:
                _copy_range(path, src, dst, offsets[first], offsets[end])
            spent = sum(tokens.counts[first:end]) if tokens is not None else 0
            written.append(Part(target, end - first, spent))
    _remove_stale_parts(path, out, [part.path for part in written])
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
