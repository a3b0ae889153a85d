"""Untrusted text made safe to print: invisible and controlling characters become
visible escapes.

Model output, metadata, file names and server messages may hold terminal escape
sequences, bidirectional overrides that reorder what is shown, zero-width
characters, or lone surrogates (valid in JSON, unencodable to a terminal). Shown
raw they could move the cursor, retitle the terminal, disguise text, or crash the
writer; here each becomes ``\\xNN`` or ``\\uNNNN``. Tab and newline are kept by
:func:`printable` and escaped by :func:`one_line`. (Rich markup is a separate
matter: the UI wraps such text in ``rich.text.Text``, which never parses markup.)

A server may also echo a request's ``Authorization`` header (the API key) in an
error message. :func:`scrub` cuts out every key registered with
:func:`register_secret` (``BatchClient`` registers its key) and anything shaped like
a key; :func:`public_url` drops the ``user:password@`` of a URL.

The patterns are compiled on first need (:func:`_compiled`): each costs about a
millisecond to compile, and the texts a launch shows (ids, statuses) need none of
them (:func:`_has_control`, :func:`_may_hold_secret_shape` tell them apart).
"""

from __future__ import annotations

import functools
import re

_INVISIBLE = (
    "\x7f-\x9f"  # DEL and C1 controls (CSI, OSC, ...)
    "\u200b\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff"  # bidi overrides, zero-width
    "\ud800-\udfff"  # lone surrogates
)
_CONTROL = f"[\\x00-\\x08\\x0b-\\x1f{_INVISIBLE}]"
_CONTROL_ONE_LINE = f"[\\x00-\\x1f{_INVISIBLE}]"
_compiled = functools.cache(re.compile)
"""A pattern of this module, compiled once, when first needed."""


def _has_control(text: str) -> bool:
    """Whether ``text`` may hold a character of :data:`_CONTROL_ONE_LINE`: all of
    them (controls, format characters, line separators, surrogates) are
    non-printable to Python, so a text that ``isprintable()`` holds none."""
    return not text.isprintable()


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with control characters (not tab or newline) escaped."""
    return _compiled(_CONTROL).sub(_escape, text) if _has_control(text) else text


def one_line(text: str, limit: int | None = None) -> str:
    """``text`` on one line: newlines and tabs too become escapes; cut at ``limit``.
    Secrets are cut out first (:func:`scrub`): one-line texts are ids, statuses and
    the server's messages, never a body the user asked to read verbatim."""
    flat = scrub(text)
    if _has_control(flat):
        flat = _compiled(_CONTROL_ONE_LINE).sub(_escape, flat)
    if limit is not None and len(flat) > limit:
        return flat[: max(limit - 1, 0)] + "…"
    return flat


# -- secrets ----------------------------------------------------------------------

REDACTED = "[redacted]"
_MIN_SECRET = 8  # shorter "keys" (e.g. "no-key") are no secret and too common to cut out
_secrets: set[str] = set()
_SECRET_SHAPES = (
    r"(?i)(?P<header>\bauthorization[\"']?\s*[:=]\s*[\"']?)(?:(?:bearer|basic)\s+)?[^\s\"',;}]+"
    r"|(?P<scheme>\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}"
    r"|\bsk-[A-Za-z0-9_-]{32,}"  # OpenAI keys: 48 characters and more after sk-
    r"|(?P<url>//)[^/\s@:]*:[^/\s@]*@"  # user:password@ in a URL
)
_SHAPE_WORDS = ("authorization", "bearer", "basic", "sk-")
"""What each of :data:`_SECRET_SHAPES` but the URL's holds, in any case."""
_FOLDED_TO_ASCII = "\u0130\u0131\u017f\u212a"
"""The characters the patterns' case folding takes for a letter of :data:`_SHAPE_WORDS`
(dotted and dotless i, long s, the Kelvin sign): all of them, found by trying every
character."""


def _may_hold_secret_shape(text: str) -> bool:
    """Whether :data:`_SECRET_SHAPES` may match ``text``: it can not in a text with
    no ``@``, none of :data:`_SHAPE_WORDS` in any case and none of
    :data:`_FOLDED_TO_ASCII` (which could spell one of them)."""
    if "@" in text or any(char in text for char in _FOLDED_TO_ASCII):
        return True
    lowered = text.lower()
    return any(word in lowered for word in _SHAPE_WORDS)


def register_secret(secret: str) -> str:
    """Remember ``secret`` (an API key) for :func:`scrub`, for the rest of the
    process; returns it. Short values are ignored."""
    if len(secret) >= _MIN_SECRET:
        _secrets.add(secret)
    return secret


def register_client_secrets(key: str, base_url: str) -> None:
    """Register what a client sends a server: its key and its base URL's password
    (alone, and as the ``user:password`` of Basic auth, plain and in base64)."""
    from base64 import b64encode
    from urllib.parse import unquote, urlsplit

    register_secret(key)
    try:
        parts = urlsplit(base_url)
        user, password = parts.username, parts.password
    except ValueError:
        return
    if password:
        login = f"{unquote(user or '')}:{unquote(password)}"
        for secret in (password, unquote(password), login, b64encode(login.encode()).decode()):
            register_secret(secret)


def _redact(match: re.Match[str]) -> str:
    if match.group("url"):
        return "//"
    prefix = match.group("header") or match.group("scheme") or ""
    return prefix + REDACTED


def scrub(text: str) -> str:
    """``text`` with secrets cut out: every registered key, and anything shaped like
    one (``Authorization: ...``, ``Bearer ...``, ``sk-...``, ``user:password@`` in a
    URL). Apply it to every text a server sent before it is stored or shown."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    if not _may_hold_secret_shape(text):
        return text
    return _compiled(_SECRET_SHAPES).sub(_redact, text)


def public_url(url: str) -> str:
    """``url`` without its ``user:password@`` part: what may be stored or printed."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return scrub(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def plural(count: int, word: str, many: str = "") -> str:
    """The count and its word agreeing: ``1 row``, ``2 rows``, ``0 rows``.

    ``many`` is the plural when it is not ``word + "s"`` (``plural(n, "copy", "copies")``).
    """
    return f"{count} {word if count == 1 else many or word + 's'}"
