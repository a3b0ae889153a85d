"""Composing batch files: rows, templates, custom_id rules, atomic writes, bodies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tui.core.bodies import DEFAULT_MODELS, BodyError, BodyForm, build_body, parse_json_object
from tui.core.compose import (
    ComposeError,
    RequestTemplate,
    Template,
    build_file,
    columns_of,
    detect_kind,
    iter_requests,
    preview,
    read_rows,
    write_requests,
)
from tui.core.models import BATCH_ENDPOINTS
from tui.core.pricing import DEFAULT_PRICES
from tui.core.requests import validate

CHAT = "/v1/chat/completions"


def chat_template(user: str = "Classify: {review}", custom_id: str = "row-{index}") -> Any:
    body = {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": user},
        ],
        "max_completion_tokens": 20,
    }
    return RequestTemplate(CHAT, body, custom_id)


ROWS = [{"id": "a", "review": "great"}, {"id": "b", "review": "awful"}]


# --- templates ---------------------------------------------------------------------


def test_template_fills_columns_and_keeps_literal_braces() -> None:
    template = Template("Rate {product} ({stars}/5) as {{json}}")
    assert template.fields == ("product", "stars")
    assert template.render({"product": "pen", "stars": "4"}, 1) == "Rate pen (4/5) as {json}"


def test_template_with_unusual_column_names_and_index() -> None:
    template = Template("{user.name} #{index:03d} {first name}")
    row = {"user.name": "ann", "first name": "Ann"}
    assert template.render(row, 7) == "ann #007 Ann"


def test_a_column_named_index_wins() -> None:
    assert Template("{index}").render({"index": "X"}, 3) == "X"


def test_missing_column_names_the_row_and_column() -> None:
    template = Template("Hi {name}")
    with pytest.raises(ComposeError) as info:
        template.render({"nmae": "x"}, 12)
    assert info.value.row == 12 and info.value.column == "name"
    assert "row 12" in str(info.value) and "'name'" in str(info.value)
    assert "nmae" in str(info.value)  # the columns it does have


@pytest.mark.parametrize("bad", ["{}", "{a!r}", "open {", "close }", "{a:{b}}"])
def test_bad_templates_are_refused(bad: str) -> None:
    with pytest.raises(ComposeError):
        Template(bad)


def test_static_body_strings_are_unescaped() -> None:
    template = RequestTemplate(CHAT, {"model": "m", "messages": [{"content": "a {{b}}"}]})
    _, body = template.render({}, 1)
    assert body["messages"][0]["content"] == "a {b}"


def test_template_fields_and_missing_columns() -> None:
    template = chat_template(custom_id="{id}")
    assert template.fields == ("review", "id")
    assert template.missing_columns(["id"]) == ["review"]
    assert template.missing_columns(["id", "review"]) == []


@pytest.mark.parametrize(
    ("endpoint", "body", "message"),
    [
        ("/v1/nope", {"model": "m"}, "not a batch endpoint"),
        (CHAT, {"messages": []}, "needs a model"),
        (CHAT, {"model": " "}, "needs a model"),
    ],
)
def test_request_template_checks(endpoint: str, body: dict[str, Any], message: str) -> None:
    with pytest.raises(ComposeError, match=message):
        RequestTemplate(endpoint, body)


def test_empty_id_pattern_is_refused() -> None:
    with pytest.raises(ComposeError, match="custom_id pattern is empty"):
        RequestTemplate(CHAT, {"model": "m"}, custom_id=" ")


# --- custom_id ----------------------------------------------------------------------


def test_custom_id_from_pattern_and_from_column() -> None:
    by_pattern = [cid for cid, _ in iter_requests(ROWS, chat_template())]
    assert by_pattern == ["row-1", "row-2"]
    by_column = [cid for cid, _ in iter_requests(ROWS, chat_template(custom_id="{id}"))]
    assert by_column == ["a", "b"]
    mixed = chat_template(custom_id="{id}-{index:04d}")
    assert [cid for cid, _ in iter_requests(ROWS, mixed)] == ["a-0001", "b-0002"]


def test_duplicate_custom_id_is_refused_naming_both_rows() -> None:
    rows = [{"id": "x", "review": "1"}, {"id": "y", "review": "2"}, {"id": "x", "review": "3"}]
    with pytest.raises(ComposeError) as info:
        list(iter_requests(rows, chat_template(custom_id="{id}")))
    assert info.value.row == 3
    assert "already used by row 1" in str(info.value)


def test_empty_custom_id_is_refused() -> None:
    with pytest.raises(ComposeError, match=r"row 2: .*empty id"):
        list(
            iter_requests([{"id": "a"}, {"id": ""}], RequestTemplate(CHAT, {"model": "m"}, "{id}"))
        )


def test_preview_shows_lines_as_sent() -> None:
    lines = preview(iter(ROWS * 5), chat_template(), count=2)
    assert len(lines) == 2
    assert lines[0] == {
        "custom_id": "row-1",
        "method": "POST",
        "url": CHAT,
        "body": {
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Classify: great"},
            ],
            "max_completion_tokens": 20,
        },
    }


# --- rows ---------------------------------------------------------------------------


def test_detect_kind() -> None:
    assert [detect_kind(n) for n in ("a.csv", "b.TSV", "c.jsonl", "d.ndjson", "e.txt", "f")] == [
        "csv",
        "tsv",
        "jsonl",
        "jsonl",
        "text",
        "text",
    ]


def test_csv_rows_with_bom_quotes_and_newlines(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_bytes('\ufeffid,review\r\n1,"multi\nline, with comma"\r\n\r\n2,ok\r\n'.encode())
    assert list(read_rows(path)) == [
        {"id": "1", "review": "multi\nline, with comma"},
        {"id": "2", "review": "ok"},
    ]
    assert columns_of(path) == ["id", "review"]


def test_tsv_rows(tmp_path: Path) -> None:
    path = tmp_path / "rows.tsv"
    path.write_text("a\tb\n1\t2\n")
    assert list(read_rows(path)) == [{"a": "1", "b": "2"}]


def test_ragged_csv_row_is_an_error_naming_the_row(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("a,b\n1,2\n3\n")
    with pytest.raises(ComposeError, match="row 2: has 1 fields, the header has 2"):
        list(read_rows(path))


def test_a_header_field_over_128_kib_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bighead.csv"
    path.write_text("a" * 200_000 + ",id\nx,1\n")
    assert columns_of(path) == ["a" * 200_000, "id"]
    assert list(read_rows(path)) == [{"a" * 200_000: "x", "id": "1"}]


def test_a_field_over_the_limit_is_a_compose_error_naming_file_and_row(tmp_path: Path) -> None:
    import csv

    path = tmp_path / "rows.csv"
    path.write_text("a,b\n1,2\n3,toolong\n")
    previous = csv.field_size_limit(5)
    try:
        with pytest.raises(ComposeError, match=r"row 2: not readable CSV \(.*rows.csv, line 3\)"):
            list(read_rows(path))
        path.write_text("a,toolong\n1,2\n")
        with pytest.raises(ComposeError, match=r"^the header is not readable CSV .*rows.csv"):
            columns_of(path)
    finally:
        csv.field_size_limit(previous)


def test_duplicate_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("a,b,a\n1,2,3\n")
    with pytest.raises(ComposeError, match="column twice: a"):
        list(read_rows(path))


def test_jsonl_rows_stringify_values(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"q": "hi", "n": 3, "tags": ["x"], "none": null}\n\n{"q": "yo"}\n')
    assert list(read_rows(path)) == [
        {"q": "hi", "n": "3", "tags": '["x"]', "none": ""},
        {"q": "yo"},
    ]
    assert columns_of(path) == ["q", "n", "tags", "none"]


@pytest.mark.parametrize(("text", "message"), [("[1]\n", "not a JSON object"), ("{\n", "JSON")])
def test_bad_jsonl_rows(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"q": 1}\n' + text)
    with pytest.raises(ComposeError, match=f"row 2: .*{message}"):
        list(read_rows(path))


def test_text_rows_skip_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "rows.txt"
    path.write_text("first\n\n  \nsecond\r\n")
    assert list(read_rows(path)) == [{"text": "first"}, {"text": "second"}]
    assert columns_of(path) == ["text"]


def test_missing_column_in_a_later_jsonl_row(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"review": "a"}\n{"review": "b"}\n{"other": "c"}\n')
    with pytest.raises(ComposeError, match="row 3: no column 'review'"):
        build_file(read_rows(path), chat_template(), tmp_path / "out.jsonl")


# --- files --------------------------------------------------------------------------


def test_build_file_writes_a_valid_private_file_and_estimates(tmp_path: Path) -> None:
    out = tmp_path / "out" / "batch.jsonl"
    result = build_file(ROWS, chat_template(custom_id="{id}"), out, prices=DEFAULT_PRICES)
    assert result.requests == 2 and result.report.ok and not result.needs_split
    assert out.stat().st_mode & 0o777 == 0o600
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["custom_id"] for line in lines] == ["a", "b"]
    assert list(lines[0]) == ["custom_id", "method", "url", "body"]
    assert result.estimate is not None
    assert result.estimate.requests == 2 and result.estimate.output_tokens_max == 40
    assert result.estimate.cost is not None


def test_a_failed_build_leaves_the_old_file_alone(tmp_path: Path) -> None:
    out = tmp_path / "batch.jsonl"
    out.write_text("old\n")
    rows = [*ROWS, {"id": "c"}]  # no review column
    with pytest.raises(ComposeError, match="row 3"):
        build_file(rows, chat_template(), out)
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["batch.jsonl"]


def test_write_requests_refuses_duplicates(tmp_path: Path) -> None:
    requests = [("a", {"model": "m"}), ("b", {"model": "m"}), ("a", {"model": "m"})]
    with pytest.raises(ComposeError, match="row 3: custom_id 'a' is already used by request 1"):
        write_requests(tmp_path / "x.jsonl", CHAT, requests)
    assert not (tmp_path / "x.jsonl").exists()


def test_write_requests_one_by_one(tmp_path: Path) -> None:
    path = tmp_path / "manual.jsonl"
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    assert write_requests(path, CHAT, [("one", body), ("two", body)]) == 2
    assert validate(path, endpoint=CHAT).ok


def test_large_build_is_valid(tmp_path: Path) -> None:
    rows = ({"review": f"review {i} é 世界"} for i in range(3000))
    result = build_file(rows, chat_template(), tmp_path / "big.jsonl")
    assert result.requests == 3000 and result.report.ok
    assert result.report.request_count == 3000


# --- bodies -------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", BATCH_ENDPOINTS)
def test_every_endpoint_body_composes_into_a_valid_file(endpoint: str, tmp_path: Path) -> None:
    form = BodyForm(model=DEFAULT_MODELS[endpoint], prompt="About {topic}", system="Be brief.")
    template = RequestTemplate(endpoint, build_body(endpoint, form))
    result = build_file([{"topic": "cats"}, {"topic": "dogs"}], template, tmp_path / "b.jsonl")
    assert result.report.ok, result.report.problems
    first = json.loads((tmp_path / "b.jsonl").read_text().splitlines()[0])
    assert "About cats" in json.dumps(first["body"])


def test_chat_body_with_schema_and_limits() -> None:
    schema = {"type": "object", "properties": {"label": {"type": "string"}}}
    form = BodyForm("gpt-4o-mini", "Q", "S", temperature=0.2, max_tokens=50, schema=schema)
    body = build_body(CHAT, form)
    assert body["messages"] == [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "Q"},
    ]
    assert body["temperature"] == 0.2 and body["max_completion_tokens"] == 50
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == schema


def test_responses_body_with_json_object_and_extra() -> None:
    form = BodyForm("gpt-4.1", "Q", "S", max_tokens=9, schema="json_object", extra={"seed": 1})
    body = build_body("/v1/responses", form)
    assert body == {
        "model": "gpt-4.1",
        "input": "Q",
        "instructions": "S",
        "max_output_tokens": 9,
        "text": {"format": {"type": "json_object"}},
        "seed": 1,
    }


@pytest.mark.parametrize(
    ("form", "message"),
    [
        (BodyForm(""), "model"),
        (BodyForm("m", temperature=3), "temperature"),
        (BodyForm("m", max_tokens=0), "max tokens"),
    ],
)
def test_body_form_checks(form: BodyForm, message: str) -> None:
    with pytest.raises(BodyError, match=message):
        build_body(CHAT, form)


def test_parse_json_object() -> None:
    assert parse_json_object('{"a": 1}', "extra") == {"a": 1}
    with pytest.raises(BodyError, match="extra: not valid JSON"):
        parse_json_object("{", "extra")
    with pytest.raises(BodyError, match=r"extra: not valid JSON.*nested deeper"):
        parse_json_object("[" * 100_000, "extra")
    with pytest.raises(BodyError, match="schema: must be a JSON object"):
        parse_json_object("[]", "schema")
