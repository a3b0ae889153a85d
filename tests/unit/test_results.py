"""The results join: rows per request, outcomes, odd files, search, export, retry files."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tui.core.results import (
    Attempt,
    NoResultsError,
    Outcome,
    ResultIndex,
    answer_text,
    describe_request,
    describe_response,
    export,
    export_format,
    parse_result_line,
    search,
    write_retry_file,
)
from tui.localapi import echo

CHAT = "/v1/chat/completions"


def request(custom_id: str, text: str, url: str = CHAT, **body: Any) -> dict[str, Any]:
    if url == CHAT:
        body.setdefault("messages", [{"role": "user", "content": text}])
    elif url in ("/v1/completions", "/v1/images/generations", "/v1/videos"):
        body.setdefault("prompt", text)
    else:
        body.setdefault("input", text)
    body.setdefault("model", "gpt-4o-mini" if url != "/v1/embeddings" else "text-embedding-3-small")
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": body}


def answered(req: dict[str, Any]) -> dict[str, Any]:
    """The output (or error) line echo gives for ``req``."""
    status, body = echo.respond(req["url"], req["body"], seed=req["custom_id"])
    return {
        "id": f"batch_req_{req['custom_id']}",
        "custom_id": req["custom_id"],
        "response": {"status_code": status, "request_id": "req_1", "body": body},
        "error": None,
    }


def expired(custom_id: str, code: str = "batch_expired") -> dict[str, Any]:
    return {
        "id": f"batch_req_{custom_id}",
        "custom_id": custom_id,
        "response": None,
        "error": {"code": code, "message": "This request could not be executed before expiry."},
    }


def write(path: Path, lines: list[Any]) -> Path:
    path.write_text(
        "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines),
        encoding="utf-8",
    )
    return path


def build(
    tmp_path: Path,
    inputs: list[Any] | None,
    outputs: list[Any] | None,
    errors: list[Any] | None = None,
    name: str = "b",
    attempt: int = 0,
) -> Attempt:
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    return Attempt(
        f"batch_{name}",
        attempt,
        output=write(folder / "output.jsonl", outputs) if outputs is not None else None,
        error=write(folder / "error.jsonl", errors) if errors is not None else None,
        input=write(folder / "input.jsonl", inputs) if inputs is not None else None,
        endpoint=CHAT,
    )


def by_id(index: ResultIndex) -> dict[str, Outcome]:
    return {row.custom_id: row.outcome for row in index.rows if not row.note}


def test_out_of_order_results_come_back_in_input_order(tmp_path: Path) -> None:
    reqs = [request(f"r{i}", f"question {i}") for i in range(6)]
    outs = [answered(reqs[i]) for i in (4, 0, 5, 2, 1, 3)]
    index = ResultIndex([build(tmp_path, reqs, outs)])
    steps = list(index.build(rows_per_step=2))
    arrived = [row.custom_id for row in steps[0].new_rows]
    assert arrived == ["r4", "r0", "r5", "r2", "r1", "r3"]  # rows as they arrive
    assert steps[-1].final and index.done
    assert [row.custom_id for row in index.rows] == [f"r{i}" for i in range(6)]
    assert [row.input_line for row in index.rows] == [1, 2, 3, 4, 5, 6]
    row = index.rows[3]
    assert row.outcome is Outcome.OK and row.status == 200
    assert row.preview == "Echo: question 3"
    assert row.tokens == row.input_tokens + row.output_tokens > 0


def test_missing_failed_and_expired(tmp_path: Path) -> None:
    reqs = [request(f"r{i}", f"q {i}" + (" [fail:500]" if i == 1 else "")) for i in range(5)]
    outs = [answered(reqs[0]), answered(reqs[4])]
    errs = [answered(reqs[1]), expired("r2")]
    index = ResultIndex([build(tmp_path, reqs, outs, errs)]).build_all()
    assert by_id(index) == {
        "r0": Outcome.OK,
        "r1": Outcome.HTTP_ERROR,
        "r2": Outcome.NOT_RUN_EXPIRED,
        "r3": Outcome.MISSING,
        "r4": Outcome.OK,
    }
    failed = index.row_for("r1")
    assert failed is not None and failed.status == 500 and failed.label == "HTTP 500"
    assert failed.preview.startswith("The server had an error")
    gone = index.row_for("r2")
    assert gone is not None and gone.label == "not run (expired)"
    assert gone.error_code == "batch_expired"
    missing = index.row_for("r3")
    assert missing is not None and missing.source == -1 and missing.input_line == 4


def test_error_file_only_all_failed(tmp_path: Path) -> None:
    reqs = [request(f"r{i}", "x", model="fail-503") for i in range(3)]
    index = ResultIndex([build(tmp_path, reqs, None, [answered(r) for r in reqs])]).build_all()
    assert [row.label for row in index.rows] == ["HTTP 503"] * 3
    assert index.counts()[Outcome.HTTP_ERROR] == 3


def test_cancelled_partial_results(tmp_path: Path) -> None:
    reqs = [request(f"r{i}", f"q {i}") for i in range(4)]
    outs = [answered(reqs[0])]
    errs = [expired(f"r{i}", "batch_cancelled") for i in (1, 2, 3)]
    index = ResultIndex([build(tmp_path, reqs, outs, errs)]).build_all()
    assert [row.label for row in index.rows] == ["ok"] + ["not run (cancelled)"] * 3


def test_duplicates_are_shown_beside_their_request(tmp_path: Path) -> None:
    reqs = [request(f"r{i}", f"q {i}") for i in range(3)]
    outs = [answered(reqs[1]), answered(reqs[0]), answered(reqs[1]), answered(reqs[2])]
    errs = [expired("r2")]  # the same id in the output and the error file
    index = ResultIndex([build(tmp_path, reqs, outs, errs)]).build_all()
    assert [(row.custom_id, row.note) for row in index.rows] == [
        ("r0", ""),
        ("r1", ""),
        ("r1", "duplicate"),
        ("r2", ""),
        ("r2", "duplicate"),
    ]
    assert index.rows[2].input_line == 2 and index.rows[2].line == 3


def test_malformed_lines_keep_their_line_number_and_the_rest_opens(tmp_path: Path) -> None:
    reqs = [request(f"r{i}", f"q {i}") for i in range(3)]
    outs: list[Any] = [
        answered(reqs[0]),
        '{"custom_id": "r1", "response": {tru',
        "[1, 2]",
        {"id": "x", "response": None, "error": None},
        answered(reqs[2]),
    ]
    index = ResultIndex([build(tmp_path, reqs, outs)]).build_all()
    assert by_id(index) == {"r0": Outcome.OK, "r1": Outcome.MISSING, "r2": Outcome.OK}
    invalid = [row for row in index.rows if row.outcome is Outcome.INVALID]
    assert [(row.line, row.note) for row in invalid] == [
        (2, "not valid JSON"),
        (3, "not a JSON object"),
        (4, "no custom_id"),
    ]
    assert invalid[0].label == "invalid line"
    with index.reader() as reader:
        assert reader.result_bytes(invalid[0]) == b'{"custom_id": "r1", "response": {tru'


def test_results_without_input_and_ids_not_in_the_input(tmp_path: Path) -> None:
    reqs = [request("r0", "q")]
    stray = answered(request("zz", "other"))
    index = ResultIndex([build(tmp_path, reqs, [answered(reqs[0]), stray])]).build_all()
    assert [(row.custom_id, row.note) for row in index.rows] == [("r0", ""), ("zz", "not in input")]
    no_input = ResultIndex([build(tmp_path, None, [answered(reqs[0])], name="n")]).build_all()
    assert no_input.input is None and [row.custom_id for row in no_input.rows] == ["r0"]


def test_blank_lines_crlf_and_no_final_newline(tmp_path: Path) -> None:
    reqs = [request("r0", "q"), request("r1", "q")]
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "output.jsonl").write_bytes(
        json.dumps(answered(reqs[0])).encode() + b"\r\n\n" + json.dumps(answered(reqs[1])).encode()
    )
    attempt = Attempt("b", 0, output=folder / "output.jsonl", input=write(folder / "in", reqs))
    index = ResultIndex([attempt]).build_all()
    assert by_id(index) == {"r0": Outcome.OK, "r1": Outcome.OK}
    with index.reader() as reader:
        assert json.loads(reader.result_bytes(index.rows[1]) or b"")["custom_id"] == "r1"


@pytest.mark.parametrize("read_ahead", [False, True])
@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 1 << 20])
def test_chunked_lines_match_a_plain_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int, read_ahead: bool
) -> None:
    from tui.core.results import pieces as pieces_module

    monkeypatch.setattr(pieces_module, "MAX_INDEXED_LINE", 20)
    data = b'{"a": 1}\n\n' + b"x" * 45 + b'\n{"b": 22}\r\n' + b"y" * 30 + b"\n" + b"tail"
    path = tmp_path / "f.jsonl"
    path.write_bytes(data)
    source = pieces_module.Source("output", path, "b", 0)
    got: list[bytes | int] = []
    total = 0
    read = pieces_module.read_pieces(source, chunk_size=chunk, read_ahead=read_ahead)
    for before, piece, lines, count, consumed in read:
        assert before == len(got)
        if lines is None:
            assert piece is not None
            lines = pieces_module.split_lines(piece)
        assert len(lines) == count
        got.extend(lines)
        total += consumed
    assert got == [b'{"a": 1}', b"", 45, b'{"b": 22}\r', 30, b"tail"]
    assert total == len(data) and source.line_count == 6
    spans = [(0, 8), (9, 9), (10, 55), (56, 66), (67, 97), (98, 102)]
    assert [source.span(n) for n in range(1, 7)] == spans
    assert [source.line_at(p) for p in (0, 8, 9, 10, 60, 98, 101)] == [1, 1, 2, 3, 4, 6, 6]
    with pytest.raises(IndexError):
        source.span(7)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"no newline",
        b"\n\n\n",
        b"short\n" * 500,  # the first lines are short: the rest is counted in one pass
        (b"x" * 700 + b"\n") * 100,  # long lines: stepped over one by one
        (b"x" * 700 + b"\n") * 64 + b"y\n" * 300,  # long, then short
        b"a\n" * 64 + (b"x" * 2000 + b"\n") * 10 + b"tail",  # short, then long
        (b"x" * 700 + b"\n") * 3 + b" \n" + b"x\n",  # a blank line among long ones
        b"a\n" * 100 + b"\r\n" + b"b\n",  # a blank line among short ones
        b"a\n" * 64 + b"\n",  # blank just after the sample
        b" a\n",  # the first line starts with a space
    ],
)
def test_count_newlines_matches_count(data: bytes) -> None:
    from tui.core.results import pieces as pieces_module

    buf = bytearray(data + b"\n\n")  # bytes past ``end`` are not counted
    count, plain = pieces_module.count_newlines(buf, len(data))
    assert count == data.count(b"\n")
    blank = any(not line or line[:1].isspace() for line in data.split(b"\n")[:count])
    assert plain is not blank


ENDPOINT_CASES = [
    ("/v1/chat/completions", "Echo: hello world"),
    ("/v1/responses", "Echo: hello world"),
    ("/v1/completions", " Echo: hello world"),
    ("/v1/embeddings", "1 embedding(s) of 1536 dimensions"),
    ("/v1/moderations", "not flagged"),
    ("/v1/images/generations", "1 image(s), 1024x1024"),
    ("/v1/videos", "video"),
]


@pytest.mark.parametrize(("url", "answer"), ENDPOINT_CASES)
def test_every_endpoint_shape(tmp_path: Path, url: str, answer: str) -> None:
    body: dict[str, Any] = {}
    if url == "/v1/moderations":
        body["model"] = "omni-moderation-latest"
    elif url == "/v1/images/generations":
        body["model"] = "gpt-image-1"
    elif url == "/v1/videos":
        body["model"] = "sora-2"
    req = request("r0", "hello world", url, **body)
    line = answered(req)
    assert line["response"]["status_code"] == 200
    row = parse_result_line(json.dumps(line).encode())
    assert row.outcome is Outcome.OK
    assert row.preview.startswith(answer.strip())
    assert answer_text(line["response"]["body"]).startswith(answer)
    view = describe_response(line)
    shown = view.markdown + "\n".join(view.lines)
    assert answer.strip() in shown or url == "/v1/embeddings"
    if url == "/v1/embeddings":
        assert view.lines[0].startswith("[0] 1536 dimensions: [")
        assert view.lines[0].endswith(", …]")


def test_fast_and_slow_reading_agree_on_odd_shapes() -> None:
    odd = {
        "custom_id": "r0",
        "response": {
            "status_code": 200,
            "body": {
                "choices": [{"message": {"content": [{"type": "text", "text": "parts"}]}}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
                "error": "not an object",  # the fast decoder refuses this; the slow one copes
            },
        },
        "error": None,
    }
    row = parse_result_line(json.dumps(odd).encode())
    assert (row.outcome, row.preview, row.tokens) == (Outcome.OK, "parts", 3)


def test_preview_is_cut_and_one_line_even_mid_escape() -> None:
    text = "é\n" * 300 + "\\ tail"
    line = answered(request("r0", "x"))
    line["response"]["body"]["choices"][0]["message"]["content"] = text
    row = parse_result_line(json.dumps(line).encode())
    assert isinstance(row.snippet, bytes) and len(row.snippet) < 600
    assert row.preview.startswith("é é é") and "\n" not in row.preview
    assert len(row.preview) <= 160 and row.preview.endswith("…")
    short = parse_result_line(json.dumps(answered(request("r1", "x"))).encode())
    assert short.preview == "Echo: x"


@pytest.mark.parametrize("shift", range(4))
def test_preview_of_raw_utf8_cut_mid_character(shift: int) -> None:
    text = "x" * shift + "東京データ" * 200  # 3-byte characters, not escaped
    line = answered(request("r0", "x"))
    line["response"]["body"]["choices"][0]["message"]["content"] = text
    row = parse_result_line(json.dumps(line, ensure_ascii=False).encode())
    assert row.preview.startswith("x" * shift + "東京データ") and row.preview.endswith("…")


def test_search_finds_requests_and_answers(tmp_path: Path) -> None:
    reqs = [request("r0", "apples"), request("r1", "Pears café"), request("r2", "plums")]
    outs = [answered(r) for r in reqs[:2]]
    index = ResultIndex([build(tmp_path, reqs, outs)]).build_all()
    assert {row.custom_id for row in search(index, "PEARS")} == {"r1"}
    assert {row.custom_id for row in search(index, "café")} == {"r1"}  # JSON escapes it
    assert {row.custom_id for row in search(index, "plums")} == {"r2"}  # a missing request
    assert {row.custom_id for row in search(index, "r0")} == {"r0"}
    assert search(index, "nowhere-to-be-found") == set()
    assert len(search(index, "")) == 3


def test_export_csv_and_jsonl(tmp_path: Path) -> None:
    reqs = [request("r0", 'a, "quoted"\nline'), request("r1", "b [fail:500]"), request("r2", "c")]
    index = ResultIndex([build(tmp_path, reqs, [answered(reqs[0])], [answered(reqs[1])])])
    index.build_all()
    out = tmp_path / "x.csv"
    assert export(index, out, ["body.model", "body.messages.0.role"]) == 3
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert [r["outcome"] for r in rows] == ["ok", "http_error", "missing"]
    assert rows[0]["answer"] == 'Echo: a, "quoted" line'
    assert rows[0]["request.body.model"] == "gpt-4o-mini"
    assert rows[0]["request.body.messages.0.role"] == "user"
    assert rows[1]["status_code"] == "500" and rows[1]["error_message"].startswith("The server")
    assert rows[2]["answer"] == "" and rows[2]["batch_id"] == ""
    lines = (
        [json.loads(x) for x in (tmp_path / "x.jsonl").open()]
        if export(index, tmp_path / "x.jsonl", ["body"])
        else []
    )
    assert lines[0]["request.body"]["model"] == "gpt-4o-mini"
    assert lines[0]["total_tokens"] == index.rows[0].tokens
    assert lines[2]["status_code"] is None
    assert export_format("A.JSONL") == "jsonl"
    with pytest.raises(ValueError, match=r"\.csv or \.jsonl"):
        export_format("x.txt")


def test_export_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reqs = [request("r0", "a")]
    index = ResultIndex([build(tmp_path, reqs, [answered(reqs[0])])]).build_all()
    out = tmp_path / "keep.csv"
    out.write_text("old")

    def broken(*args: Any, **kw: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr("tui.core.results.exporting.describe_result", broken)
    with pytest.raises(OSError):
        export(index, out)
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".keep")] == []


def test_csv_export_defuses_formulas_and_jsonl_keeps_text(tmp_path: Path) -> None:
    ids = ["=1+1", "+cmd", "-", "@SUM(A1)", "\tx", "\rx", "safe", "a=b"]
    reqs = [request(custom_id, '=HYPERLINK("http://evil","x")') for custom_id in ids]
    index = ResultIndex([build(tmp_path, reqs, [answered(r) for r in reqs])]).build_all()
    out = tmp_path / "x.csv"
    export(index, out, ["body.messages.0.content"])
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    expected = ["'=1+1", "'+cmd", "'-", "'@SUM(A1)", "'\tx", "'\rx", "safe", "a=b"]
    assert sorted(r["custom_id"] for r in rows) == sorted(expected)
    assert {r["request.body.messages.0.content"] for r in rows} == {
        '\'=HYPERLINK("http://evil","x")'
    }
    assert {r["total_tokens"] for r in rows} == {str(index.rows[0].tokens)}
    export(index, tmp_path / "x.jsonl", ["body.messages.0.content"])
    lines = [json.loads(x) for x in (tmp_path / "x.jsonl").open()]
    assert sorted(x["custom_id"] for x in lines) == sorted(ids)
    assert lines[0]["request.body.messages.0.content"] == '=HYPERLINK("http://evil","x")'


def test_retry_file_has_failed_expired_and_missing_lines_byte_for_byte(tmp_path: Path) -> None:
    reqs = [request(f"r{i}", f"q {i}" + (" [fail:500]" if i == 1 else "")) for i in range(5)]
    raw_inputs = [json.dumps(r, separators=(",", ":")) for r in reqs]  # compact, kept as is
    outs = [answered(reqs[0]), answered(reqs[4])]
    errs = [answered(reqs[1]), expired("r2")]
    attempt = build(tmp_path, raw_inputs, outs, errs)
    index = ResultIndex([attempt]).build_all()
    planned = write_retry_file(index, tmp_path / "retry.jsonl")
    assert planned.count == 3 and planned.custom_ids == ("r1", "r2", "r3")
    assert planned.path.read_text().splitlines() == [raw_inputs[1], raw_inputs[2], raw_inputs[3]]


def test_retry_merges_latest_outcome_per_custom_id(tmp_path: Path) -> None:
    reqs = [request(f"r{i}", f"q {i}") for i in range(4)]
    first = build(tmp_path, reqs, [answered(reqs[0])], [expired("r1"), expired("r2")])
    retry_out = [answered(reqs[1]), answered(reqs[3])]
    retry = build(tmp_path, reqs[1:], retry_out, [expired("r2")], name="retry", attempt=1)
    index = ResultIndex([first, retry]).build_all()
    assert by_id(index) == {
        "r0": Outcome.OK,
        "r1": Outcome.OK,
        "r2": Outcome.NOT_RUN_EXPIRED,
        "r3": Outcome.OK,
    }
    assert [row.attempt for row in index.rows] == [0, 1, 1, 1]
    assert [row.input_line for row in index.rows] == [1, 2, 3, 4]
    with index.reader() as reader:
        assert reader.result(index.rows[1])["custom_id"] == "r1"
        assert reader.request(index.rows[1])["custom_id"] == "r1"
    planned = write_retry_file(index, tmp_path / "again.jsonl")
    assert planned.custom_ids == ("r2",)


def test_nothing_to_retry_and_no_input(tmp_path: Path) -> None:
    reqs = [request("r0", "a")]
    index = ResultIndex([build(tmp_path, reqs, [answered(reqs[0])])]).build_all()
    with pytest.raises(NoResultsError, match="nothing to retry"):
        write_retry_file(index, tmp_path / "r.jsonl")
    alone = ResultIndex([build(tmp_path, None, [expired("r0")], name="n")]).build_all()
    with pytest.raises(NoResultsError, match="input file is not available"):
        write_retry_file(alone, tmp_path / "r.jsonl")


def test_describe_request_shapes() -> None:
    chat = describe_request(request("r0", "hi", temperature=0.2))
    assert chat[0] == ("user", "hi")
    assert chat[-1][0] == "parameters" and '"temperature": 0.2' in chat[-1][1]
    responses = describe_request(
        request("r1", "", "/v1/responses", input=[{"role": "user", "content": "yo"}])
    )
    assert responses[0] == ("user", "yo")
    assert describe_request(None) == [("request", "(not available)")]


def test_error_views_show_code_and_message() -> None:
    failed = answered(request("r0", "x [fail:429]"))
    view = describe_response(failed)
    assert view.title == "HTTP 429: rate_limit_exceeded"
    assert "code: rate_limit_exceeded" in view.lines
    gone = describe_response(expired("r1"))
    assert gone.title == "not run (expired)"
    assert gone.lines[1].startswith("message: This request")


def test_results_core_imports_asyncio_only_when_downloading() -> None:
    # asyncio pulls in ssl, subprocess and logging (~25 ms): an index-only process
    # (a headless export of local files, bench/results.py) does not pay for it.
    code = "import sys, tui.core.results; print('asyncio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
