"""printable()/one_line(): untrusted text cannot drive the terminal."""

from __future__ import annotations

from tui.core import text
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


# -- secrets ----------------------------------------------------------------------


def test_scrub_cuts_out_a_registered_key_wherever_it_stands() -> None:
    key = text.register_secret("zq-unit-test-key-5f1c9a")
    assert text.scrub(f"bad header X-Key={key}!") == "bad header X-Key=[redacted]!"
    assert key not in text.one_line(f"echo:\n{key}")


def test_scrub_cuts_out_what_is_shaped_like_a_secret() -> None:
    assert text.scrub("Authorization: Bearer abc.def-123") == "Authorization: [redacted]"
    assert text.scrub('{"authorization": "Bearer xyz123456"}') == '{"authorization": "[redacted]"}'
    assert text.scrub("token Bearer abcdefghijk here") == "token Bearer [redacted] here"
    long_key = "sk-proj-" + "AbCdEf0123456789" * 3
    assert text.scrub(f"key {long_key} is bad") == "key [redacted] is bad"
    assert text.scrub("see http://alice:hunter22@host:8/v1") == "see http://host:8/v1"


def test_scrub_leaves_ordinary_text_alone() -> None:
    plain = "risk-assessment-0001 task-12345678 sk-learn-benchmarks, Bearer of news: 3"
    assert text.scrub(plain) == plain
    assert text.scrub("") == ""


def test_short_values_are_not_registered_as_secrets() -> None:
    text.register_secret("no-key")
    assert text.scrub("no-key here") == "no-key here"


def test_public_url_drops_user_and_password_only() -> None:
    assert text.public_url("http://u:p@h:8080/v1?x=1") == "http://h:8080/v1?x=1"
    assert text.public_url("https://api.openai.com/v1") == "https://api.openai.com/v1"
    assert text.public_url("http://user@h/v1") == "http://h/v1"


def test_api_errors_never_carry_a_registered_key() -> None:
    from tui.core.errors import AuthError

    key = text.register_secret("api-error-test-key-1f2e3d4c")
    exc = AuthError(f"Invalid header Authorization: Bearer {key} ({key})", code=key)
    assert key not in str(exc) and key not in exc.message
    assert exc.code == "[redacted]"


# -- fast paths: the patterns run only where they could match ----------------------

TRICKY = [
    "batch_abc123",
    "in_progress",
    "naïve café 日本語",
    "İstanbul ıi ſ \u212a",
    "a\xa0b",  # a no-break space: not printable to Python, matched by no pattern
    "tab\there",
    "Authorization=xyz12345",
    "AUTHORIZATION: Basic dXNlcjpwYXNz",
    "SK-" + "A" * 40,
    "token BEARER abcdefghijk",
    "s\u212a-" + "B" * 40,  # the Kelvin sign folds to k
    "ſk-" + "C" * 40,  # the long s folds to s
    "authorızation: Bearer xyz123456",  # the dotless i folds to i
    "http://alice:hunter22@host/v1",
    "mail bob@example.com",
    "\x1b[2J\u202e",
]


def test_fast_paths_answer_as_the_patterns_do() -> None:
    import re

    letters = re.compile(f"(?i)[{re.escape(''.join(text._SHAPE_WORDS))}]")
    folded = [chr(c) for c in range(128, 0x110000) if letters.match(chr(c))]
    assert "".join(folded) == text._FOLDED_TO_ASCII  # what could spell a word of a shape

    shapes = re.compile(text._SECRET_SHAPES)
    for sample in TRICKY:
        assert text.scrub(sample) == shapes.sub(text._redact, sample), sample
        scrubbed = shapes.sub(text._redact, sample)
        line = re.compile(text._CONTROL_ONE_LINE).sub(text._escape, scrubbed)
        assert one_line(sample) == line, sample
        assert printable(sample) == re.compile(text._CONTROL).sub(text._escape, sample)
    for folded in ("s\u212a-" + "B" * 40, "ſk-" + "C" * 40, "authorızation: Bearer xyz123456"):
        assert "[redacted]" in text.scrub(folded)  # what the patterns fold is cut out too


def test_ordinary_texts_compile_no_pattern() -> None:
    """Ids and statuses (what a launch shows) are printed without compiling a
    pattern: each costs ~1 ms to compile."""
    import subprocess
    import sys

    code = (
        "from tui.core import text\n"
        "text.one_line('batch_abc123'), text.printable('in_progress'), text.scrub('ok')\n"
        "print(text._compiled.cache_info().currsize)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "0"
