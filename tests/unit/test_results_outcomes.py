"""Outcomes named for what happened (not run, cut off), the retry groups, the retry
links in the registry, and the source rows joined back into the export."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.unit.test_results import answered, build, by_id, expired, request
from tui.core.registry import Job, Registry
from tui.core.results import (
    DEFAULT_RETRY,
    NoResultsError,
    Outcome,
    ResultIndex,
    describe_response,
    describe_result,
    export,
    load_source,
    parse_result_line,
    record_source,
    retry_counts,
    retry_links,
    retry_rows,
    write_retry_file,
)
from tui.widgets.results_list import row_cells


def test_requests_a_cancelled_or_expired_batch_never_ran_are_not_request_errors(
    tmp_path: Path,
) -> None:
    reqs = [request(f"r{i}", f"q {i}") for i in range(4)]
    other = {**expired("r3"), "error": {"code": "server_error", "message": "boom"}}
    errs = [expired("r1", "batch_cancelled"), expired("r2", "batch_expired"), other]
    index = ResultIndex([build(tmp_path, reqs, [answered(reqs[0])], errs)]).build_all()
    assert by_id(index) == {
        "r0": Outcome.OK,
        "r1": Outcome.NOT_RUN_CANCELLED,
        "r2": Outcome.NOT_RUN_EXPIRED,
        "r3": Outcome.REQUEST_ERROR,
    }
    assert [row.label for row in index.rows] == [
        "ok",
        "not run (cancelled)",
        "not run (expired)",
        "server_error",
    ]
    assert describe_result(expired("x", "batch_cancelled")).outcome is Outcome.NOT_RUN_CANCELLED
    assert describe_response(expired("x", "batch_cancelled")).title == "not run (cancelled)"


@pytest.mark.parametrize(
    ("url", "limit"),
    [
        ("/v1/chat/completions", {"max_tokens": 2}),
        ("/v1/chat/completions", {"max_completion_tokens": 2}),
        ("/v1/completions", {"max_tokens": 2}),
        ("/v1/responses", {"max_output_tokens": 2}),
    ],
)
def test_answers_cut_off_by_the_token_limit_are_flagged(
    tmp_path: Path, url: str, limit: dict[str, int]
) -> None:
    text = "please write a rather long answer about many things at once"
    roomy = {name: 4000 for name in limit}  # completions default to 16 tokens, as the API
    reqs = [request("whole", text, url, **roomy), request("cut", text, url, **limit)]
    index = ResultIndex([build(tmp_path, reqs, [answered(r) for r in reqs])]).build_all()
    assert by_id(index) == {"whole": Outcome.OK, "cut": Outcome.CUT_OFF}
    cut = index.rows[1]
    assert cut.label == "ok · cut off"
    assert "ok · cut off" in [text for text, _ in row_cells(cut)]
    assert cut.preview  # the answer is still shown
    line = json.dumps(answered(reqs[1])).encode()
    assert parse_result_line(line).outcome is Outcome.CUT_OFF
    assert describe_result(json.loads(line)).outcome is Outcome.CUT_OFF  # the slow path agrees
    assert "cut off" in describe_response(json.loads(line)).title
    export(index, tmp_path / "x.jsonl")
    records = [json.loads(x) for x in (tmp_path / "x.jsonl").open()]
    assert records[1]["outcome"] == "cut_off" and records[1]["answer"]


def _mixed(tmp_path: Path) -> ResultIndex:
    markers = ["", "[fail:429]", "[fail:500]", "[fail:400]", "", "", ""]
    reqs = [request(f"r{i}", f"q {i} {m}") for i, m in enumerate(markers)]
    outs = [answered(reqs[0])]
    errs = [answered(reqs[1]), answered(reqs[2]), answered(reqs[3])]
    errs += [expired("r4"), expired("r5", "batch_cancelled")]  # r6: missing
    return ResultIndex([build(tmp_path, reqs, outs, errs)]).build_all()


def test_retry_groups_default_to_what_can_succeed_unchanged(tmp_path: Path) -> None:
    index = _mixed(tmp_path)
    assert retry_counts(index) == {
        "429": 1,
        "5xx": 1,
        "expired": 1,
        "cancelled": 1,
        "missing": 1,
        "request_error": 0,
        "4xx": 1,
    }
    assert "4xx" not in DEFAULT_RETRY
    assert [row.custom_id for row in retry_rows(index)] == ["r1", "r2", "r4", "r5", "r6"]
    planned = write_retry_file(index, tmp_path / "retry.jsonl")
    assert planned.custom_ids == ("r1", "r2", "r4", "r5", "r6")
    chosen = write_retry_file(index, tmp_path / "chosen.jsonl", {"4xx", "missing"})
    assert chosen.custom_ids == ("r3", "r6")
    sent = [json.loads(x)["custom_id"] for x in chosen.path.read_text().splitlines()]
    assert sent == ["r3", "r6"]
    with pytest.raises(NoResultsError, match="nothing to retry"):
        write_retry_file(index, tmp_path / "none.jsonl", {"request_error"})


def test_retry_links_both_ways(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry", durable=False)
    registry.add(Job(batch_id="batch_a", created_at=1))
    registry.add(Job(batch_id="batch_b", retry_of="batch_a", created_at=2))
    registry.add(Job(batch_id="batch_c", retry_of="batch_a", created_at=3))
    registry.add(Job(batch_id="batch_d", retry_of="batch_b", created_at=4))
    parent = retry_links(registry, "batch_a")
    assert parent.retry_of is None and parent.retried_by == ("batch_b", "batch_c")
    assert parent.describe() == "retried by batch_b, batch_c"
    middle = retry_links(registry, "batch_b")
    assert (middle.retry_of, middle.retried_by) == ("batch_a", ("batch_d",))
    assert middle.describe() == "retry of batch_a · retried by batch_d"
    assert retry_links(registry, "batch_z").describe() == ""


def test_export_joins_the_source_rows_by_custom_id(tmp_path: Path) -> None:
    rows = tmp_path / "tickets.csv"
    rows.write_text("ticket,text\nT-1,first\nT-2,=second\nT-3,third\n", encoding="utf-8")
    registry = Registry(tmp_path / "registry", durable=False)
    job = registry.add(Job(batch_id="batch_s"))
    record_source(registry, [job], rows, "t-{ticket}")
    # A split batch: this part holds rows 3 and 1 (in that order); row 2 is elsewhere.
    reqs = [request("t-T-3", "third"), request("t-T-1", "first")]
    index = ResultIndex([build(tmp_path, reqs, [answered(r) for r in reqs])]).build_all()
    table = load_source(registry.find_by_batch("batch_s"))
    assert table.columns == ("ticket", "text")
    export(index, tmp_path / "out.csv", source=table)
    out = list(csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8")))
    assert [(r["custom_id"], r["source.ticket"], r["source.text"]) for r in out] == [
        ("t-T-3", "T-3", "third"),
        ("t-T-1", "T-1", "first"),
    ]
    assert out[0]["answer"]

    other = registry.add(Job(batch_id="batch_plain"))
    with pytest.raises(NoResultsError, match="not composed from"):
        load_source(other)
    record_source(registry, [other], None, "row-{index}")  # not from rows: nothing kept
    assert "source" not in (registry.find_by_batch("batch_plain") or other).extra
    rows.unlink()
    with pytest.raises(NoResultsError, match="cannot read the source file"):
        load_source(registry.find_by_batch("batch_s"))


def test_source_rows_by_index_pattern(tmp_path: Path) -> None:
    rows = tmp_path / "lines.txt"
    rows.write_text("alpha\n\nbeta\n", encoding="utf-8")
    registry = Registry(tmp_path / "registry", durable=False)
    job = registry.add(Job(batch_id="batch_t"))
    record_source(registry, [job], rows, "row-{index}")
    table = load_source(registry.find_by_batch("batch_t"))
    assert table.rows == {"row-1": {"text": "alpha"}, "row-2": {"text": "beta"}}
