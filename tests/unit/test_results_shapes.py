"""The index reads odd result lines exactly as a line read on its own, wherever they
sit: among thousands of usual lines (the bulk path), at a piece's edge, or alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tui.core.results import Attempt, Outcome, ResultIndex, parse_result_line
from tui.core.results.decoding import facts_of_row


def usual(custom_id: str, text: str = "an answer", finish: str = "stop") -> dict[str, Any]:
    """A chat completion answered in full, as the API writes it (custom_id second)."""
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
        ],
        "usage": {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12},
    }
    return {
        "id": f"batch_req_{custom_id}",
        "custom_id": custom_id,
        "response": {"status_code": 200, "request_id": "req_1", "body": body},
        "error": None,
    }


def compact(line: dict[str, Any]) -> str:
    return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


ODD: dict[str, str] = {
    "id with escapes": compact(usual('q"uote\\back\u00e9\\n')),
    "id escaped as \\u": json.dumps(usual("caf\u00e9-\u6771\u4eac"), ensure_ascii=True),
    "non-ASCII id": compact(usual("r\u00e9ponse-\u6771\u4eac-\U0001f600")),
    "custom_id not first or second": compact(
        {"response": usual("late")["response"], "error": None, "custom_id": "late", "id": "x"}
    ),
    "spaces around the colon": '{"id": "y", "custom_id" : "spaced" , "response" : '
    + json.dumps(usual("spaced")["response"])
    + ', "error": null}',
    "custom_id in the answer text": compact(usual("outer", text='"custom_id":"inner" custom_id')),
    "custom_id in the body": compact(
        {**usual("outer2"), "response": {"status_code": 200, "body": {"custom_id": "inner2"}}}
    ),
    "cut off": compact(usual("cut", finish="length")),
    "not valid JSON": '{"id":"z","custom_id":"broken","response":{"status_code":200,"bo',
    "id not a string": compact({**usual("x"), "custom_id": 12}),
    "id null": compact({**usual("x"), "custom_id": None}),
    "server error": compact(
        {
            "id": "e",
            "custom_id": "failed",
            "response": {"status_code": 500, "body": {"error": {"type": "server_error"}}},
            "error": None,
        }
    ),
    "responses API usage": compact(
        {
            "custom_id": "resp",
            "response": {
                "status_code": 200,
                "body": {
                    "object": "response",
                    "status": "completed",
                    "output": [],
                    "usage": {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7},
                },
            },
        }
    ),
    "usage without total": compact(
        {
            **usual("nototal"),
            "response": {
                "status_code": 200,
                "body": {"choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 3}},
            },
        }
    ),
    "no usage": compact(
        {**usual("nousage"), "response": {"status_code": 200, "body": {"choices": []}}}
    ),
    "expired": compact({"custom_id": "gone", "response": None, "error": {"code": "batch_expired"}}),
}


def index_of(path: Path, lines: list[str]) -> ResultIndex:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return ResultIndex([Attempt("b", 0, output=path)]).build_all()


@pytest.mark.parametrize("where", ["first", "middle", "last", "alone"])
@pytest.mark.parametrize("name", sorted(ODD))
def test_an_odd_line_is_read_as_on_its_own_among_usual_ones(
    tmp_path: Path, name: str, where: str
) -> None:
    odd = ODD[name]
    filler = [compact(usual(f"request-{i:05d}", "word " * 40)) for i in range(1200)]  # 2 pieces
    at = {"first": 0, "middle": 600, "last": 1200, "alone": 0}[where]
    lines = [odd] if where == "alone" else [*filler[:at], odd, *filler[at:]]
    index = index_of(tmp_path / "output.jsonl", lines)
    rows = list(index.rows)
    assert len(rows) == len(lines)
    row = next(row for row in rows if row.line == at + 1)
    assert facts_of_row(row) == facts_of_row(parse_result_line(odd.encode()))
    assert row.source == 0
    for other in rows:  # the usual lines around it are untouched
        if other is not row:
            assert (other.outcome, other.tokens, other.note) == (Outcome.OK, 12, "")


def test_the_odd_shapes_are_what_they_claim() -> None:
    """The reference each case is compared to (a line read alone) gets them right."""
    read = {name: parse_result_line(line.encode()) for name, line in ODD.items()}
    assert read["id with escapes"].custom_id == 'q"uote\\back\u00e9\\n'
    assert read["id escaped as \\u"].custom_id == "caf\u00e9-\u6771\u4eac"
    assert read["non-ASCII id"].custom_id == "r\u00e9ponse-\u6771\u4eac-\U0001f600"
    assert read["custom_id not first or second"].custom_id == "late"
    assert read["spaces around the colon"].custom_id == "spaced"
    assert read["custom_id in the answer text"].custom_id == "outer"
    assert read["custom_id in the body"].custom_id == "outer2"
    assert read["cut off"].outcome is Outcome.CUT_OFF
    assert (read["not valid JSON"].outcome, read["not valid JSON"].note) == (
        Outcome.INVALID,
        "not valid JSON",
    )
    assert read["id not a string"].outcome is Outcome.INVALID
    assert read["id null"].outcome is Outcome.INVALID
    assert (read["server error"].outcome, read["server error"].status) == (Outcome.HTTP_ERROR, 500)
    assert (read["responses API usage"].input_tokens, read["responses API usage"].tokens) == (3, 7)
    assert read["usage without total"].tokens == 5
    assert read["no usage"].tokens == 0
    assert read["expired"].outcome is Outcome.NOT_RUN_EXPIRED


def test_a_duplicate_in_another_piece_is_marked_and_the_first_stays_joined(
    tmp_path: Path,
) -> None:
    lines = [compact(usual(f"request-{i:05d}", "word " * 40)) for i in range(3000)]
    lines.append(lines[10])  # the same id, ~1 MB later: another piece
    lines.insert(20, lines[20])  # and twice in a row: the same piece
    index = index_of(tmp_path / "output.jsonl", lines)
    notes = {row.line: row.note for row in index.rows if row.note}
    assert notes == {22: "duplicate", 3002: "duplicate"}
    assert index.row_for("request-00010").line == 11  # type: ignore[union-attr]
    assert index.row_for("request-00020").line == 21  # type: ignore[union-attr]
