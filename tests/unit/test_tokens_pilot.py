"""The sample's starting rate comes from the spread of the lines counted in full (the
pilot): a file whose tokens per byte vary a lot keeps the 1% promise."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_tokens_sample import WORDS
from tui.core import tokens
from tui.core.requests import validate
from tui.core.tokens import EXACT_BYTES, SAMPLE_ERROR, FileEstimator

# English: test_tokens_sample's short words and its first domain words ("batch" ...
# "summary"), without "or", "an", "are", "not" (the rates asserted below were set on it).
_ENGLISH = WORDS[:18] + WORDS[22:30]
_CJK = [
    "東京",
    "数据",
    "分析",
    "报告",
    "客户",
    "订单",
    "収益",
    "成長",
    "予測",
    "リスク",
    "契約",
    "政策",
    "データ",
    "処理",
    "模型",
]


def _text(rng: random.Random, chars: int, cjk: bool) -> str:
    words = _CJK if cjk else _ENGLISH
    out: list[str] = []
    size = 0
    while size < chars:
        out.append(rng.choice(words))
        size += len(out[-1]) + (0 if cjk else 1)
    return ("" if cjk else " ").join(out)


def _embedding_line(rng: random.Random, i: int) -> str:
    """Like a real embeddings batch: 1-8 texts of 30-3,000 characters (log-uniform),
    15% of them CJK, half the lines written with \\u escapes: tokens per byte vary a
    lot from line to line."""
    texts = [
        _text(rng, int(30 * 100 ** rng.random()), rng.random() < 0.15)
        for _ in range(rng.randint(1, 8))
    ]
    body = {"model": "text-embedding-3-small", "input": texts}
    line = {"custom_id": f"r{i}", "method": "POST", "url": "/v1/embeddings", "body": body}
    return json.dumps(line, ensure_ascii=rng.random() < 0.5) + "\n"


def test_an_embeddings_like_file_keeps_the_one_percent_promise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sampled from a tenth of the usual budget (as sparse as in a file ten times as
    big), with eight seeds: every printed bound is within 1% and the real error within
    it. Starting from the fixed budget (the rate doubling only after 30 sampled lines)
    the lines passed at the low first rate left bounds over 1%."""
    rng = random.Random(8)
    path = tmp_path / "emb.jsonl"
    path.write_text("".join(_embedding_line(rng, i) for i in range(1500)), encoding="utf-8")
    size = path.stat().st_size
    monkeypatch.setattr(tokens, "SAMPLE_BYTES", 300_000)
    assert size > 20 * tokens.SAMPLE_BYTES
    exact = FileEstimator(exact=True)
    sampled = [FileEstimator(size=size) for _ in range(8)]
    for seed, estimator in enumerate(sampled):
        estimator._random = random.Random(seed).random

    def every(url: str | None, body: Any, line_size: int) -> None:
        exact.add(url, body, line_size)
        for estimator in sampled:
            estimator.add(url, body, line_size)

    assert validate(path, on_request=every).ok
    truth = exact.result().input_tokens
    for estimator in sampled:
        guess = estimator.result()
        assert guess.sampled is not None
        error = abs(guess.input_tokens - truth) / truth
        assert error <= guess.error_bound <= SAMPLE_ERROR
        assert estimator.rate > 0.5  # its pilot asked for most of the file


def _feed_pilot(estimator: FileEstimator, texts: list[str]) -> None:
    """Lines of these texts (in turn) until the pilot is over: the first line past
    EXACT_BYTES ends it."""
    fed = i = 0
    while estimator._piloting:
        assert fed < 2 * EXACT_BYTES  # ended by the line after EXACT_BYTES
        body = {"model": "gpt-4o-mini", "prompt": texts[i % len(texts)]}
        size = len(json.dumps(body, ensure_ascii=True)) + 60
        estimator.add("/v1/completions", body, size)
        fed += size
        i += 1


def test_the_starting_rate_comes_from_the_pilots_spread() -> None:
    """Lines whose tokens per byte are alike start at a low rate (the floor of 60 lines
    over the rest); lines half English, half CJK start high. Both below the fixed
    budget's start or above it, as the spread asks."""
    size = 200_000_000
    budget = tokens.SAMPLE_BYTES / size
    rng = random.Random(1)
    alike = [_text(rng, 2000, cjk=False) for _ in range(20)]
    low = FileEstimator(size=size)
    _feed_pilot(low, alike)
    varied = [
        _text(rng, 2000, cjk=False) if k % 2 else _text(rng, 700, cjk=True) for k in range(20)
    ]
    high = FileEstimator(size=size)
    _feed_pilot(high, varied)
    assert 0 < low.rate < budget / 5
    assert high.rate > 5 * budget
    assert low._pilot_spread() < 0.001 < 0.05 < high._pilot_spread()


def test_too_few_pilot_lines_start_from_the_fixed_budget() -> None:
    """Under ten lines in the first EXACT_BYTES say too little about the spread: the
    rate starts at SAMPLE_BYTES over the file's size, as before."""
    size = 200_000_000
    estimator = FileEstimator(size=size)
    rng = random.Random(2)
    _feed_pilot(estimator, [_text(rng, EXACT_BYTES // 8, cjk=False)])
    assert estimator._full_lines < 10
    assert estimator.rate == tokens.SAMPLE_BYTES / size


def test_a_file_within_the_budget_is_counted_in_full() -> None:
    estimator = FileEstimator(size=tokens.SAMPLE_BYTES)
    assert estimator.rate == 1.0 and not estimator._piloting
