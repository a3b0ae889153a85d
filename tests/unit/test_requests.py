"""Validation of batch input files: every rule, with its line number and code."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.core import request_scan as scan
from tui.core import requests as req
from tui.core.requests import (
    Code,
    InvalidRequestFileError,
    Limits,
    Problem,
    UnreadableFileError,
    ValidationReport,
    count_embedding_inputs,
    validate,
)

CHAT = "/v1/chat/completions"
EMBED = "/v1/embeddings"


def line(custom_id: Any = "r1", **overrides: Any) -> dict[str, Any]:
    """A valid chat request, with fields replaced (or removed, with value ...)."""
    overrides = {"custom_id": custom_id, **overrides}
    obj: dict[str, Any] = {
        "custom_id": None,
        "method": "POST",
        "url": CHAT,
        "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
    }
    for key, value in overrides.items():
        if value is ...:
            del obj[key]
        else:
            obj[key] = value
    return obj


def embed(custom_id: str, value: Any, model: str = "text-embedding-3-small") -> dict[str, Any]:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": EMBED,
        "body": {"model": model, "input": value},
    }


def write(tmp_path: Path, *lines: dict[str, Any] | str | bytes, end: bytes = b"\n") -> Path:
    """Write lines (objects as JSON, str/bytes as they are), each followed by ``end``."""
    out = bytearray()
    for item in lines:
        if isinstance(item, dict):
            out += json.dumps(item).encode()
        elif isinstance(item, str):
            out += item.encode()
        else:
            out += item
        out += end
    path = tmp_path / "in.jsonl"
    path.write_bytes(bytes(out))
    return path


def codes(report: ValidationReport) -> list[tuple[int | None, str, str | None]]:
    return [(p.line, p.code, p.field) for p in report.problems]


# -- a valid file -------------------------------------------------------------


def test_valid_file_report(tmp_path: Path) -> None:
    path = write(tmp_path, line("a"), line("b"), line("c"))
    report = validate(path)
    assert report.ok, report.problems
    assert report.problems == [] and report.problem_count == 0
    assert report.endpoint == CHAT
    assert report.model == "gpt-4o-mini"
    assert report.line_count == report.request_count == 3
    assert report.bytes == path.stat().st_size
    assert report.embedding_inputs == 0
    assert report.path == path
    data = path.read_bytes()
    for n in (1, 2, 3):
        start, end = report.line_span(n)
        assert json.loads(data[start:end])["custom_id"] == "abc"[n - 1]
    assert report.offsets[-1] == len(data)
    with pytest.raises(IndexError):
        report.line_span(4)
    report.raise_for_problems()
    assert "ok" in report.summary()


@pytest.mark.parametrize("endpoint", ["/v1/responses", "/v1/completions", "/v1/moderations"])
def test_other_endpoints(tmp_path: Path, endpoint: str) -> None:
    path = write(tmp_path, line("a", url=endpoint), line("b", url=endpoint))
    report = validate(path, endpoint=endpoint)
    assert report.ok and report.endpoint == endpoint


# -- one test per rule ----------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ('{"custom_id": "x", ', (2, Code.INVALID_JSON_LINE, None)),
        ("not json", (2, Code.INVALID_JSON_LINE, None)),
        ('{"custom_id": "x"} trailing', (2, Code.INVALID_JSON_LINE, None)),
        ("[1, 2]", (2, Code.INVALID_JSON_LINE, None)),
        ("  [1, 2", (2, Code.INVALID_JSON_LINE, None)),
        ('"a string"', (2, Code.INVALID_JSON_LINE, None)),
        ("null", (2, Code.INVALID_JSON_LINE, None)),
        (json.dumps(line("x"))[:-1] + ', "t": NaN}', (2, Code.INVALID_JSON_LINE, None)),
        (json.dumps(line("x"))[:-1] + ', "t": Infinity}', (2, Code.INVALID_JSON_LINE, None)),
        (line(custom_id=...), (2, Code.MISSING_CUSTOM_ID, "custom_id")),
        (line(custom_id=7), (2, Code.INVALID_CUSTOM_ID, "custom_id")),
        (line(custom_id=None), (2, Code.INVALID_CUSTOM_ID, "custom_id")),
        (line("x", method=...), (2, Code.MISSING_METHOD, "method")),
        (line("x", method="GET"), (2, Code.INVALID_METHOD, "method")),
        (line("x", method="post"), (2, Code.INVALID_METHOD, "method")),
        (line("x", method=1), (2, Code.INVALID_METHOD, "method")),
        (line("x", url=...), (2, Code.MISSING_URL, "url")),
        (line("x", url="/v1/nope"), (2, Code.INVALID_URL, "url")),
        (line("x", url=["/v1/chat/completions"]), (2, Code.INVALID_URL, "url")),
        (line("x", url=EMBED), (2, Code.URL_MISMATCH, "url")),
        (line("x", body=...), (2, Code.MISSING_BODY, "body")),
        (line("x", body="text"), (2, Code.INVALID_BODY, "body")),
        (line("x", body=[]), (2, Code.INVALID_BODY, "body")),
        (line("x", body={"messages": []}), (2, Code.MISSING_MODEL, "body.model")),
        (line("x", body={"model": 4}), (2, Code.INVALID_MODEL, "body.model")),
        (line("x", body={"model": None}), (2, Code.INVALID_MODEL, "body.model")),
        (line("x", body={"model": "gpt-4o"}), (2, Code.MODEL_MISMATCH, "body.model")),
        (line("r1"), (2, Code.DUPLICATE_CUSTOM_ID, "custom_id")),
        ("", (2, Code.BLANK_LINE, None)),
        (" \t ", (2, Code.BLANK_LINE, None)),
        ("\r", (2, Code.BLANK_LINE, None)),
    ],
)
def test_each_rule(tmp_path: Path, bad: dict[str, Any] | str, expected: tuple[Any, ...]) -> None:
    path = write(tmp_path, line("r1"), bad, line("r3"))
    report = validate(path)
    assert not report.ok
    assert codes(report) == [expected]
    problem = report.problems[0]
    assert problem.message
    assert isinstance(problem.code, str) and type(problem.code) is str
    assert report.problem_counts == {expected[1]: 1}
    assert report.line_count == 3


def test_several_problems_on_one_line(tmp_path: Path) -> None:
    bad = {"custom_id": 1, "url": "/v1/x", "body": []}
    report = validate(write(tmp_path, line("a"), bad))
    assert sorted(codes(report), key=str) == sorted(
        [
            (2, Code.INVALID_CUSTOM_ID, "custom_id"),
            (2, Code.MISSING_METHOD, "method"),
            (2, Code.INVALID_URL, "url"),
            (2, Code.INVALID_BODY, "body"),
        ],
        key=str,
    )
    assert report.problem_count == 4


def test_duplicate_message_names_first_line(tmp_path: Path) -> None:
    report = validate(write(tmp_path, line("a"), line("b"), line("a"), line("a")))
    assert codes(report) == [
        (3, Code.DUPLICATE_CUSTOM_ID, "custom_id"),
        (4, Code.DUPLICATE_CUSTOM_ID, "custom_id"),
    ]
    assert all("line 1" in p.message for p in report.problems)


def test_duplicates_far_apart(tmp_path: Path) -> None:
    lines = [line(f"id-{i}") for i in range(5000)] + [line("id-0"), line("id-2500")]
    report = validate(write(tmp_path, *lines))
    assert codes(report) == [
        (5001, Code.DUPLICATE_CUSTOM_ID, "custom_id"),
        (5002, Code.DUPLICATE_CUSTOM_ID, "custom_id"),
    ]
    assert "line 1 " in report.problems[0].message + " "
    assert "line 2501" in report.problems[1].message


def test_hash_collisions_are_verified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With every id hashing alike, only real duplicates are reported."""
    monkeypatch.setattr(scan, "_id_key", lambda custom_id: 0)
    path = write(tmp_path, line("a"), line("b"), line("c"), line("b"), line("a"), line("c"))
    report = validate(path)
    assert codes(report) == [(n, Code.DUPLICATE_CUSTOM_ID, "custom_id") for n in (4, 5, 6)]
    assert ["line 2" in p.message for p in report.problems] == [True, False, False]
    assert "line 1" in report.problems[1].message
    assert "line 3" in report.problems[2].message


def test_mismatch_is_against_first_valid_value(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        line("a", url="/v1/bogus"),
        line("b", body={"model": 3}),
        line("c"),
        line("d", url=EMBED, body={"model": "other", "input": "x"}),
    )
    report = validate(path)
    assert codes(report) == [
        (1, Code.INVALID_URL, "url"),
        (2, Code.INVALID_MODEL, "body.model"),
        (4, Code.URL_MISMATCH, "url"),
        (4, Code.MODEL_MISMATCH, "body.model"),
    ]
    assert report.endpoint == CHAT and report.model == "gpt-4o-mini"


def test_expected_endpoint(tmp_path: Path) -> None:
    path = write(tmp_path, line("a"), line("b"))
    report = validate(path, endpoint=EMBED)
    assert codes(report) == [(1, Code.URL_MISMATCH, "url"), (2, Code.URL_MISMATCH, "url")]
    assert report.endpoint == EMBED
    assert "batch's endpoint" in report.problems[0].message
    with pytest.raises(ValueError, match="not a batch endpoint"):
        validate(path, endpoint="/v1/nope")


# -- limits ---------------------------------------------------------------------


def test_too_many_tasks(tmp_path: Path) -> None:
    path = write(tmp_path, *(line(f"r{i}") for i in range(5)))
    assert validate(path, limits=Limits(max_requests=5)).ok
    report = validate(path, limits=Limits(max_requests=3))
    assert codes(report) == [(4, Code.TOO_MANY_TASKS, None)]


def test_blank_lines_do_not_count_as_tasks(tmp_path: Path) -> None:
    path = write(tmp_path, line("a"), "", line("b"))
    report = validate(path, limits=Limits(max_requests=2))
    assert codes(report) == [(2, Code.BLANK_LINE, None)]
    assert report.request_count == 2 and report.line_count == 3


def test_file_too_large_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, *(line(f"r{i}") for i in range(4)))
    size = path.stat().st_size
    assert validate(path, limits=Limits(max_bytes=size)).ok
    report = validate(path, limits=Limits(max_bytes=size - 1))
    assert codes(report) == [(4, Code.FILE_TOO_LARGE, None)]
    first_end = validate(path).offsets[1]
    report = validate(path, limits=Limits(max_bytes=first_end))
    assert codes(report) == [(2, Code.FILE_TOO_LARGE, None)]
    assert str(size) in report.problems[0].message


def test_default_limits_are_the_apis() -> None:
    assert req.MAX_REQUESTS == 50_000
    assert req.MAX_FILE_BYTES == 200_000_000
    assert req.MAX_EMBEDDING_INPUTS == 50_000
    assert Limits() == req.DEFAULT_LIMITS
    with pytest.raises(ValueError):
        Limits(max_requests=0)


@pytest.mark.parametrize(
    ("value", "count"),
    [
        ("text", 1),
        (["a", "b", "c"], 3),
        ([1, 2, 3], 1),
        ([[1, 2], [3]], 2),
        ([], 0),
        (None, 0),
        (5, 0),
        ([True, False], 2),
    ],
)
def test_count_embedding_inputs(value: object, count: int) -> None:
    assert count_embedding_inputs(value) == count


def test_embedding_inputs_counted_and_limited(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        embed("a", "one"),
        embed("b", ["two", "three"]),
        embed("c", [101, 102, 103]),
        embed("d", [[1], [2], [3]]),
    )
    report = validate(path)
    assert report.ok and report.endpoint == EMBED
    assert report.embedding_inputs == 7
    assert validate(path, limits=Limits(max_embedding_inputs=7)).ok
    report = validate(path, limits=Limits(max_embedding_inputs=3))
    assert codes(report) == [(3, Code.TOO_MANY_EMBEDDING_INPUTS, "body.input")]


def test_embedding_inputs_only_for_embeddings(tmp_path: Path) -> None:
    body = {"model": "gpt-4o-mini", "input": ["a", "b"]}
    report = validate(write(tmp_path, line("a", url="/v1/responses", body=body)))
    assert report.ok and report.embedding_inputs == 0


def test_embedding_inputs_counted_on_slow_path(tmp_path: Path) -> None:
    """A line with another problem still counts its inputs."""
    bad = {
        "custom_id": "b",
        "method": "GET",
        "url": EMBED,
        "body": {"model": "m", "input": ["x", "y"]},
    }
    report = validate(write(tmp_path, embed("a", "x", model="m"), bad))
    assert codes(report) == [(2, Code.INVALID_METHOD, "method")]
    assert report.embedding_inputs == 3


# -- bytes and line endings -----------------------------------------------------------


def test_crlf_line_endings(tmp_path: Path) -> None:
    path = write(tmp_path, line("a"), line("b"), end=b"\r\n")
    report = validate(path)
    assert report.ok, report.problems
    assert report.line_count == 2
    data = path.read_bytes()
    start, end = report.line_span(2)
    assert data[start:end].endswith(b"\r\n") and end == len(data)


def test_crlf_blank_line(tmp_path: Path) -> None:
    report = validate(write(tmp_path, line("a"), "", line("b"), end=b"\r\n"))
    assert codes(report) == [(2, Code.BLANK_LINE, None)]


def test_no_trailing_newline(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    data = (json.dumps(line("a")) + "\n" + json.dumps(line("b"))).encode()
    path.write_bytes(data)
    report = validate(path)
    assert report.ok and report.line_count == 2 and report.bytes == len(data)
    assert report.line_span(2)[1] == len(data)


def test_trailing_blank_lines_are_reported(tmp_path: Path) -> None:
    report = validate(write(tmp_path, line("a"), "", ""))
    assert codes(report) == [(2, Code.BLANK_LINE, None), (3, Code.BLANK_LINE, None)]


def test_bom_is_an_error_but_line_one_is_still_checked(tmp_path: Path) -> None:
    bom = b"\xef\xbb\xbf"
    path = write(tmp_path, bom + json.dumps(line("a")).encode(), line("b"))
    report = validate(path)
    assert codes(report) == [(1, Code.UTF8_BOM, None)]
    assert report.request_count == 2 and report.model == "gpt-4o-mini"
    path = write(tmp_path, bom + json.dumps(line("a", method="GET")).encode(), line("a"))
    assert codes(validate(path)) == [
        (1, Code.UTF8_BOM, None),
        (1, Code.INVALID_METHOD, "method"),
        (2, Code.DUPLICATE_CUSTOM_ID, "custom_id"),
    ]


def test_bom_later_in_file_is_invalid_json(tmp_path: Path) -> None:
    path = write(tmp_path, line("a"), b"\xef\xbb\xbf" + json.dumps(line("b")).encode())
    assert codes(validate(path)) == [(2, Code.INVALID_JSON_LINE, None)]


@pytest.mark.parametrize(
    "bad",
    [
        b'{"custom_id": "\xff", "method": "POST"}',
        # Inside a field the fast decoder skips: UTF-8 is still checked.
        json.dumps(line("b")).encode().replace(b'"hi"', b'"h\xc3"'),
        json.dumps(line("b")).encode().replace(b'"hi"', b'"\xed\xa0\x80"'),  # a surrogate
    ],
)
def test_invalid_utf8(tmp_path: Path, bad: bytes) -> None:
    report = validate(write(tmp_path, line("a"), bad, line("c")))
    assert codes(report) == [(2, Code.INVALID_UTF8, None)]
    assert "of the line" in report.problems[0].message


def test_invalid_utf8_column(tmp_path: Path) -> None:
    report = validate(write(tmp_path, b'{"a": "\x80"}'))
    assert report.problems[0].message == "byte 0x80 (byte 8 of the line) is not UTF-8"


def test_non_ascii_text_is_fine(tmp_path: Path) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "東京 café ü 🚀"}]}
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(line("é-1", body=body), ensure_ascii=False) + "\n", "utf-8")
    report = validate(path)
    assert report.ok and report.model == "m"


def test_huge_line(tmp_path: Path) -> None:
    """A line longer than a read chunk is joined correctly."""
    big = "x" * (scan.CHUNK_SIZE * 2 + 123)
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": big}]}
    path = write(tmp_path, line("a"), line("b", body=body), line("c"))
    report = validate(path)
    assert report.ok and report.line_count == 3
    start, end = report.line_span(2)
    assert end - start > 2 * scan.CHUNK_SIZE
    assert report.line_span(3)[1] == path.stat().st_size


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"")
    report = validate(path)
    assert codes(report) == [(None, Code.EMPTY_FILE, None)]
    assert report.line_count == 0 and report.bytes == 0 and list(report.offsets) == [0]


def test_only_blank_lines_is_empty(tmp_path: Path) -> None:
    report = validate(write(tmp_path, "", "  ", "\t", end=b"\r\n"))
    assert codes(report) == [(None, Code.EMPTY_FILE, None)]
    assert report.problem_count == 1 and report.problem_counts == {"empty_file": 1}
    assert report.line_count == 3 and report.request_count == 0


def test_only_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\xef\xbb\xbf\n")
    assert codes(validate(path)) == [(None, Code.EMPTY_FILE, None), (1, Code.UTF8_BOM, None)]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFileError, match=r"nope\.jsonl: cannot read it") as info:
        validate(tmp_path / "nope.jsonl")
    assert isinstance(info.value, OSError)


# -- reporting ----------------------------------------------------------------------


def test_problem_cap_keeps_counting(tmp_path: Path) -> None:
    path = write(tmp_path, *(["nope"] * 30), *(line(f"r{i}") for i in range(3)))
    report = validate(path, max_problems=5, limits=Limits(max_requests=10))
    assert len(report.problems) == 6 and report.truncated
    assert report.problem_count == 31
    assert report.problem_counts == {"invalid_json_line": 30, "too_many_tasks": 1}
    # The limit problem is kept past the cap: it says why a split is needed.
    assert report.problems[-1].code == Code.TOO_MANY_TASKS
    assert [p.line for p in report.problems[:5]] == [1, 2, 3, 4, 5]


def test_problems_sorted_by_line(tmp_path: Path) -> None:
    path = write(tmp_path, line("a"), line("b"), "x")
    end_of_first = validate(path).offsets[1]
    report = validate(path, limits=Limits(max_bytes=end_of_first))
    assert codes(report) == [(2, Code.FILE_TOO_LARGE, None), (3, Code.INVALID_JSON_LINE, None)]


def test_line_too_large_is_not_read(tmp_path: Path) -> None:
    """A line longer than the file limit is reported from its size alone."""
    big = "[" + "1," * 3000 + "1]"
    path = write(tmp_path, line("a"), big, line("b"))
    report = validate(path, limits=Limits(max_bytes=1000))
    assert codes(report) == [
        (2, Code.LINE_TOO_LARGE, None),
        (2, Code.FILE_TOO_LARGE, None),
    ]
    assert report.request_count == 3
    assert report.line_span(3)[1] == path.stat().st_size
    assert str(len(big)) in report.problems[0].message


def test_problem_str_and_error_message(tmp_path: Path) -> None:
    problem = Problem("missing_model", "missing body.model", 4, "body.model")
    assert str(problem) == "line 4, body.model: missing body.model [missing_model]"
    assert str(Problem("empty_file", "no requests")) == "file: no requests [empty_file]"
    item = problem.as_batch_error()
    assert (item.code, item.message, item.param, item.line) == (
        "missing_model",
        "missing body.model",
        "body.model",
        4,
    )
    path = write(tmp_path, *(["{"] * 12))
    report = validate(path)
    with pytest.raises(InvalidRequestFileError) as info:
        report.raise_for_problems()
    text = str(info.value)
    assert str(path) in text and "12 problem(s)" in text
    assert "line 1: not valid JSON" in text and "[invalid_json_line]" in text
    assert "... and 2 more" in text
    assert info.value.report is report
    assert isinstance(info.value, ValueError)
    assert "12 problems" in report.summary()


def test_invalid_json_message_has_column(tmp_path: Path) -> None:
    report = validate(write(tmp_path, '{"custom_id": "é",, }'))
    assert report.problems[0].message.endswith("at column 19")
    path = write(tmp_path, b'\xef\xbb\xbf{"custom_id": "a",, }')
    assert validate(path).problems[1].message.endswith("at column 20")  # the BOM is one


# -- the line reader --------------------------------------------------------------------


@settings(derandomize=True, deadline=None, max_examples=300)
@given(
    data=st.binary(max_size=200).map(lambda b: b.replace(b"x", b"\n")),
    size=st.integers(1, 9),
    max_line=st.integers(0, 30),
)
def test_iter_blocks_matches_split(data: bytes, size: int, max_line: int) -> None:
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    expected = [b if len(b) <= max_line else len(b) for b in lines]
    found: list[bytes | int] = []
    for block in scan.iter_blocks(io.BytesIO(data), size, max_line):
        if isinstance(block, int):
            found.append(block)
            continue
        buf, start, stop = block
        assert 0 <= start <= stop <= len(buf)
        found.extend(buf[start:stop].removesuffix(b"\n").split(b"\n") if start < stop else [])
    assert found == expected


def test_array_line_message(tmp_path: Path) -> None:
    report = validate(write(tmp_path, "[1, 2]"))
    assert report.problems[0].message == "not a JSON object: the line starts with '['"


@settings(
    derandomize=True,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    ids=st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=12),
    crlf=st.booleans(),
)
def test_duplicates_match_a_reference(tmp_path: Path, ids: list[str], crlf: bool) -> None:
    path = write(tmp_path, *(line(i) for i in ids), end=b"\r\n" if crlf else b"\n")
    report = validate(path)
    first: dict[str, int] = {}
    expected = []
    for n, custom_id in enumerate(ids, start=1):
        if custom_id in first:
            expected.append((n, Code.DUPLICATE_CUSTOM_ID, "custom_id"))
        first.setdefault(custom_id, n)
    assert codes(report) == expected


# -- the fast path agrees with the slow one -------------------------------------------

JSON_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=3), st.just([]), st.just({})
)


def maybe(value: st.SearchStrategy[Any], absent: bool = True) -> st.SearchStrategy[Any]:
    """A field's value: usually the given one, sometimes another type, maybe absent (...)."""
    return st.one_of(value, value, JSON_VALUES, *([st.just(...)] if absent else []))


@st.composite
def request_objects(draw: st.DrawFn) -> dict[str, Any]:
    url = st.sampled_from([CHAT, EMBED, "/v1/nope"])
    inputs = st.one_of(st.text(max_size=3), st.lists(st.text(max_size=2), max_size=3))
    body = st.fixed_dictionaries(
        {}, optional={"model": maybe(st.sampled_from(["m1", "m2"]), False), "input": inputs}
    )
    fields = {
        "custom_id": maybe(st.sampled_from(["a", "b", "c"])),
        "method": maybe(st.sampled_from(["POST", "GET"])),
        "url": maybe(url),
        "body": maybe(body),
    }
    obj = {name: draw(value) for name, value in fields.items()}
    return {k: v for k, v in obj.items() if v is not ...}


class _AlwaysFails:
    def decode(self, raw: bytes) -> Any:
        raise msgspec.DecodeError("forced")


@settings(
    derandomize=True,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(objs=st.lists(request_objects(), min_size=1, max_size=6))
def test_fast_path_matches_slow_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, objs: list[dict[str, Any]]
) -> None:
    path = write(tmp_path, *objs)
    fast = validate(path)
    with monkeypatch.context() as patch:
        patch.setattr(scan, "_DECODER", _AlwaysFails())
        slow = validate(path)
    assert sorted(fast.problems, key=str) == sorted(slow.problems, key=str)
    assert (fast.endpoint, fast.model, fast.embedding_inputs) == (
        slow.endpoint,
        slow.model,
        slow.embedding_inputs,
    )
