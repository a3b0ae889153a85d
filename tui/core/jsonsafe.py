"""JSON that came from outside batchdeck, parsed with bounds.

Request files, result files, HTTP bodies and upstream answers are untrusted. Parsed
here they can neither exhaust the stack (nesting is bounded at :data:`MAX_DEPTH`)
nor carry values the API refuses: ``NaN``/``Infinity``, numbers out of range
(``1e999``, a 5,000-digit integer) and lone surrogates (``"\\ud800"``) are errors,
as in the API itself. msgspec's decoder refuses those values already; the depth is
checked before decoding, cheaply: a document with few brackets cannot be deep.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from tui.core.errors import BatchdeckError

MAX_DEPTH = 128
"""Deepest nesting accepted (a JSON schema 10 levels deep stays far below it)."""

_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_DECODER = msgspec.json.Decoder()
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class JsonInputError(BatchdeckError, ValueError):
    """Untrusted JSON was malformed, too deep, or held a value JSON's users refuse."""


def depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects in ``data`` (strings skipped)."""
    deepest = level = 0
    for match in _TOKENS.finditer(data):
        token = match.group()
        if token in (b"[", b"{"):
            level += 1
            deepest = max(deepest, level)
        elif token in (b"]", b"}"):
            level -= 1
    return deepest


def check_depth(data: bytes, limit: int = MAX_DEPTH) -> None:
    """Raise :class:`JsonInputError` when ``data`` nests deeper than ``limit``."""
    if data.count(b"[") + data.count(b"{") > limit and depth(data) > limit:
        raise JsonInputError(f"JSON nested deeper than {limit} levels")


def loads(data: bytes | str, limit: int = MAX_DEPTH) -> Any:
    """Decode untrusted JSON; every problem is a :class:`JsonInputError` with a plain message."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    check_depth(raw, limit)
    try:
        return _DECODER.decode(raw)
    except msgspec.DecodeError as exc:
        raise JsonInputError(f"invalid JSON: {_explain(raw, exc)}") from None
    except RecursionError:  # only if the stack was already deep when called
        raise JsonInputError(f"JSON nested deeper than {limit} levels") from None


def _explain(raw: bytes, exc: msgspec.DecodeError) -> str:
    """msgspec's reason, or a plainer one where its words mislead (a lone surrogate
    escape reads "Input data was truncated")."""
    paired_until = 0
    for match in _SURROGATE.finditer(raw):
        if match.start() < paired_until:
            continue  # the low half of a pair seen just before
        code = int(match.group()[2:], 16)
        low = _SURROGATE.match(raw, match.end())
        if code < 0xDC00 and low and int(low.group()[2:], 16) >= 0xDC00:
            paired_until = low.end()
            continue
        return f"a lone surrogate escape (\\u{code:04x}) in a string"
    return str(exc)
