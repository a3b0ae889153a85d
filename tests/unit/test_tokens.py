"""Token counts (real tokenizer, offline) and the batch estimate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tui.core import tokens
from tui.core.pricing import DEFAULT_PRICES, Price
from tui.core.requests import UnreadableFileError
from tui.core.tokens import (
    CL100K,
    MESSAGE_OVERHEAD,
    O200K,
    REPLY_PRIMING,
    Estimator,
    count_tokens,
    encoding_for_model,
    estimate_file,
    output_bound,
    request_input_tokens,
)


@pytest.mark.parametrize(
    ("text", "encoding", "expected"),
    [
        ("hello world", O200K, 2),
        ("hello world", CL100K, 2),
        ("tiktoken is great!", CL100K, 6),
        ("tiktoken is great!", O200K, 6),
        ("", O200K, 0),
        ("Héllo 世界 🎉", CL100K, 10),
        ("Héllo 世界 🎉", O200K, 6),
    ],
)
def test_known_counts(text: str, encoding: str, expected: int) -> None:
    assert count_tokens(text, encoding=encoding) == expected


def test_known_token_ids() -> None:
    """The tables themselves are OpenAI's: the ids tiktoken gives for 'hello world'."""
    assert tokens._tokenizer(CL100K).encode("hello world") == [15339, 1917]
    assert tokens._tokenizer(O200K).encode("hello world") == [24912, 2375]


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o-mini", O200K),
        ("gpt-4o-2024-08-06", O200K),
        ("gpt-4.1", O200K),
        ("gpt-5-nano", O200K),
        ("o3", O200K),
        ("o4-mini", O200K),
        ("gpt-4", CL100K),
        ("gpt-4-turbo", CL100K),
        ("gpt-3.5-turbo", CL100K),
        ("text-embedding-3-small", CL100K),
        ("some-local-llama", O200K),
        (None, O200K),
    ],
)
def test_encoding_for_model(model: str | None, encoding: str) -> None:
    assert encoding_for_model(model) == encoding


def test_counts_work_offline_with_no_cache(tmp_path: Path) -> None:
    """A fresh process with empty home and cache dirs and every socket refused still
    counts: the tables ship inside the installed package."""
    code = textwrap.dedent(
        """
        import socket
        def refuse(*args, **kwargs):
            raise OSError("network use during token counting")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        from tui.core.tokens import count_tokens
        print(count_tokens("hello world", "gpt-4o"), count_tokens("tiktoken is great!", "gpt-4"))
        """
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {
        **os.environ,
        "HOME": str(empty),
        "XDG_CACHE_HOME": str(empty),
        "TIKTOKEN_CACHE_DIR": str(empty / "tiktoken"),
        "HF_HUB_OFFLINE": "1",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["2", "6"]
    assert list(empty.iterdir()) == []  # nothing cached or downloaded


def test_chat_overhead_per_message_and_reply() -> None:
    count = tokens.counter_for(O200K)
    body = {
        "messages": [
            {"role": "system", "content": "hello world"},
            {"role": "user", "content": [{"type": "text", "text": "hello world"}]},
        ]
    }
    expected = 2 * (2 + MESSAGE_OVERHEAD) + REPLY_PRIMING
    assert request_input_tokens("/v1/chat/completions", body, count) == expected


def test_inputs_per_endpoint() -> None:
    count = tokens.counter_for(CL100K)
    assert request_input_tokens("/v1/embeddings", {"input": ["hello world", "hi"]}, count) == 3
    assert request_input_tokens("/v1/embeddings", {"input": [1, 2, 3, 4]}, count) == 4
    assert request_input_tokens("/v1/embeddings", {"input": [[1, 2], [3]]}, count) == 3
    assert request_input_tokens("/v1/completions", {"prompt": "hello world"}, count) == 2
    assert request_input_tokens("/v1/moderations", {"input": "hello world"}, count) == 2
    responses = {"instructions": "hello world", "input": "hello world"}
    assert request_input_tokens("/v1/responses", responses, count) == 4 + REPLY_PRIMING
    assert request_input_tokens("/v1/images/generations", {"prompt": "hello world"}, count) == 2
    assert request_input_tokens("/v1/videos", {}, count) == 0


def test_output_bound() -> None:
    chat = "/v1/chat/completions"
    assert output_bound(chat, {"max_completion_tokens": 50}) == 50
    assert output_bound(chat, {"max_tokens": 20}) == 20
    assert output_bound("/v1/responses", {"max_output_tokens": 7}) == 7
    assert output_bound(chat, {}) is None
    assert output_bound(chat, {"max_tokens": True}) is None
    assert output_bound("/v1/embeddings", {}) == 0


class _Limit(int):
    """An int subclass (not bool): a usable limit, though JSON never gives one."""


@pytest.mark.parametrize(
    "endpoint", ["/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/moderations"]
)
def test_file_estimator_bounds_output_as_output_bound_does(endpoint: str) -> None:
    """FileEstimator.add has output_bound inlined (it runs on every line): the same
    bound for every kind of value, first usable key first."""
    values: list[object] = [None, 0, 7, -1, True, False, 2.5, "9", [3], _Limit(11), _Limit(-2)]
    bodies: list[dict[str, object]] = [{}]
    for key in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        bodies += [{key: value} for value in values]
    bodies += [{"max_completion_tokens": bad, "max_tokens": 5} for bad in values]
    bodies += [{"max_tokens": -3, "max_output_tokens": 8}, {"max_tokens": True}]
    for body in bodies:
        estimator = tokens.FileEstimator(endpoint, exact=True)
        estimator.add(endpoint, {"model": "gpt-4o-mini", **body}, 10)
        bound = output_bound(endpoint, body)
        assert (estimator.output_tokens_max, estimator.unbounded) == (
            (0, 1) if bound is None else (bound, 0)
        ), body


def test_estimator_totals_and_cost() -> None:
    est = Estimator("/v1/chat/completions")
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hello world"}],
        "max_completion_tokens": 100,
    }
    for _ in range(1000):
        est.add(body)
    est.add({**body, "max_completion_tokens": None})
    result = est.result(DEFAULT_PRICES)
    assert result.requests == 1001
    assert result.input_tokens == 1001 * (2 + MESSAGE_OVERHEAD + REPLY_PRIMING)
    assert result.output_tokens_max == 100_000
    assert result.unbounded == 1
    cost = result.cost
    assert cost is not None
    price = DEFAULT_PRICES["gpt-4o-mini"]
    expected = (result.input_tokens * price.input + 100_000 * price.output) / 1_000_000
    assert cost.standard == pytest.approx(expected)
    assert cost.batch == pytest.approx(expected / 2)
    # One request has no output limit, so the cost has no upper bound.
    assert result.max_cost is None
    assert result.to_dict()["cost_usd"]["max_batch"] is None
    assert result.to_dict()["cost_usd"]["input_batch"] == pytest.approx(
        result.input_tokens * price.input / 2_000_000
    )
    bounded = Estimator("/v1/chat/completions")
    bounded.add(body)
    assert bounded.result(DEFAULT_PRICES).max_cost == bounded.result(DEFAULT_PRICES).cost


def test_unknown_model_has_no_cost() -> None:
    est = Estimator("/v1/embeddings")
    est.add({"model": "my-embedder", "input": "hello world"})
    result = est.result({"other": Price(1.0)})
    assert result.cost is None and result.input_cost is None
    assert result.to_dict()["cost_usd"] is None


def test_estimate_file_skips_broken_lines(tmp_path: Path) -> None:
    line = {
        "custom_id": "a",
        "method": "POST",
        "url": "/v1/embeddings",
        "body": {"model": "text-embedding-3-small", "input": "hello world"},
    }
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(line) + "\nnot json\n" + json.dumps(line) + "\n")
    result = estimate_file(path, prices=DEFAULT_PRICES)
    assert (result.endpoint, result.requests, result.input_tokens) == ("/v1/embeddings", 2, 4)
    assert result.encoding == CL100K
    assert result.output_tokens_max == 0 and result.unbounded == 0


def test_estimate_file_skips_hostile_lines(tmp_path: Path) -> None:
    """Lines the validator refuses (deep, 1e999, huge ints, lone surrogates) never crash
    the estimate: msgspec alone raised RecursionError on the deep one."""
    line = {
        "custom_id": "a",
        "method": "POST",
        "url": "/v1/embeddings",
        "body": {"model": "text-embedding-3-small", "input": "hello world"},
    }
    good = json.dumps(line)
    hostile = [
        good[:-1] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
        good[:-1] + ', "x": 1e999}',
        good[:-1] + ', "x": ' + "9" * 5000 + "}",
        good.replace('"a"', '"\\ud800"'),
        "[" * 50_000,
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join([good, *hostile, good]) + "\n")
    result = estimate_file(path, prices=DEFAULT_PRICES)
    assert (result.requests, result.input_tokens) == (2, 4)


def test_estimate_file_refuses_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(UnreadableFileError, match="FIFO"):
        estimate_file(fifo)
