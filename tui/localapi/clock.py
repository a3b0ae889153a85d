"""Simulated time: clocks and the lifecycle's timing knobs.

Everything in the server that has a time (``created_at``, the 24 h completion
window, when a request finishes) uses *simulated* Unix seconds from a clock, a
callable returning a float:

- :class:`ScaledClock` runs ``scale`` times faster than the wall clock, so a 24 h
  window passes in 86.4 s at ``scale=1000``. At ``scale=1`` it is the wall clock.
- :class:`ManualClock` stands still until told to move: tests and UI snapshots pin
  time with it and step it with :meth:`ManualClock.advance`.

A batch's state is a function of simulated time, so a test that advances a manual
clock gets the same state on every run, whatever the machine's speed.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields

Clock = Callable[[], float]
"""Returns simulated "now" in Unix seconds."""

COMPLETION_WINDOW_SECONDS = 24 * 3600
DEFAULT_START = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a fixed start for manual clocks


class ScaledClock:
    """Simulated time running ``scale`` times faster than real time from ``start``."""

    def __init__(
        self,
        scale: float = 1.0,
        *,
        start: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (math.isfinite(scale) and scale > 0):  # NaN would stop time, inf break it
            raise ValueError(f"time scale must be a finite number greater than 0, not {scale}")
        self.scale = float(scale)
        self._monotonic = monotonic
        self._origin_real = monotonic()
        self._origin_sim = time.time() if start is None else float(start)

    def __call__(self) -> float:
        return self._origin_sim + (self._monotonic() - self._origin_real) * self.scale


class ManualClock:
    """A clock that only moves when told to; it never goes backwards."""

    scale = 1.0

    def __init__(self, start: float = DEFAULT_START) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, now: float) -> None:
        with self._lock:
            if now < self._now:
                raise ValueError("a clock cannot go backwards")
            self._now = float(now)


@dataclass(frozen=True, slots=True)
class Timing:
    """How long each lifecycle step takes, in *simulated* seconds.

    A batch keeps the timing it was created with. ``per_request`` paces the lines:
    the k-th line to run (1-based) finishes ``k * per_request`` after the batch went
    in progress (0 = all at once; the upstream executor also waits for the upstream).
    """

    validation: float = 3.0
    per_request: float = 0.05
    finalizing: float = 2.0
    cancelling: float = 5.0

    def to_dict(self) -> dict[str, float]:
        return {
            "validation": self.validation,
            "per_request": self.per_request,
            "finalizing": self.finalizing,
            "cancelling": self.cancelling,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, float]) -> Timing:
        names = {f.name for f in fields(cls)}
        return cls(**{k: float(v) for k, v in raw.items() if k in names})
