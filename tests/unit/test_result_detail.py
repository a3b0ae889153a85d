"""The detail pane never renders a huge line whole, JSON or not."""

from __future__ import annotations

from tui.core.results import cut_texts, describe_response
from tui.widgets.result_detail import (
    PANE_CHARS,
    PRETTY_BYTES,
    _pretty,
    request_text,
    split_lines,
)


def test_a_huge_non_json_line_is_cut_like_json() -> None:
    raw = b"x" * (PANE_CHARS + 5000)
    shown, note = _pretty(None, raw)
    assert len(shown) == PANE_CHARS
    assert note.startswith(f"Showing the first {PANE_CHARS:,} of {PANE_CHARS + 5000:,} characters")


def test_a_huge_json_value_is_cut() -> None:
    shown, note = _pretty({"a": "y" * (PANE_CHARS * 2)}, b"{}")
    assert len(shown) == PANE_CHARS and "press v" in note


def test_a_line_over_a_megabyte_is_not_re_indented() -> None:
    raw = b'{"a": "' + b"z" * PRETTY_BYTES + b'"}'
    shown, note = _pretty({"a": "z" * PRETTY_BYTES}, raw)
    assert shown == raw[:PANE_CHARS].decode()
    assert f"of {len(raw):,} bytes of the line" in note


def test_a_short_raw_line_is_shown_whole() -> None:
    assert _pretty(None, b"not json") == ("not json", "")
    assert _pretty(None, None) == ("(none)", "")


def test_a_huge_undecodable_request_line_is_cut() -> None:
    text = request_text(None, b"z" * (PANE_CHARS * 3), line=4)
    assert len(text.plain) < PANE_CHARS + 200
    assert "press v" in text.plain


def test_a_huge_request_is_cut_across_its_parts() -> None:
    request = {
        "body": {
            "model": "m",
            "messages": [
                {"role": "system", "content": "s" * 100},
                {"role": "user", "content": "u" * (PANE_CHARS * 10)},
                {"role": "user", "content": "never shown"},
            ],
        }
    }
    text = request_text(request, b"{}", line=1).plain
    assert "s" * 100 in text and "never shown" not in text
    assert text.count("u") <= PANE_CHARS and "Showing the first" in text
    whole = request_text(request, b"{}", line=1, whole=True).plain
    assert "u" * (PANE_CHARS * 10) in whole and "never shown" in whole


def test_cut_texts_keeps_the_start_and_counts_everything() -> None:
    assert cut_texts(["ab", "cd"], 10) == (["ab", "cd"], 4)
    assert cut_texts(["abc", "def", "gh"], 4) == (["abc", "d"], 8)
    assert cut_texts(["abcdef"], 2) == (["ab"], 6)


def test_split_lines() -> None:
    assert split_lines("a\nb\nc", 2) == ("a\nb\n", "c")
    assert split_lines("a\nb\n", 2) == ("a\nb\n", "")
    assert split_lines("a", 5) == ("a", "")
    assert split_lines("", 1) == ("", "")


def test_a_huge_answer_is_described_by_its_start() -> None:
    text = "word " * (PANE_CHARS // 2)
    result = {
        "custom_id": "r",
        "response": {"status_code": 200, "body": {"choices": [{"message": {"content": text}}]}},
    }
    view = describe_response(result, limit=1000)
    assert view.markdown == text[:1000] and view.full_chars == len(text)
    assert describe_response(result).full_chars == 0  # no limit: whole


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
