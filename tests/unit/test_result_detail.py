"""The detail pane never renders a huge line whole, JSON or not."""

from __future__ import annotations

from tui.widgets.result_detail import MAX_JSON_CHARS, _pretty, request_text


def test_a_huge_non_json_line_is_cut_like_json() -> None:
    raw = b"x" * (MAX_JSON_CHARS + 5000)
    shown = _pretty(None, raw)
    assert len(shown) < MAX_JSON_CHARS + 100
    assert shown.endswith("(5000 more characters)")


def test_a_huge_json_value_is_cut() -> None:
    shown = _pretty({"a": "y" * (MAX_JSON_CHARS * 2)}, b"{}")
    assert len(shown) < MAX_JSON_CHARS + 100


def test_a_short_raw_line_is_shown_whole() -> None:
    assert _pretty(None, b"not json") == "not json"
    assert _pretty(None, None) == "(none)"


def test_a_huge_undecodable_request_line_is_cut() -> None:
    text = request_text(None, b"z" * (MAX_JSON_CHARS * 3), line=4)
    assert len(text.plain) < MAX_JSON_CHARS + 200
