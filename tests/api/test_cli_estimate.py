"""``batchdeck estimate FILE``: tokens and cost only, no rule check, for pipelines."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api._cli import run
from tests.api.conftest import chat_line, jsonl
from tui.core.tokens import estimate_file

Capsys = pytest.CaptureFixture[str]


def write(tmp_path: Path, lines: list) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_bytes(jsonl(lines))
    return path


def test_estimate_prints_tokens_and_cost(tmp_path: Path, capsys: Capsys) -> None:
    lines = [chat_line(f"r{i}", f"Summarise ticket {i}", max_tokens=100) for i in range(3)]
    path = write(tmp_path, lines)
    expected = estimate_file(path)
    ran = run(capsys, "estimate", str(path))
    assert ran.code == 0, ran.err
    assert "requests:      3" in ran.out
    assert f"input tokens:  {expected.input_tokens:,} (o200k_base, estimated)" in ran.out
    assert "output tokens: at most 300" in ran.out
    assert "cost (batch):" in ran.out and "problem" not in ran.out


def test_estimate_json_skips_what_validate_would_refuse(tmp_path: Path, capsys: Capsys) -> None:
    good = chat_line("dup", "hello there", max_tokens=10)
    path = write(tmp_path, [good, good, "not json", {"custom_id": "x"}])  # a duplicate id
    ran = run(capsys, "estimate", str(path), "--json")
    assert ran.code == 0, ran.err
    [record] = ran.json_lines()
    assert record["file"] == str(path)
    assert record["requests"] == 2 and record["model"] == "gpt-4o-mini"
    assert record["output_tokens_max"] == 20
    cost = record["cost_usd"]
    assert cost["max_batch"] == pytest.approx(cost["max_standard"] / 2)
    assert record["input_tokens"] == estimate_file(path).input_tokens


@pytest.mark.parametrize("content", [b"", b"not json\n"])
def test_a_file_without_requests_is_an_error(
    tmp_path: Path, capsys: Capsys, content: bytes
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(content)
    ran = run(capsys, "estimate", str(path))
    assert ran.code == 1 and "no request line to estimate" in ran.err


def test_a_missing_file_is_an_error(tmp_path: Path, capsys: Capsys) -> None:
    ran = run(capsys, "estimate", str(tmp_path / "nope.jsonl"))
    assert ran.code == 1 and "nope.jsonl" in ran.err and "Traceback" not in ran.err
