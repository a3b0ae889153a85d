"""Human times: relative ("3m ago") and exact, from Unix timestamps."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> float:
    """The current time; UI tests pin it by patching this one function."""
    return time.time()


def duration(seconds: float) -> str:
    """A short duration: 45s, 12m, 3h 5m, 2d 4h."""
    seconds = int(max(seconds, 0))
    if seconds < 60:
        return f"{seconds}s"
    minutes, _ = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def relative(timestamp: float | None, reference: float | None = None) -> str:
    """``3m ago`` or ``in 2h``; an empty string for no timestamp."""
    if not timestamp:
        return ""
    delta = (reference if reference is not None else now()) - timestamp
    return f"{duration(delta)} ago" if delta >= 0 else f"in {duration(-delta)}"


def exact(timestamp: float | None) -> str:
    """``2026-11-25 14:03:07 UTC``."""
    if not timestamp:
        return ""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
