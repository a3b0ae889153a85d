"""``batchdeck validate`` and the offline paths of ``batchdeck submit``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tui.cli import main

CHAT = "/v1/chat/completions"


def line(custom_id: str, **changes: object) -> str:
    obj: dict[str, object] = {
        "custom_id": custom_id,
        "method": "POST",
        "url": CHAT,
        "body": {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "hello world"}],
            "max_completion_tokens": 10,
        },
    }
    obj.update(changes)
    return json.dumps(obj)


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.jsonl"
    path.write_text(f"{line('a')}\n{line('b')}\n")
    return path


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    path = tmp_path / "bad.jsonl"
    path.write_text(f"{line('a')}\n{line('a')}\nnot json\n{line('c', method='GET')}\n")
    return path


def test_validate_ok_prints_summary_and_estimate(
    good: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(good)]) == 0
    out = capsys.readouterr().out
    assert f"{good}: 2 requests" in out and ": ok" in out
    assert "input tokens:  16 (o200k_base, estimated)" in out  # 2 x (2 + 3 + 3)
    assert "output tokens: at most 20" in out
    assert "cost (batch):" in out and "without the Batch discount" in out


def test_validate_problems_are_line_numbered(bad: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(bad)]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert (
        f"{bad}:2: custom_id 'a' already used on line 1 (custom_id) [duplicate_custom_id]" in lines
    )
    assert any(x.startswith(f"{bad}:3: ") and x.endswith("[invalid_json_line]") for x in lines)
    assert any(x.startswith(f"{bad}:4: ") and x.endswith("[invalid_method]") for x in lines)
    assert lines[-1].endswith(": 3 problem(s)")  # the report's summary, on stdout too
    assert captured.err == ""


def test_validate_json(bad: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--json", str(bad)]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and data["problem_count"] == 3
    assert [(p["line"], p["code"]) for p in data["problems"]] == [
        (2, "duplicate_custom_id"),
        (3, "invalid_json_line"),
        (4, "invalid_method"),
    ]
    assert data["estimate"] is None


def test_validate_json_ok_has_estimate(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--json", str(good)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True and data["requests"] == 2
    assert data["estimate"]["input_tokens"] == 16
    assert data["estimate"]["cost_usd"]["max_batch"] > 0


def test_validate_endpoint_mismatch(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--endpoint", "/v1/embeddings", str(good)]) == 1
    assert "[url_mismatch]" in capsys.readouterr().out


def test_validate_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "nope.jsonl")]) == 1
    err = capsys.readouterr().err
    assert "nope.jsonl" in err and "Traceback" not in err


def test_submit_refuses_bad_file_before_any_network(
    bad: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["submit", str(bad), "--endpoint", CHAT]) == 1
    captured = capsys.readouterr()
    assert f"{bad}:2: " in captured.out and "nothing sent" in captured.err
    assert f"{bad}:2: " not in captured.err


def test_validate_and_submit_print_a_files_problems_alike(
    bad: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Problems are data, on stdout, the same lines from both commands (the README's
    rule); only submit's reason for sending nothing is on stderr."""
    assert main(["validate", "--no-estimate", str(bad)]) == 1
    validated = capsys.readouterr()
    assert main(["submit", str(bad)]) == 1
    submitted = capsys.readouterr()
    problems = [x for x in validated.out.splitlines() if x.endswith("]")]
    assert len(problems) == 3 and submitted.out.splitlines() == problems
    assert validated.err == "" and submitted.err.count("\n") == 1
    assert "3 problem(s); nothing sent" in submitted.err
    assert main(["submit", "--json", str(bad)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["problem_count"] == 3


def test_submit_checks_options(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["submit", str(good), "--metadata", "oops"]) == 2
    assert "key=value" in capsys.readouterr().err
    assert main(["submit", str(good), "--expires-after", "45d"]) == 2
    assert "between 1h and 30d" in capsys.readouterr().err


def test_submit_without_a_key_for_openai_is_a_clear_error(
    good: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["submit", str(good)]) == 2
    err = capsys.readouterr().err
    assert "OPENAI_API_KEY" in err and "Traceback" not in err


def test_headless_commands_never_import_textual(good: Path, bad: Path) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        from tui.cli import main
        codes = [main(["validate", {str(good)!r}]), main(["validate", "--json", {str(bad)!r}])]
        codes.append(main(["submit", {str(bad)!r}]))
        print(codes, any(name.split(".")[0] == "textual" for name in sys.modules))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[0, 1, 1] False"
