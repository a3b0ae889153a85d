"""Anthropic request lines: the rules (with file, line and field), the estimate and
Claude's prices, and the conversion to and from OpenAI chat-completions lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tui.core.anthropic_convert import Unconvertible, convert_file, to_anthropic, to_openai
from tui.core.anthropic_lines import (
    AnthropicFileError,
    check_file,
    estimate_params,
    read_requests,
)
from tui.core.models import Usage
from tui.core.pricing import BATCH_DISCOUNT, DEFAULT_PRICES, cost_of, price_for


def a_line(custom_id: str = "r1", **params: Any) -> dict[str, Any]:
    body = {
        "model": "claude-haiku-4-5",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
    }
    body.update(params)
    return {"custom_id": custom_id, "params": body}


def o_line(custom_id: str = "r1", **body: Any) -> dict[str, Any]:
    full = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 50,
    }
    full.update(body)
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": full}


def write(path: Path, lines: list[Any]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def test_a_good_file_checks_clean(tmp_path: Path) -> None:
    check = check_file(write(tmp_path / "a.jsonl", [a_line("a"), a_line("b")]))
    assert check.ok and check.requests == 2 and check.model == "claude-haiku-4-5"


def test_each_problem_names_line_and_field(tmp_path: Path) -> None:
    no_max = a_line("c")
    del no_max["params"]["max_tokens"]
    lines = [a_line("a"), a_line("a"), "{not json", no_max, a_line("bad id"), a_line("x" * 65)]
    path = write(tmp_path / "bad.jsonl", lines)
    check = check_file(path)
    found = {(p.line, p.field) for p in check.problems}
    assert found == {
        (2, "custom_id"),
        (3, ""),
        (4, "params.max_tokens"),
        (5, "custom_id"),
        (6, "custom_id"),
    }
    where = [p.where(path) for p in check.problems]
    assert f"{path}:4: params.max_tokens: required by Anthropic" in where
    with pytest.raises(AnthropicFileError, match=r"bad\.jsonl:2: custom_id: duplicate"):
        read_requests(path)


def test_params_rules(tmp_path: Path) -> None:
    lines = [
        a_line("a", max_tokens=0),
        a_line("b", messages=[]),
        a_line("c", messages=[{"role": "system", "content": "x"}]),
        a_line("d", stream=True),
        {"custom_id": "e", "params": {"model": "m", "max_tokens": 1, "messages": []}, "url": "x"},
    ]
    check = check_file(write(tmp_path / "p.jsonl", lines))
    fields = [(p.line, p.field) for p in check.problems]
    assert (1, "params.max_tokens") in fields
    assert (2, "params.messages") in fields
    assert (3, "params.messages[0].role") in fields
    assert (4, "params.stream") in fields
    assert (5, "url") in fields


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(AnthropicFileError, match=r"missing\.jsonl: cannot read"):
        check_file(tmp_path / "missing.jsonl")


def test_estimate_and_claude_prices() -> None:
    estimate = estimate_params([a_line(system="be brief")["params"]] * 3, DEFAULT_PRICES)
    assert estimate.endpoint == "/v1/messages"
    assert estimate.requests == 3 and estimate.input_tokens > 3
    assert estimate.output_tokens_max == 300 and estimate.unbounded == 0
    assert estimate.price == DEFAULT_PRICES["claude-haiku-4-5"]
    price = price_for("claude-sonnet-4-5-20250929", DEFAULT_PRICES)
    assert price is not None and (price.input, price.output) == (3.0, 15.0)
    cost = cost_of(Usage(input_tokens=1_000_000, output_tokens=1_000_000), price)
    assert cost.batch == pytest.approx(18.0 * BATCH_DISCOUNT)


def test_openai_to_anthropic_maps_what_it_can() -> None:
    line = o_line(
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "developer", "content": [{"type": "text", "text": "and kind"}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,aGVsbG8="}},
                ],
            },
        ],
        max_tokens=None,
        max_completion_tokens=77,
        stop="END",
        temperature=0.3,
        top_p=0.9,
        user="u1",
    )
    out = to_anthropic(line)
    params = out["params"]
    assert params["system"] == "be brief\n\nand kind"
    assert params["max_tokens"] == 77
    assert params["stop_sequences"] == ["END"]
    assert (params["temperature"], params["top_p"]) == (0.3, 0.9)
    assert params["metadata"] == {"user_id": "u1"}
    image = params["messages"][0]["content"][1]
    assert image["source"] == {"type": "base64", "media_type": "image/png", "data": "aGVsbG8="}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"n": 2}, "body.n"),
        ({"logprobs": True}, "body.logprobs"),
        ({"temperature": 1.5}, "body.temperature"),
        ({"response_format": {"type": "json_object"}}, "body.response_format"),
        ({"max_tokens": None}, "body.max_tokens"),
        ({"tools": [{"type": "web_search"}]}, "body.tools[0]"),
        (
            {"messages": [{"role": "tool", "content": "x", "tool_call_id": "t"}]},
            "body.messages[0].role",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}
                ]
            },
            "body.messages[0].content[0]",
        ),
    ],
)
def test_what_cannot_convert_names_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(Unconvertible) as caught:
        to_anthropic(o_line(**body))
    assert caught.value.field == field


def test_round_trip_keeps_the_meaning() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    start = o_line(
        messages=[{"role": "system", "content": "sys"}, {"role": "user", "content": "hello"}],
        max_tokens=10,
        stop=["a", "b"],
        tools=tools,
        tool_choice="required",
    )
    there = to_anthropic(start)
    assert there["params"]["tools"] == [{"name": "f", "input_schema": {"type": "object"}}]
    assert there["params"]["tool_choice"] == {"type": "any"}
    back = to_openai(there)
    body = back["body"]
    assert back["url"] == "/v1/chat/completions" and back["method"] == "POST"
    assert body["messages"] == start["body"]["messages"]
    assert body["max_completion_tokens"] == 10 and body["stop"] == ["a", "b"]
    assert body["tools"] == tools and body["tool_choice"] == "required"


def test_anthropic_to_openai_reports_what_has_no_equivalent() -> None:
    with pytest.raises(Unconvertible) as caught:
        to_openai(a_line(top_k=5))
    assert caught.value.field == "params.top_k"
    with pytest.raises(Unconvertible) as caught:
        to_openai(a_line(stop_sequences=list("abcde")))
    assert caught.value.field == "params.stop_sequences"


def test_convert_file_writes_only_when_all_convert(tmp_path: Path) -> None:
    source = write(tmp_path / "in.jsonl", [o_line("a"), o_line("b", n=3), o_line("c")])
    target = tmp_path / "out.jsonl"
    target.write_text("kept\n")
    result = convert_file(source, "anthropic", target)
    assert not result.written and result.converted == 2
    assert [(p.line, p.field) for p in result.problems] == [(2, "body.n")]
    assert target.read_text() == "kept\n"  # untouched
    result = convert_file(source, "anthropic", target, skip_unconvertible=True)
    assert result.written
    assert [json.loads(x)["custom_id"] for x in target.read_text().splitlines()] == ["a", "c"]
    assert check_file(target).ok


def test_convert_never_replaces_its_input(tmp_path: Path) -> None:
    source = write(tmp_path / "in.jsonl", [o_line("a")])
    with pytest.raises(AnthropicFileError, match="replace the input"):
        convert_file(source, "anthropic", source)
    assert json.loads(source.read_text())["url"] == "/v1/chat/completions"
