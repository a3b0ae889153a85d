"""The index keeps its rows in columns: a few bytes a row whatever the answers, a
row made when read (the same object while held), its preview read from the file."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

from tests.unit.test_results import answered, build, expired, request
from tui.core.results import Outcome, ResultIndex, ResultRow, export, search

ANSWER = "A long answer, the kind a batch returns by the thousand. " * 40  # ~2.3 KB


def _long_answers(tmp_path: Path, count: int) -> ResultIndex:
    reqs = [request(f"r{i:05d}", f"q {i}") for i in range(count)]
    outs = []
    for req in reversed(reqs):
        line = answered(req)
        line["response"]["body"]["choices"][0]["message"]["content"] = ANSWER
        outs.append(line)
    return ResultIndex([build(tmp_path, reqs, outs)])


def test_memory_per_row_is_small_whatever_the_answers(tmp_path: Path) -> None:
    # Before: a ResultRow per row with the answer's first 480 bytes (~0.85 KB a row).
    index = _long_answers(tmp_path, 3000)
    tracemalloc.start()
    try:
        index.build_all()
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(index.rows) == 3000
    assert held / 3000 < 300  # bytes a row: the custom_id, its dict entry, the columns


def test_export_streams_rows_without_keeping_them(tmp_path: Path) -> None:
    index = _long_answers(tmp_path, 2000).build_all()
    before = len(index.table)
    tracemalloc.start()
    try:
        assert export(index, tmp_path / "out.jsonl") == 2000
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 200_000  # what is left after the export: no row kept
    assert len(index.table) == before
    first = json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])
    assert (first["custom_id"], first["answer"]) == ("r00000", ANSWER)


def test_a_row_is_made_when_read_and_stays_the_same_while_held(tmp_path: Path) -> None:
    index = _long_answers(tmp_path, 5).build_all()
    row = index.rows[2]
    assert row is index.rows[2] and row is index.row_for("r00002")
    assert row.snippet is None  # read from the file when first shown
    assert row.preview.startswith("A long answer") and row.preview.endswith("…")
    assert isinstance(row.snippet, bytes)
    assert row in search(index, "r00002") and search(index, "nowhere") == set()


def test_a_row_held_while_indexing_takes_the_retry_outcome(tmp_path: Path) -> None:
    reqs = [request(f"r{i}", f"q {i}") for i in range(4)]
    first = build(tmp_path, reqs, [answered(reqs[0])], [expired("r1"), expired("r2")])
    retry_out = [answered(reqs[1]), answered(reqs[3])]  # r3: missing, then answered
    retry = build(tmp_path, reqs[1:], retry_out, [], name="retry", attempt=1)
    index = ResultIndex([first, retry])
    shown = []
    for step in index.build(rows_per_step=1):
        shown.extend(step.new_rows)  # as the results screen holds them
    r1 = next(row for row in shown if row.custom_id == "r1")
    assert (r1.outcome, r1.attempt, r1.input_line) == (Outcome.OK, 1, 2)
    assert r1.preview.startswith("Echo")
    r3 = next(row for row in shown if row.custom_id == "r3")
    assert (r3.outcome, r3.attempt, r3.preview) == (Outcome.OK, 1, "Echo: q 3")
    assert list(index.rows) == [shown[0], r1, shown[2], r3]
    assert index.counts()[Outcome.NOT_RUN_EXPIRED] == 1


def test_a_token_count_too_big_for_a_column_is_kept_bounded(tmp_path: Path) -> None:
    reqs = [request("r0", "a"), request("r1", "b")]
    outs = [answered(reqs[0]), answered(reqs[1])]
    outs[1]["response"]["body"]["usage"]["total_tokens"] = 2**64 - 1  # fits msgspec, not int64
    index = ResultIndex([build(tmp_path, reqs, outs)]).build_all()
    assert [row.outcome for row in index.rows] == [Outcome.OK, Outcome.OK]
    assert index.rows[0].tokens > 0 and index.rows[1].tokens == 1 << 62


def test_a_row_made_while_indexing_changes_it_is_not_left_stale(tmp_path: Path) -> None:
    # The screen makes rows on its thread while indexing goes on in another: a change
    # between reading a row's columns and keeping the row must still reach it.
    reqs = [request("r0", "a")]
    index = ResultIndex([build(tmp_path, None, [answered(reqs[0])])]).build_all()
    table = index.table
    make = table.make

    def make_then_change(*args: Any) -> ResultRow:
        row = make(*args)
        if table.input_line[0] == 0:  # the other thread, right after the columns were read
            table.input_line[0] = 7
            index._changed(0)
        return row

    table.make = make_then_change  # type: ignore[method-assign]
    assert index.rows[0].input_line == 7
