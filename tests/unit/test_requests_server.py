"""The embedded server's validator is the client's, adapted: same limits and rules,
the lines to run with their byte spans, errors in the API's codes with line numbers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tui.core.requests import MAX_FILE_BYTES, MAX_REQUESTS, validate
from tui.localapi import validate as server

CHAT = "/v1/chat/completions"


def line(custom_id: str, **changes: Any) -> str:
    obj: dict[str, Any] = {
        "custom_id": custom_id,
        "method": "POST",
        "url": CHAT,
        "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
    }
    return json.dumps({**obj, **changes})


def test_same_limits_as_the_client() -> None:
    """200 MB (not MiB) and 50,000 requests, from one place."""
    assert server.MAX_INPUT_BYTES == MAX_FILE_BYTES == 200_000_000
    assert server.MAX_REQUESTS == MAX_REQUESTS


@pytest.mark.parametrize("end", ["\n", "\r\n"])
def test_valid_file_gives_the_lines_to_run(tmp_path: Path, end: str) -> None:
    path = tmp_path / "in.jsonl"
    text = end.join([line("a"), line("é"), line("c")])  # no newline after the last line
    path.write_bytes(text.encode())
    result = server.validate_input(path, CHAT)
    assert result.ok and result.errors == [] and result.model == "gpt-4o-mini"
    assert [r.custom_id for r in result.lines] == ["a", "é", "c"]
    assert [r.line for r in result.lines] == [1, 2, 3]
    data = path.read_bytes()
    for ref in result.lines:
        raw = data[ref.offset : ref.offset + ref.length]
        assert json.loads(raw)["custom_id"] == ref.custom_id
    last = result.lines[-1]
    assert last.offset + last.length == len(data)


def test_errors_in_the_apis_codes_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    lines = [
        "{not json",
        json.dumps({"method": "POST", "url": CHAT, "body": {"model": "gpt-4o-mini"}}),
        line("m", method="GET"),
        line("u", url="/v1/nope"),
        "",
        line("x", extra=1),
        line("a"),
        line("a"),
    ]
    path.write_text("\n".join(lines) + "\n")
    result = server.validate_input(path, CHAT)
    assert not result.ok and result.lines == []
    assert [(e["code"], e["line"], e["param"]) for e in result.errors] == [
        ("invalid_json_line", 1, None),
        ("missing_required_parameter", 2, "custom_id"),
        ("invalid_value", 3, "method"),
        ("url_mismatch", 4, "url"),
        ("invalid_json_line", 5, None),  # blank lines are refused, as by `validate`
        ("invalid_value", 6, "extra"),
        ("duplicate_custom_id", 8, "custom_id"),
    ]
    assert all(e["message"] for e in result.errors)
    client = validate(path, endpoint=CHAT)
    assert [p.line for p in client.problems] == [e["line"] for e in result.errors]


def test_limits_are_honoured(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(line(f"r{i}") + "\n" for i in range(3)))
    result = server.validate_input(path, CHAT, max_requests=2)
    assert [(e["code"], e["line"]) for e in result.errors] == [("too_many_tasks", 3)]
    result = server.validate_input(path, CHAT, max_bytes=10)
    assert {e["code"] for e in result.errors} == {"file_too_large"}


def test_unreadable_input_is_an_oserror(tmp_path: Path) -> None:
    """lifecycle.py catches OSError to fail the batch cleanly."""
    with pytest.raises(OSError, match="cannot read it"):
        server.validate_input(tmp_path / "gone.jsonl", CHAT)
