"""Byte counts for people: the one size format of batchdeck (screens and commands).

Decimal units, as the API's limits are read (200 MB is 200,000,000 bytes, see
:mod:`tui.core.requests`), so a size shown can be compared with a limit as is.
"""

from __future__ import annotations

UNITS = ("kB", "MB", "GB", "TB")


def format_size(size: int) -> str:
    """``512 B``, ``1.5 kB``, ``12.0 MB``, ``3.2 GB`` (powers of 1000)."""
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in UNITS:
        value /= 1000
        if value < 999.95 or unit == UNITS[-1]:
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover
