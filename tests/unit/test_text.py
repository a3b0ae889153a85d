"""printable()/one_line(): untrusted text cannot drive the terminal."""

from __future__ import annotations

from tui.core.text import one_line, printable


def test_escape_sequences_become_visible() -> None:
    hostile = "ok\x1b[2J\x1b]0;pwned\x07\x9b31m"
    shown = printable(hostile)
    assert "\x1b" not in shown and "\x07" not in shown and "\x9b" not in shown
    assert shown == "ok\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m"


def test_newlines_kept_by_printable_but_not_one_line() -> None:
    assert printable("a\nb\tc") == "a\nb\tc"
    assert one_line("a\nb\tc") == "a\\x0ab\\x09c"


def test_one_line_cuts_with_ellipsis() -> None:
    assert one_line("abcdef", 4) == "abc…"
    assert one_line("abc", 4) == "abc"


def test_markup_is_left_as_text() -> None:
    assert printable("[bold red]x[/]") == "[bold red]x[/]"


def test_invisible_and_unencodable_characters_are_shown() -> None:
    hostile = "a\u202eevil\u200bb\ud800c\u2029d\ufeff"
    shown = printable(hostile)
    assert shown == "a\\u202eevil\\u200bb\\ud800c\\u2029d\\ufeff"
    shown.encode("utf-8")  # a lone surrogate would raise here
    legit = "naïve café 日本語 🙂 👩\u200d💻 می\u200cخواهم"  # ZWJ emoji, ZWNJ in Persian
    assert printable(legit) == legit


def test_api_error_messages_are_escaped_once() -> None:
    from tui.core.errors import ServerError

    error = ServerError("boom \x1b]2;PWNED\x07 \x1b[2J [bold]x[/]")
    assert error.message == "boom \\x1b]2;PWNED\\x07 \\x1b[2J [bold]x[/]"
    assert str(error) == error.message
