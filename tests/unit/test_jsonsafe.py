"""Untrusted JSON: bounded depth, strict values, plain messages."""

from __future__ import annotations

import pytest

from tui.core import jsonsafe
from tui.core.errors import BatchdeckError


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"[" * 100_000, "nested deeper than 128"),
        (b"[" * 129 + b"]" * 129, "nested deeper than 128"),
        (b'"\\ud800"', "lone surrogate escape (\\ud800)"),
        (b'["\\ud83d\\ude00", "\\udc01"]', "lone surrogate escape (\\udc01)"),
        (b"1e999", "out of range"),
        (b"1" * 5000, "out of range"),
        (b"NaN", "invalid JSON"),
        (b'{"a": 1', "truncated"),
    ],
)
def test_refused_with_a_plain_reason(raw: bytes, says: str) -> None:
    with pytest.raises(jsonsafe.JsonInputError) as caught:
        jsonsafe.loads(raw)
    assert says in str(caught.value)
    assert isinstance(caught.value, BatchdeckError)


def test_accepts_what_the_api_accepts() -> None:
    assert jsonsafe.loads(b"[" * 128 + b"]" * 128)
    assert jsonsafe.loads('{"a": "[[[[\\"{{{{", "e": "\\ud83d\\ude00"}') == {
        "a": '[[[["{{{{',
        "e": "\U0001f600",
    }
    # Brackets inside strings do not count towards the depth.
    assert jsonsafe.loads(b'["' + b"[" * 500 + b'"]') == ["[" * 500]


def test_depth_skips_strings() -> None:
    assert jsonsafe.depth(b'{"a": [{"b": "]]]]"}]}') == 3
