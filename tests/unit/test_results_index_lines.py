"""The index's fast path (whole pieces decoded at once, rows added in bulk) gives the
same rows, columns and line offsets as reading every line on its own, whatever the
lines: escaped, non-ASCII or non-string ids, repeated ids, cut-off lines, broken
JSON, blank lines, CRLF, two values on a line, no newline at the end. So does a file
whose tail a worker decodes (cut at any line; the worker's output read as the index
reads a real worker's, without the process: tests/unit/test_results_worker.py runs it)."""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tui.core.results.worker as worker_module
from tui.core.results import Attempt, Outcome, ResultIndex
from tui.core.results.columns import RowTable

IDS = ["r1", "r2", "é-3", 'q"4', "r\\5", "r\u20ac6", "", "r7"]


def _ok(custom_id: Any, finish: str = "stop", usage: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "choices": [{"index": 0, "message": {"content": "fine é ☃"}, "finish_reason": finish}]
    }
    if usage:
        body["usage"] = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    return {"id": "x", "custom_id": custom_id, "response": {"status_code": 200, "body": body}}


def _http(custom_id: Any) -> dict[str, Any]:
    body = {"error": {"message": "boom", "type": "server_error"}}
    return {"custom_id": custom_id, "response": {"status_code": 500, "body": body}}


def _expired(custom_id: Any) -> dict[str, Any]:
    return {"custom_id": custom_id, "response": None, "error": {"code": "batch_expired"}}


ident = st.one_of(st.sampled_from(IDS), st.integers(0, 3), st.none())
result = st.one_of(
    st.builds(_ok, ident, st.sampled_from(["stop", "length", "tool_calls"]), st.booleans()),
    st.builds(_http, ident),
    st.builds(_expired, ident),
    st.builds(lambda i: {"custom_id": i}, ident),  # neither response nor error
)


@st.composite
def result_line(draw: Callable[..., Any]) -> bytes:
    text = json.dumps(draw(result), ensure_ascii=draw(st.booleans())).encode()
    kind = draw(st.sampled_from(["plain"] * 6 + ["cut", "broken", "blank", "two", "crlf"]))
    if kind == "cut":
        return text[: draw(st.integers(1, len(text) - 1))]
    if kind == "broken":
        return b'{"custom_id": "r1", '
    if kind == "blank":
        return draw(st.sampled_from([b"", b"   ", b"\r"]))
    if kind == "two":
        return text + b" " + text
    if kind == "crlf":
        return text + b"\r"
    return text


def _write(path: Path, lines: list[bytes], newline_at_end: bool) -> Path:
    path.write_bytes(b"\n".join(lines) + (b"\n" if newline_at_end and lines else b""))
    return path


class _NoBulk:
    """A decoder whose ``decode_lines`` always refuses: every line read on its own."""

    def decode_lines(self, buf: object) -> list[Any]:
        raise msgspec.DecodeError("read line by line")


def _snapshot(index: ResultIndex) -> dict[str, Any]:
    table = index.table
    rows = [
        (r.custom_id, r.outcome, r.status, r.error_code, r.tokens, r.input_line, r.line, r.note)
        for r in index.rows
    ]
    spans = [
        [source.span(line) for line in range(1, source.line_count + 1)] for source in index.sources
    ]
    return {
        "ids": list(table.ids),
        "outcome": bytes(table.outcome),
        "numbers": [list(c) for c in (table.status, table.input_tokens, table.output_tokens)],
        "more": [list(c) for c in (table.tokens, table.input_line, table.source, table.line)],
        "error_code": dict(table.error_code),
        "note": dict(table.note),
        "rows": rows,
        "spans": spans,
        "counts": index.counts(),
    }


class _InProcessWorker:
    """A worker's output made in this process (``write_tail``), read as a real one's."""

    def __init__(self, path: Path, start: int, *, bulk: bool) -> None:
        self._out = io.BytesIO()
        worker_module.write_tail(path, start, self._out, bulk=bulk)

    def result(self) -> worker_module.Tail | None:
        return worker_module.read_tail(self._out)

    def stop(self) -> None:
        self._out.close()


def _line_start(path: Path, line: int) -> int | None:
    """Where 0-based ``line`` of ``path`` starts, if not at 0 or the end."""
    data = path.read_bytes()
    starts = [i + 1 for i, byte in enumerate(data) if byte == 10 and i + 1 < len(data)]
    return starts[line - 1] if 0 < line <= len(starts) else None


def _index(
    root: Path, monkeypatch: pytest.MonkeyPatch, *, bulk: bool, chunk: int, cut: int = 0
) -> dict[str, Any]:
    with monkeypatch.context() as patch:
        if not bulk:
            patch.setattr(worker_module, "INDEX_DECODER", _NoBulk())
        # The fast path reads ahead in a thread (as for a big file), the slow one not.
        real = worker_module.read_pieces

        def pieces(*args: Any, **kwargs: Any) -> Any:
            return real(*args, **{**kwargs, "chunk_size": chunk, "read_ahead": bulk})

        patch.setattr(worker_module, "read_pieces", pieces)
        if cut:  # a worker decodes each result file from its line ``cut`` on
            patch.setattr(worker_module, "split_point", lambda path: _line_start(path, cut))
            patch.setattr(worker_module, "Worker", _InProcessWorker)
        attempts = [
            Attempt(
                "b", 0, output=root / "out.jsonl", error=root / "err.jsonl", input=root / "in.jsonl"
            ),
            Attempt("b_retry", 1, output=root / "retry.jsonl"),
        ]
        index = ResultIndex(attempts)
        for _ in index.build(rows_per_step=3):
            pass
        return _snapshot(index)


@settings(derandomize=True, deadline=None, max_examples=150)
@given(
    output=st.lists(result_line(), max_size=40),
    error=st.lists(result_line(), max_size=6),
    retry=st.lists(result_line(), max_size=6),
    newline_at_end=st.booleans(),
    chunk=st.sampled_from([16, 64, 300, 1 << 18]),
    cut=st.integers(1, 40),
)
def test_bulk_path_equals_line_by_line(
    output: list[bytes],
    error: list[bytes],
    retry: list[bytes],
    newline_at_end: bool,
    chunk: int,
    cut: int,
) -> None:
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as monkeypatch:
        root = Path(tmp)
        _write(root / "out.jsonl", output, newline_at_end)
        _write(root / "err.jsonl", error, True)
        _write(root / "retry.jsonl", retry, newline_at_end)
        inputs = [json.dumps({"custom_id": i}).encode() for i in IDS[:5]]
        _write(root / "in.jsonl", inputs, True)
        fast = _index(root, monkeypatch, bulk=True, chunk=chunk)
        slow = _index(root, monkeypatch, bulk=False, chunk=chunk)
        assert fast == slow
        split = _index(root, monkeypatch, bulk=True, chunk=chunk, cut=cut)
        assert split == fast


def test_bulk_path_is_taken_for_plain_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The equality above is not vacuous: plain lines are added in bulk, and a
    repeated id found when they are joined is a duplicate, as line by line."""
    lines = [json.dumps(_ok(f"r{i}")).encode() for i in range(50)]
    lines[20] = json.dumps(_http("r20")).encode()  # error codes in the middle of a bulk piece
    lines[30] = json.dumps(_expired("r30")).encode()
    lines.append(json.dumps(_http("r7")).encode())
    _write(tmp_path / "out.jsonl", lines, True)
    calls: list[int] = []
    extend = RowTable.extend

    def counting(self: RowTable, columns: Any, *args: Any) -> bool:
        calls.append(len(columns[0]))  # the ids of the rows added in bulk
        return extend(self, columns, *args)

    monkeypatch.setattr(RowTable, "extend", counting)
    index = ResultIndex([Attempt("b", 0, output=tmp_path / "out.jsonl")]).build_all()
    assert sum(calls) == 51
    assert [row.custom_id for row in index.rows] == [f"r{i}" for i in range(50)] + ["r7"]
    assert index.rows[-1].note == "duplicate"
    assert index.row_for("r7") is index.rows[7]
    codes = [(row.custom_id, row.error_code) for row in index.rows if row.error_code]
    assert codes == [("r20", "server_error"), ("r30", "batch_expired"), ("r7", "server_error")]
    assert [row.outcome for row in index.rows[19:22]] == [
        Outcome.OK,
        Outcome.HTTP_ERROR,
        Outcome.OK,
    ]


def test_reading_ahead_stops_its_thread_when_the_reader_stops(tmp_path: Path) -> None:
    import threading

    from tui.core.results.pieces import Source, read_pieces

    path = tmp_path / "out.jsonl"
    _write(path, [json.dumps(_ok(f"r{i}")).encode() for i in range(200)], True)
    pieces = read_pieces(Source("output", path, "b", 0), chunk_size=64, read_ahead=True)
    next(pieces)
    assert any(t.name == "results-read-ahead" for t in threading.enumerate())
    pieces.close()  # the index dropped half-way (its screen closed)
    assert not any(t.name == "results-read-ahead" for t in threading.enumerate())
