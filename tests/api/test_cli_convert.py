"""``batchdeck convert``: exit codes, per-line reports, atomic output (in-process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.api._cli import run


def write(path: Path, lines: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def chat(custom_id: str, **extra: object) -> dict[str, object]:
    body = {
        "model": "gpt-4o-mini",
        "max_tokens": 20,
        "messages": [{"role": "user", "content": "hi"}],
    }
    body.update(extra)
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}


def test_convert_to_anthropic_and_back(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source = write(tmp_path / "req.jsonl", [chat("a"), chat("b", stop="x")])
    ran = run(capsys, "convert", str(source), "--to", "anthropic")
    assert ran.code == 0, ran.err
    made = tmp_path / "req.anthropic.jsonl"
    assert str(made) in ran.out and "2 lines converted" in ran.out
    lines = [json.loads(x) for x in made.read_text().splitlines()]
    assert lines[1]["params"]["stop_sequences"] == ["x"]
    back = tmp_path / "back.jsonl"
    ran = run(capsys, "convert", str(made), "--to", "openai", "-o", str(back), "--json")
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["converted"] == 2
    assert json.loads(back.read_text().splitlines()[0])["body"]["messages"] == [
        {"role": "user", "content": "hi"}
    ]


def test_unconvertible_lines_are_listed_and_nothing_is_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = write(tmp_path / "req.jsonl", [chat("a"), chat("b", n=2), chat("c", logprobs=True)])
    out = tmp_path / "out.jsonl"
    ran = run(capsys, "convert", str(source), "--to", "anthropic", "-o", str(out))
    assert ran.code == 1
    assert f"{source}:2: body.n:" in ran.err
    assert f"{source}:3: body.logprobs:" in ran.err
    assert "nothing written" in ran.err
    assert not out.exists()
    ran = run(
        capsys, "convert", str(source), "--to", "anthropic", "-o", str(out), "--skip-unconvertible"
    )
    assert ran.code == 0
    assert "2 left out" in ran.out
    assert [json.loads(x)["custom_id"] for x in out.read_text().splitlines()] == ["a"]


def test_max_tokens_fills_lines_without_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    line = chat("a")
    del line["body"]["max_tokens"]  # type: ignore[attr-defined]
    source = write(tmp_path / "req.jsonl", [line])
    ran = run(capsys, "convert", str(source), "--to", "anthropic")
    assert ran.code == 1 and "body.max_tokens: required by Anthropic" in ran.err
    ran = run(capsys, "convert", str(source), "--to", "anthropic", "--max-tokens", "256")
    assert ran.code == 0
    made = json.loads((tmp_path / "req.anthropic.jsonl").read_text())
    assert made["params"]["max_tokens"] == 256


def test_bad_arguments_and_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(capsys, "convert", "x.jsonl", "--to", "gemini").code == 2
    assert run(capsys, "convert", "x.jsonl", "--to", "openai", "--max-tokens", "0").code == 2
    ran = run(capsys, "convert", str(tmp_path / "nope.jsonl"), "--to", "openai")
    assert ran.code == 1 and "nope.jsonl" in ran.err
