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


async def test_the_title_shows_a_hostile_retry_batch_id_escaped() -> None:
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    from tui.core.results import Outcome, ResultRow
    from tui.widgets.result_detail import ResultDetail

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield ResultDetail()

    hostile = "retry batch_\x1b]0;pwned\x07 [b]x[/b]"
    row = ResultRow(custom_id="r1", outcome=Outcome.HTTP_ERROR, status=500, error_code="\x1b[2J")
    async with Host().run_test() as pilot:
        detail = pilot.app.query_one(ResultDetail)
        for show_json in (False, True):
            detail.show_json = show_json
            detail.show(row, None, None, None, b"not json", hostile)
            title = str(detail.query_one("#detail-response-title", Static).content)
            assert "\x1b" not in title and "\x07" not in title
            assert "batch_\\x1b]0;pwned\\x07 [b]x[/b]" in title
        detail.show_json = False
        detail.show(row, None, None, None, None, hostile)
        title = str(detail.query_one("#detail-response-title", Static).content)
        assert "\x1b" not in title
