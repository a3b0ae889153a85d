"""Split an Anthropic request file (``{custom_id, params}`` lines) into parts that each
fit one message batch: at most :data:`MAX_REQUESTS` requests and :data:`MAX_BYTES` of
requests (Anthropic's per-batch limits), and at most ``max_requests`` when given (the
queue's per-model limit of requests in flight, or ``--part-requests``).

Every line is checked first (:func:`tui.core.anthropic_lines.line_problems`, custom_ids
unique across the whole file); a bad file raises :class:`AnthropicFileError` naming
file, line and field, and nothing is written. Parts are written atomically, in input
order, as ``part-0001.jsonl`` ..., so the same custom_id is never in two parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tui.core.anthropic_lines import (
    MAX_BYTES,
    MAX_REQUESTS,
    AnthropicFileError,
    FileCheck,
    LineProblem,
    estimate_params,
    iter_lines,
    line_problems,
    parse_line,
)
from tui.core.fsutil import atomic_write, make_private_dirs

BATCH_OVERHEAD = 64  # bytes of the create body around the requests: {"requests": [...]}


@dataclass(frozen=True)
class AnthropicPart:
    """One part: its file, how many requests, their estimated input tokens, the model."""

    path: Path
    requests: int
    tokens: int
    model: str


def split_requests(
    source: Path | str, out_dir: Path | str, *, max_requests: int | None = None
) -> list[AnthropicPart]:
    """Check ``source`` and write its parts under ``out_dir`` (see the module docstring)."""
    source = Path(source)
    cap = min(MAX_REQUESTS, max_requests) if max_requests else MAX_REQUESTS
    chunks = _checked_chunks(source, cap)
    make_private_dirs(Path(out_dir))
    parts: list[AnthropicPart] = []
    for index, (lines, objects) in enumerate(chunks):
        path = Path(out_dir) / f"part-{index + 1:04d}.jsonl"
        body = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines)
        atomic_write(path, body)
        tokens = estimate_params(obj["params"] for obj in objects).input_tokens
        parts.append(AnthropicPart(path, len(lines), tokens, str(objects[0]["params"]["model"])))
    return parts


def _checked_chunks(source: Path, cap: int) -> list[tuple[list[bytes], list[dict]]]:
    check = FileCheck(source)
    seen: set[str] = set()
    chunks: list[tuple[list[bytes], list[dict]]] = []
    lines: list[bytes] = []
    objects: list[dict] = []
    size = BATCH_OVERHEAD
    try:
        for number, raw in iter_lines(source):
            obj, problem = parse_line(raw, number)
            found = [problem] if problem is not None else line_problems(obj, number, seen)
            for each in found:
                check.add(each)
            if found:
                continue
            if len(raw) + BATCH_OVERHEAD > MAX_BYTES:
                check.add(LineProblem(number, "", "one request is over 256 MB"))
                continue
            if lines and (len(lines) >= cap or size + len(raw) + 1 > MAX_BYTES):
                chunks.append((lines, objects))
                lines, objects, size = [], [], BATCH_OVERHEAD
            lines.append(raw)
            objects.append(obj)
            size += len(raw) + 1
    except OSError as exc:
        raise AnthropicFileError(f"{source}: cannot read it ({exc.strerror or exc})") from exc
    if lines:
        chunks.append((lines, objects))
    if not chunks and check.ok:
        check.add(LineProblem(None, "", "the file has no requests"))
    if not check.ok:
        shown = "\n".join(p.where(source) for p in check.problems[:20])
        more = check.problem_count - min(20, len(check.problems))
        tail = f"\n... and {more} more" if more > 0 else ""
        raise AnthropicFileError(f"{source} is not a valid Anthropic batch:\n{shown}{tail}")
    return chunks
