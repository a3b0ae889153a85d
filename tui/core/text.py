"""Untrusted text made safe to print: control characters become visible escapes.

Model output, metadata, file names and server messages may hold terminal escape
sequences. Shown raw they could move the cursor, change colours or retitle the
terminal; here every C0/C1 control except tab and newline becomes ``\\xNN``.
(Rich markup is a separate matter: the UI wraps such text in ``rich.text.Text``,
which never parses markup.)
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}" if ord(match.group()) < 0x100 else "\\u2028"


def printable(text: str) -> str:
    """``text`` with control characters (not tab or newline) escaped."""
    return _CONTROL.sub(_escape, text)


def one_line(text: str, limit: int | None = None) -> str:
    """``text`` on one line: newlines and tabs too become escapes; cut at ``limit``."""
    flat = _CONTROL_ONE_LINE.sub(_escape, text)
    if limit is not None and len(flat) > limit:
        return flat[: max(limit - 1, 0)] + "…"
    return flat
