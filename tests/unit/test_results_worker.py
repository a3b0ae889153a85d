"""A big result file's tail decoded by a real worker process gives the same index as
one process alone; a worker that fails leaves the index whole; one whose index is
dropped half-way is killed and reaped."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Generator
from pathlib import Path
from typing import Any, cast

import pytest

import tui.core.results.worker as worker_module
from tui.core.results import Attempt, Outcome, ResultIndex


def _answer(custom_id: str, text: str) -> dict[str, Any]:
    body = {
        "choices": [{"index": 0, "message": {"content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
    }
    return {"id": "x", "custom_id": custom_id, "response": {"status_code": 200, "body": body}}


def _write_batch(root: Path, lines: int = 3000) -> Attempt:
    """An output whose tail has odd lines too: broken JSON, a blank line, a repeated id,
    an HTTP error."""
    out = []
    for i in range(lines):
        out.append(json.dumps(_answer(f"r{i}", f"answer {i} é " * (i % 7))))
    out[lines - 40] = '{"custom_id": "broken", '
    out[lines - 30] = ""
    out[lines - 20] = json.dumps(_answer("r5", "again"))  # r5 first came in the head
    error = {"error": {"message": "boom", "type": "server_error", "code": "overloaded"}}
    out[1800] = json.dumps({"custom_id": "r1800", "response": {"status_code": 503, "body": error}})
    (root / "out.jsonl").write_text("\n".join(out) + "\n", encoding="utf-8")
    inputs = [json.dumps({"custom_id": f"r{i}"}) for i in range(lines + 5)]
    (root / "in.jsonl").write_text("\n".join(inputs) + "\n", encoding="utf-8")
    return Attempt("b", 0, output=root / "out.jsonl", input=root / "in.jsonl")


def _snapshot(index: ResultIndex) -> dict[str, Any]:
    rows = [
        (r.custom_id, r.outcome, r.status, r.error_code, r.tokens, r.input_line, r.line, r.note)
        for r in index.rows
    ]
    spans = [[s.span(n) for n in range(1, s.line_count + 1)] for s in index.sources]
    return {"rows": rows, "spans": spans, "counts": index.counts()}


@pytest.fixture
def split_early(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Any file goes to a worker from its middle; the worker results are recorded."""
    monkeypatch.setattr(worker_module, "SPLIT_BYTES", 1)
    monkeypatch.setattr(worker_module, "WORKER_LEAD", 0)
    monkeypatch.setattr(worker_module, "_can_spawn", lambda: True)
    results: list[Any] = []
    real = worker_module.Worker.result

    def recording(self: worker_module.Worker) -> Any:
        got = real(self)
        results.append(got)
        return got

    monkeypatch.setattr(worker_module.Worker, "result", recording)
    return results


def _alone(attempt: Attempt, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    with monkeypatch.context() as patch:
        patch.setattr(worker_module, "SPLIT_BYTES", 1 << 62)
        return _snapshot(ResultIndex([attempt]).build_all())


def test_a_worker_decodes_the_tail_and_the_index_is_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, split_early: list[Any]
) -> None:
    attempt = _write_batch(tmp_path)
    index = ResultIndex([attempt]).build_all()
    assert len(split_early) == 1 and split_early[0] is not None  # a worker ran and answered
    end, tail_lines, _ = split_early[0]
    assert end == (tmp_path / "out.jsonl").stat().st_size and 0 < tail_lines < 3000
    got = _snapshot(index)
    assert got == _alone(attempt, monkeypatch)
    # missing: the 5 extra requests and the 3 whose lines became odd ones
    assert got["counts"][Outcome.INVALID] == 1 and got["counts"][Outcome.MISSING] == 8
    assert got["counts"][Outcome.HTTP_ERROR] == 1
    failed = index.row_for("r1800")  # in the tail, in a piece of plain lines
    assert failed is not None and (failed.status, failed.error_code) == (503, "overloaded")
    assert index.row_for("r5") is not None and len(index._duplicates["r5"]) == 1
    last = index.row_for("r2999")
    assert last is not None and last.line == 3000
    with index.reader() as reader:  # a line of the tail is read again by its offsets
        assert json.loads(reader.result_bytes(last) or b"")["custom_id"] == "r2999"


@pytest.mark.parametrize("in_memory", [True, False])
def test_the_worker_output_is_an_unnamed_file_in_memory_or_a_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, split_early: list[Any], in_memory: bool
) -> None:
    """memfd_create where the system has it; a temp file where it has not (or it fails)."""
    made: list[str] = []
    real = os.memfd_create

    def memfd(name: str, flags: int = os.MFD_CLOEXEC) -> int:
        made.append(name)
        if not in_memory:
            raise OSError("no memfd here")
        return real(name, flags)

    monkeypatch.setattr(worker_module.os, "memfd_create", memfd)
    attempt = _write_batch(tmp_path)
    got = _snapshot(ResultIndex([attempt]).build_all())
    assert made == ["batchdeck-results-tail"] and split_early[0] is not None
    assert got == _alone(attempt, monkeypatch)


def _refuse(*args: Any, **kwargs: Any) -> int:
    raise OSError("no processes left")


@pytest.mark.parametrize(
    ("target", "name", "value"),
    [
        (worker_module.Worker, "module", "tui.no_such_module"),  # it starts, then exits 1
        (worker_module.os, "posix_spawn", _refuse),  # it cannot start
    ],
)
def test_a_worker_that_fails_leaves_its_part_to_this_process(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    split_early: list[Any],
    target: object,
    name: str,
    value: object,
) -> None:
    attempt = _write_batch(tmp_path)
    monkeypatch.setattr(target, name, value)
    got = _snapshot(ResultIndex([attempt]).build_all())
    assert split_early == [None]
    assert got == _alone(attempt, monkeypatch)


def test_an_index_dropped_half_way_kills_and_reaps_its_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, split_early: list[Any]
) -> None:
    attempt = _write_batch(tmp_path)
    pids: list[int] = []
    real_init = worker_module.Worker.__init__

    def recording(self: worker_module.Worker, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        assert self.pid is not None
        pids.append(self.pid)

    monkeypatch.setattr(worker_module.Worker, "__init__", recording)
    steps = cast(Generator[Any, None, None], ResultIndex([attempt]).build(rows_per_step=10))
    next(steps)
    assert len(pids) == 1
    steps.close()  # the results screen closed while indexing
    with pytest.raises(ChildProcessError):  # reaped: no zombie left
        os.waitpid(pids[0], os.WNOHANG)
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)


def test_a_worker_output_that_is_cut_short_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text("\n".join(json.dumps(_answer(f"r{i}", "x")) for i in range(50)) + "\n")
    start = len(path.read_bytes().split(b"\n", 10)[0]) + 1  # the second line
    out = io.BytesIO()
    worker_module.write_tail(path, start, out)
    data = out.getvalue()
    tail = worker_module.read_tail(io.BytesIO(data))
    assert tail is not None
    end, lines, frames = tail
    assert (end, lines) == (path.stat().st_size, 49) and list(frames)
    for cut in (1, 5, len(data) // 2, len(data) - 1):
        assert worker_module.read_tail(io.BytesIO(data[:cut])) is None
    assert worker_module.read_tail(io.BytesIO(data + b"\x00")) is None


def test_a_small_file_or_one_core_gets_no_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text(json.dumps(_answer("r1", "x")) + "\n" + json.dumps(_answer("r2", "y")) + "\n")
    assert worker_module.split_point(path) is None  # under SPLIT_BYTES
    monkeypatch.setattr(worker_module, "SPLIT_BYTES", 1)
    monkeypatch.setattr(worker_module, "WORKER_LEAD", 0)
    monkeypatch.setattr(worker_module, "_can_spawn", lambda: True)
    cut = worker_module.split_point(path)
    assert cut is not None and path.read_bytes()[cut - 1 : cut] == b"\n"
    monkeypatch.setattr(worker_module, "_can_spawn", lambda: False)
    assert worker_module.split_point(path) is None
