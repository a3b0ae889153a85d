"""Untrusted text made safe to print: invisible and controlling characters become
visible escapes.

Model output, metadata, file names and server messages may hold terminal escape
sequences, bidirectional overrides that reorder what is shown, zero-width
characters, or lone surrogates (valid in JSON, unencodable to a terminal). Shown
raw they could move the cursor, retitle the terminal, disguise text, or crash the
writer; here each becomes ``\\xNN`` or ``\\uNNNN``. Tab and newline are kept by
:func:`printable` and escaped by :func:`one_line`. (Rich markup is a separate
matter: the UI wraps such text in ``rich.text.Text``, which never parses markup.)
"""

from __future__ import annotations

import re

_INVISIBLE = (
    "\x7f-\x9f"  # DEL and C1 controls (CSI, OSC, ...)
    "\u200b\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff"  # bidi overrides, zero-width
    "\ud800-\udfff"  # lone surrogates
)
_CONTROL = re.compile(f"[\\x00-\\x08\\x0b-\\x1f{_INVISIBLE}]")
_CONTROL_ONE_LINE = re.compile(f"[\\x00-\\x1f{_INVISIBLE}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with control characters (not tab or newline) escaped."""
    return _CONTROL.sub(_escape, text)


def one_line(text: str, limit: int | None = None) -> str:
    """``text`` on one line: newlines and tabs too become escapes; cut at ``limit``."""
    flat = _CONTROL_ONE_LINE.sub(_escape, text)
    if limit is not None and len(flat) > limit:
        return flat[: max(limit - 1, 0)] + "…"
    return flat
