"""The scanner's short path for ordinary lines reports exactly what the full path does."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui.core import request_scan
from tui.core.request_report import Limits


def _line(kind: str, custom_id: str, model: str, embeddings: bool = False) -> bytes:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "hé"}]}
    url = "/v1/chat/completions"
    if kind == "embed" or (embeddings and kind == "ok"):
        url, body = "/v1/embeddings", {"model": model, "input": ["a"] * (ord(custom_id) % 3 + 1)}
    line: dict[str, Any] = {"custom_id": custom_id, "method": "POST", "url": url, "body": body}
    if kind == "get":
        line["method"] = "GET"
    elif kind == "extra":
        line["extra"] = 1
    elif kind == "long_id":
        line["custom_id"] = "x" * 513
    elif kind == "empty_id":
        line["custom_id"] = ""
    elif kind == "bad_url":
        line["url"] = "/v1/nope"
    elif kind == "no_body":
        del line["body"]
    elif kind == "int_model":
        body["model"] = 4
    raw = json.dumps(line, ensure_ascii=kind != "utf8").encode()
    if kind == "blank":
        return b"  "
    if kind == "broken":
        return raw[:-3]
    if kind == "deep":
        return raw[:-1] + b', "x": ' + b"[" * 200 + b"]" * 200 + b"}"
    if kind == "huge_number":
        return raw[:-1] + b', "x": 1e999}'
    if kind == "bad_utf8":
        return raw.replace(b"h", b"\xff", 1)
    return raw


_KINDS = [
    *["ok"] * 8,
    "embed",
    "utf8",
    "embed",
    "get",
    "extra",
    "long_id",
    "empty_id",
    "bad_url",
    "no_body",
    "int_model",
    "blank",
    "broken",
    "deep",
    "huge_number",
    "bad_utf8",
]

lines_st = st.lists(
    st.tuples(
        st.sampled_from(_KINDS),
        st.sampled_from("abcdefghijklmnopqrst"),
        st.sampled_from(["m", "n"]),
    ),
    min_size=1,
    max_size=30,
)


def _slow(path: Path, limits: Limits, **keep: bool) -> request_scan.Scanner:
    """The scanner fed one line at a time (the full path for every line)."""
    data = path.read_bytes()
    with open(path, "rb", buffering=0) as handle:
        scanner = request_scan.Scanner(handle.fileno(), None, limits, 5, **keep)
        pieces = data.split(b"\n")
        if pieces[-1] == b"":
            pieces.pop()
        for raw in pieces:
            scanner.feed(raw)
        scanner.finish(len(data))
    return scanner


@settings(derandomize=True, deadline=None, max_examples=200)
@given(
    lines=lines_st,
    embeddings=st.booleans(),
    max_requests=st.integers(1, 12),
    max_inputs=st.integers(1, 12),
)
def test_short_path_reports_what_the_full_path_does(
    tmp_path_factory: Any,
    lines: list[tuple[str, str, str]],
    embeddings: bool,
    max_requests: int,
    max_inputs: int,
) -> None:
    path = tmp_path_factory.mktemp("scan") / "in.jsonl"
    path.write_bytes(b"\n".join(_line(*spec, embeddings) for spec in lines) + b"\n")
    limits = Limits(max_requests=max_requests, max_embedding_inputs=max_inputs)
    seen: list[tuple[Any, int]] = []
    keep = {"keep_input_counts": True, "keep_custom_ids": True}
    fast = request_scan.scan(
        path, None, limits, 5, on_request=lambda url, body, size: seen.append((url, size)), **keep
    )
    slow = _slow(path, limits, **keep)
    assert fast.report(path) == slow.report(path)
    assert fast.custom_ids == slow.custom_ids
    assert fast.input_counts == slow.input_counts
    assert len(seen) == sum(1 for kind, *_ in lines if kind not in _NO_BODY)


_NO_BODY = {"blank", "broken", "deep", "huge_number", "bad_utf8", "no_body"}


def test_blocks_cover_a_file_read_in_small_chunks() -> None:
    data = b"\n".join(_line("ok", c, "m") for c in "abcdef") + b"\n"
    blocks = list(request_scan.iter_blocks(io.BytesIO(data), 7))
    assert all(not isinstance(block, int) for block in blocks)


class _Top(msgspec.Struct, forbid_unknown_fields=True):
    """What a typed schema would keep of a line (the rest skipped in C)."""

    custom_id: str
    method: str
    url: str
    body: dict[str, msgspec.Raw]


_HOSTILE_CONTENT = {
    "bytes that are not UTF-8": (b'"h\xffi"', True),
    "a number out of range": (b"1e999", True),
    "a 5,000-digit integer": (b"1" * 5000, True),
    "a lone surrogate escape": (b'"\\ud800x"', False),
    "a raw control character": (b'"a\x01b"', False),
    "NaN": (b"NaN", False),
}


@pytest.mark.parametrize("name", list(_HOSTILE_CONTENT))
def test_hostile_message_text_is_refused_although_a_skipping_schema_would_pass_some(
    name: str, tmp_path: Path
) -> None:
    """Why every line is parsed whole: msgspec checks neither UTF-8 nor number ranges
    in what a typed schema skips (``skipped_passes``), so the scanner cannot skip the
    message text, the bulk of a line, to go faster."""
    content, skipped_passes = _HOSTILE_CONTENT[name]
    good = _line("ok", "a", "m")
    bad = good.replace(b'"h\\u00e9"', content)
    assert bad != good
    decoder = msgspec.json.Decoder(_Top)
    try:
        decoder.decode(bad)
        passes = True
    except msgspec.DecodeError:
        passes = False
    assert passes == skipped_passes
    path = tmp_path / "in.jsonl"
    path.write_bytes(good + b"\n" + bad.replace(b'"a"', b'"b"', 1) + b"\n")
    report = request_scan.scan(path, None, Limits(), 10).report(path)
    assert [(p.line, p.code) for p in report.problems] in (
        [(2, "invalid_json_line")],
        [(2, "invalid_utf8")],
    )


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(alphabet='{[]} a"', max_size=40), min_size=1, max_size=12),
    st.integers(min_value=0, max_value=6),
)
def test_bracket_count_run_across_lines_agrees_with_each_line_counted_alone(
    lines: list[str], limit: int
) -> None:
    """The block's bracket counter (each search runs on from the one before) says of
    every line what the one-line test says, also after a line over the limit."""
    buf = b"xx" + "\n".join(lines).encode() + b"\n[{tail"  # the block stops before the tail
    start, stop = 2, len(buf) - len(b"[{tail")
    count = request_scan._Openers(buf, start, stop)
    while start < stop:
        end = buf.find(b"\n", start, stop)
        end = stop if end < 0 else end
        assert count.at_most(limit, end) == request_scan._shallow(buf, limit, start, end)
        start = end + 1
