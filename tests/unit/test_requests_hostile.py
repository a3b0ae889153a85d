"""Hostile lines: each one the API would refuse is a line-numbered problem, never a crash.

Before the one bounded parse, deep nesting raised RecursionError out of ``validate``,
and ``1e999``, a 5,000-digit integer, a lone surrogate in ``custom_id``, unknown
fields, an empty or 600-character ``custom_id`` and an empty model all passed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tui.core import request_scan as scan
from tui.core.jsonsafe import MAX_DEPTH
from tui.core.requests import validate

GOOD: dict[str, Any] = {
    "custom_id": "r1",
    "method": "POST",
    "url": "/v1/chat/completions",
    "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
}


def request(custom_id: str = "r2", **changes: Any) -> bytes:
    return json.dumps({**GOOD, "custom_id": custom_id, **changes}).encode()


def with_body_field(raw: str) -> bytes:
    """Line 2 with ``"x": <raw>`` added to its body, byte for byte."""
    return request()[:-2] + b', "x": ' + raw.encode("utf-8", "surrogatepass") + b"}}"


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


HOSTILE: dict[str, tuple[bytes, str, str | None, str]] = {
    # name: (line 2, code, field, words in the message)
    "deep nesting": (with_body_field(nested(100_000)), "invalid_json_line", None, "deeper"),
    "nesting one past the limit": (
        with_body_field(nested(MAX_DEPTH - 1)),  # + the line and the body: 129 levels
        "invalid_json_line",
        None,
        f"deeper than {MAX_DEPTH}",
    ),
    "a deep array line": (b"[" * 100_000, "invalid_json_line", None, "not a JSON object"),
    "1e999": (with_body_field("1e999"), "invalid_json_line", None, "out of range"),
    "-1e999": (with_body_field("-1e999"), "invalid_json_line", None, "out of range"),
    "5,000-digit integer": (with_body_field("9" * 5000), "invalid_json_line", None, "out of range"),
    "NaN": (with_body_field("NaN"), "invalid_json_line", None, "NaN"),
    "Infinity": (with_body_field("Infinity"), "invalid_json_line", None, "Infinity"),
    "lone surrogate in custom_id": (
        request().replace(b'"r2"', b'"\\ud800"'),
        "invalid_custom_id",
        "custom_id",
        "lone surrogate",
    ),
    "lone surrogate in the body": (
        request().replace(b'"hi"', b'"\\udc00"'),
        "invalid_json_line",
        None,
        "lone surrogate",
    ),
    "raw NUL in a string": (
        request().replace(b'"hi"', b'"h\x00i"'),
        "invalid_json_line",
        None,
        "control character at column",
    ),
    "raw NUL between fields": (request()[:-1] + b"\x00}", "invalid_json_line", None, "column"),
    "invalid UTF-8": (request().replace(b'"hi"', b'"\xff"'), "invalid_utf8", None, "0xff"),
    "a BOM on line 2": (b"\xef\xbb\xbf" + request(), "invalid_json_line", None, "\\ufeff"),
    "an unknown field": (request(priority=1), "unknown_parameter", "priority", "'priority'"),
    "empty custom_id": (request(""), "invalid_custom_id", "custom_id", "empty"),
    "600-character custom_id": (request("x" * 600), "invalid_custom_id", "custom_id", "600"),
    "custom_id a number": (request(custom_id=7), "invalid_custom_id", "custom_id", "number"),
    "empty model": (request(body={"model": ""}), "invalid_model", "body.model", "empty"),
    "method GET": (request(method="GET"), "invalid_method", "method", "POST"),
    "url not the endpoint": (request(url="/v1/embeddings"), "url_mismatch", "url", "differs"),
    "url not an endpoint": (request(url="/v1/files"), "invalid_url", "url", "not a batch"),
    "body an array": (request(body=[1]), "invalid_body", "body", "object"),
    "no model": (request(body={"messages": []}), "missing_model", "body.model", "missing"),
    "a JSON array line": (b"[1, 2]", "invalid_json_line", None, "not a JSON object"),
    "a blank line": (b"", "blank_line", None, "blank"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_line_is_a_numbered_problem(tmp_path: Path, name: str) -> None:
    line, code, field, words = HOSTILE[name]
    path = tmp_path / "in.jsonl"
    path.write_bytes(json.dumps(GOOD).encode() + b"\n" + line + b"\n" + request("r3") + b"\n")
    report = validate(path)
    assert [(p.line, p.code, p.field) for p in report.problems] == [(2, code, field)]
    assert words in report.problems[0].message


@pytest.mark.parametrize("name", list(HOSTILE))
def test_slow_path_agrees(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """With the fast parse forced to fail, the slow path finds the same problems."""
    line = HOSTILE[name][0]
    path = tmp_path / "in.jsonl"
    path.write_bytes(json.dumps(GOOD).encode() + b"\n" + line + b"\n")
    fast = validate(path)

    class Refuses:
        def decode(self, raw: bytes) -> Any:
            raise scan.msgspec.DecodeError("forced")

    monkeypatch.setattr(scan, "_DECODER", Refuses())
    assert validate(path).problems == fast.problems


def test_nesting_at_the_limit_and_many_shallow_brackets_pass(tmp_path: Path) -> None:
    many = [{"role": "user", "content": [{"type": "text", "text": "x"}]}] * 200
    path = tmp_path / "in.jsonl"
    path.write_bytes(
        with_body_field(nested(MAX_DEPTH - 2))  # 128 levels with the line and the body
        + b"\n"
        + request("r3", body={"model": "gpt-4o-mini", "messages": many})
        + b"\n"
    )
    report = validate(path)
    assert report.ok, report.problems


def test_crlf_and_escaped_nul_are_accepted(tmp_path: Path) -> None:
    """What the API takes: a \\r before the newline is JSON whitespace, \\u0000 is text."""
    path = tmp_path / "in.jsonl"
    path.write_bytes(json.dumps(GOOD).encode() + b"\r\n" + request("a\x00b") + b"\r\n")
    assert validate(path).ok


def test_duplicate_of_a_line_refused_for_its_body(tmp_path: Path) -> None:
    """The duplicate check re-reads the first line with that id; a lone surrogate in
    that line's body made the strict re-read raise out of ``validate``."""
    first = request().replace(b'"hi"', b'"\\udc00"')
    path = tmp_path / "in.jsonl"
    path.write_bytes(first + b"\n" + request() + b"\n")
    report = validate(path)
    assert [(p.line, p.code) for p in report.problems] == [
        (1, "invalid_json_line"),
        (2, "duplicate_custom_id"),
    ]
