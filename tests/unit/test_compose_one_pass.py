"""The compose check of an existing JSONL file reads it once, as ``batchdeck validate``
does: the estimate is fed by the validator's parse, sampled the same way, and the
estimate widget says when it was sampled."""

from __future__ import annotations

import json
import random
import sys
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from tui.core import request_file, tokens
from tui.core.submission import ComposeInputs, check_inputs
from tui.core.tokens import SAMPLE_ERROR, Estimate
from tui.widgets.estimate_view import estimate_text

CHAT = "/v1/chat/completions"


def write_file(path: Path, count: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    words = ["kettle", "broke", "great", "week", "price", "review", "label", "tea"]
    with open(path, "w", encoding="utf-8") as out:
        for i in range(count):
            text = " ".join(rng.choice(words) for _ in range(rng.randint(5, 80)))
            body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}
            line = {"custom_id": f"r{i}", "method": "POST", "url": CHAT, "body": body}
            out.write(json.dumps(line) + "\n")


def jsonl_inputs(path: Path) -> ComposeInputs:
    return ComposeInputs("jsonl", CHAT, {}, "{id}", None, path, (), path)


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every module's ``open_request_file`` counts the files it opens."""
    original = request_file.open_request_file
    calls: list[str] = []

    def counting(path: Any, *args: Any, **kwargs: Any) -> AbstractContextManager[Any]:
        calls.append(str(path))
        return original(path, *args, **kwargs)

    for module in list(sys.modules.values()):
        if getattr(module, "open_request_file", None) is original:
            monkeypatch.setattr(module, "open_request_file", counting)
    return calls


def test_a_jsonl_file_is_opened_once_for_check_and_estimate(
    tmp_path: Path, opened: list[str]
) -> None:
    path = tmp_path / "in.jsonl"
    write_file(path, 40)
    checked = check_inputs(jsonl_inputs(path), prices={})
    assert checked.report.ok and checked.requests == 40
    assert checked.estimate is not None and checked.estimate.requests == 40
    assert checked.estimate.input_tokens > 0
    assert opened == [str(path)]


def test_a_refused_file_is_still_read_once_and_not_estimated(
    tmp_path: Path, opened: list[str]
) -> None:
    path = tmp_path / "in.jsonl"
    write_file(path, 3)
    with open(path, "a") as out:
        out.write("not json\n")
    checked = check_inputs(jsonl_inputs(path), prices={})
    assert not checked.report.ok and checked.estimate is None
    assert opened == [str(path)]


def test_a_big_file_is_sampled_like_the_cli_and_the_widget_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens, "EXACT_BYTES", 20_000)  # a small file behaves like a big one
    monkeypatch.setattr(tokens, "SAMPLE_BYTES", 200_000)
    path = tmp_path / "in.jsonl"
    write_file(path, 3000)
    estimate = check_inputs(jsonl_inputs(path), prices={}).estimate
    assert estimate is not None and estimate.sampled is not None
    assert estimate.error_bound <= SAMPLE_ERROR
    note = f"from a sample of {estimate.sampled:,} lines (±1%)"
    assert estimate.sample_note() == note
    assert f"(estimated {note})" in estimate_text(estimate).plain


def test_the_sample_note_names_the_bound_and_the_hint_only_when_over_the_promise() -> None:
    counted = Estimate(CHAT, "gpt-4o-mini", "o200k_base", 10, 100, 0, 0)
    loose = Estimate(CHAT, "gpt-4o-mini", "o200k_base", 10, 100, 0, 0, sampled=2, error_bound=0.05)
    assert counted.sample_note() == "" and "sample" not in estimate_text(counted).plain
    assert loose.sample_note() == "from a sample of 2 lines (±5.0%)"
    assert loose.sample_note("--exact counts all") == (
        "from a sample of 2 lines (±5.0%; --exact counts all)"
    )
    unknown = Estimate(CHAT, None, "o200k_base", 1, 1, 0, 0, sampled=1, error_bound=float("inf"))
    assert unknown.sample_note() == (
        "from a sample of 1 lines (error unknown: too few lines sampled)"
    )
