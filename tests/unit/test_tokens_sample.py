"""The file estimate: one parse with the validator, sampled within 1%, no fake upper bound."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest

from tui.cli import main
from tui.core import tokens
from tui.core.pricing import DEFAULT_PRICES
from tui.core.requests import validate
from tui.core.tokens import SAMPLE_ERROR, Estimate, FileEstimator
from tui.widgets.estimate_view import estimate_text

WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "with",
    "was",
    "on",
    "be",
    "by",
    "at",
    "this",
    "from",
    "or",
    "an",
    "are",
    "not",
    "batch",
    "request",
    "model",
    "token",
    "latency",
    "prompt",
    "answer",
    "summary",
    "customer",
    "invoice",
    "order",
    "shipment",
    "delivery",
    "report",
    "analysis",
    "revenue",
    "growth",
    "forecast",
    "risk",
    "policy",
    "contract",
]
_OTHER = [
    "café",
    "naïve",
    "résumé",
    "straße",
    "東京",
    "данные",
    "données",
    "数据",
    "niño",
    "2024-05-01",
    "#A17",
    "x=42;",
    "def",
    "main():",
    "return",
    "{'id':",
    "7}",
    "SELECT",
    "*",
    "FROM",
    "orders",
    "WHERE",
    "total",
    ">",
    "100",
]


def _text(rng: random.Random) -> str:
    """Text of varied length (log-uniform, 30 to 6,000 characters); one line in five
    mixes in other scripts, numbers and code."""
    chars = int(30 * 200 ** rng.random())
    words = WORDS + _OTHER if rng.random() < 0.2 else WORDS
    out: list[str] = []
    size = 0
    while size < chars:
        out.append(rng.choice(words))
        size += len(out[-1]) + 1
    return " ".join(out)


def _body(endpoint: str, rng: random.Random) -> dict[str, Any]:
    if endpoint == "/v1/chat/completions":
        messages = [{"role": "system", "content": "You are a careful analyst. Be brief."}]
        for turn in range(rng.randint(1, 4)):
            role = "user" if turn % 2 == 0 else "assistant"
            messages.append({"role": role, "content": _text(rng)})
        return {"model": "gpt-4o-mini", "messages": messages, "max_tokens": 256}
    if endpoint == "/v1/responses":
        return {"model": "gpt-4.1", "instructions": "Summarize.", "input": _text(rng)}
    if endpoint == "/v1/embeddings":
        return {"model": "text-embedding-3-small", "input": [_text(rng) for _ in range(3)]}
    return {"model": "gpt-3.5-turbo-instruct", "prompt": _text(rng), "max_tokens": 16}


@pytest.mark.parametrize("ascii_only", [False, True])
@pytest.mark.parametrize(
    "endpoint",
    ["/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/completions"],
)
def test_a_sampled_estimate_is_within_one_percent(
    endpoint: str, ascii_only: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Realistic files (varied lengths and scripts, four endpoints, written with and
    without \\u escapes) estimated from a sample stay within 1% of the exact count,
    and within the bound they print."""
    rng = random.Random(endpoint)
    path = tmp_path / "in.jsonl"
    _write(path, [_body(endpoint, rng) for _ in range(5000)], endpoint, ascii_only)
    # A quarter of the usual sample: as sparse as in a file four times as big, so the
    # test runs quickly.
    monkeypatch.setattr(tokens, "SAMPLE_BYTES", tokens.SAMPLE_BYTES // 4)
    monkeypatch.setattr(tokens, "EXACT_BYTES", tokens.EXACT_BYTES // 4)
    exact = FileEstimator(exact=True)
    sampled = FileEstimator(size=path.stat().st_size)

    def both(url: str | None, body: Any, size: int) -> None:
        exact.add(url, body, size)
        sampled.add(url, body, size)

    assert validate(path, on_request=both).ok
    truth, guess = exact.result(), sampled.result()
    assert truth.sampled is None and truth.error_bound == 0
    assert guess.sampled is not None and 30 <= guess.sampled < 2500
    error = abs(guess.input_tokens - truth.input_tokens) / truth.input_tokens
    assert error <= guess.error_bound <= SAMPLE_ERROR
    assert (guess.requests, guess.output_tokens_max) == (truth.requests, truth.output_tokens_max)
    assert truth == tokens.estimate_file(path)  # estimate_file counts all, by default


def test_a_small_file_is_counted_exactly() -> None:
    estimator = FileEstimator("/v1/completions", size=10_000_000_000)  # however big it says
    estimator.add(None, {"model": "gpt-4o", "prompt": "hello world"}, 1_000_000)
    result = estimator.result()
    assert (result.input_tokens, result.sampled, result.endpoint) == (2, None, "/v1/completions")


def _write(
    path: Path, bodies: list[dict[str, Any]], endpoint: str, ascii_only: bool = False
) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for i, body in enumerate(bodies):
            line = {"custom_id": f"r{i}", "method": "POST", "url": endpoint, "body": body}
            out.write(json.dumps(line, ensure_ascii=ascii_only) + "\n")


def test_the_validator_feeds_the_estimate_from_its_one_parse(tmp_path: Path) -> None:
    """The scanner hands each parsed line to the estimate: the same figures as
    estimate_file, which parses again, and nothing from a line that is not JSON."""
    path = tmp_path / "in.jsonl"
    rng = random.Random(3)
    _write(path, [_body("/v1/chat/completions", rng) for _ in range(50)], "/v1/chat/completions")
    with open(path, "a") as out:
        out.write("not json\n")
    seen: list[str | None] = []
    estimator = FileEstimator()

    def add(url: str | None, body: Any, size: int) -> None:
        seen.append(url)
        estimator.add(url, body, size)

    report = validate(path, on_request=add)
    assert not report.ok and len(seen) == 50
    assert estimator.result() == tokens.estimate_file(path)


def test_cli_says_when_the_estimate_is_from_a_sample(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens, "EXACT_BYTES", 20_000)  # a small file behaves like a big one
    monkeypatch.setattr(tokens, "SAMPLE_BYTES", 1_000_000)
    path = tmp_path / "in.jsonl"
    rng = random.Random(5)
    _write(path, [_body("/v1/responses", rng) for _ in range(3000)], "/v1/responses")
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "estimated from a sample of " in out and " lines (±1%))" in out
    assert main(["validate", "--exact", str(path)]) == 0
    out = capsys.readouterr().out
    assert "sample" not in out and "(o200k_base, estimated)" in out
    assert main(["validate", "--json", str(path)]) == 0
    data = json.loads(capsys.readouterr().out)["estimate"]
    assert data["input_tokens_sampled_lines"] >= 30
    assert 0 < data["input_tokens_error_bound"] <= SAMPLE_ERROR


def _unbounded() -> Estimate:
    estimator = FileEstimator("/v1/chat/completions")
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    estimator.add(None, body, 100)
    return estimator.result(DEFAULT_PRICES)


def test_no_max_tokens_means_no_upper_cost_bound() -> None:
    """It said `$0.000049 – $0.000049 (every output at its limit)` with output unbounded."""
    estimate = _unbounded()
    assert estimate.unbounded == 1 and estimate.cost is not None
    assert estimate.max_cost is None
    cost = estimate.to_dict()["cost_usd"]
    assert cost["max_batch"] is None and cost["max_standard"] is None
    assert cost["input_batch"] > 0
    shown = estimate_text(estimate).plain
    assert shown.count("no upper bound") == 2


def test_cli_prints_no_upper_bound(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "in.jsonl"
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    _write(path, [body, {**body, "max_tokens": 10}], "/v1/chat/completions")
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "output tokens: no upper bound (1 of 2 requests have no max tokens" in out
    assert "at most 10" in out
    assert "no upper bound" in out.split("cost (batch):")[1]
    assert "up to" not in out


def test_the_projected_bound_drops_when_the_rate_doubles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Halfway through a file, the error expected at its end is the error now times
    sqrt(read / size) at one rate; once the rate doubles, the rest brings half the
    variance per byte, so the projection drops (it used to stay put, and the rate could
    double at every batch)."""
    monkeypatch.setattr(tokens, "SAMPLE_ERROR", 1e9)  # the rate stays put while fed
    monkeypatch.setattr(tokens, "EXACT_BYTES", 1)  # every line after the first sampled
    rng = random.Random(11)
    bodies = [_body("/v1/completions", rng) for _ in range(3000)]
    sizes = [len(json.dumps(body)) + 60 for body in bodies]
    monkeypatch.setattr(tokens, "SAMPLE_BYTES", sum(sizes) // 10)  # no line has a chance of 1
    estimator = FileEstimator(size=2 * sum(sizes))
    for body, size in zip(bodies, sizes, strict=True):
        estimator.add("/v1/completions", body, size)
    estimator.result()  # counts the last batch
    assert estimator._sampled >= 30 and 0 < estimator.rate < 0.5
    error, before = estimator._error(), estimator._projected()
    assert before == pytest.approx(error * math.sqrt(0.5), rel=0.01)  # 1 line in 3,000 exact
    estimator._double_rate()
    after = estimator._projected()
    # the variance grows 1.5 times (not 2), the tokens 2 times
    assert after == pytest.approx(error * math.sqrt(1.5) / 2, rel=0.01)
    assert after < before
