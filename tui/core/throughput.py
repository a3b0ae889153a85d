"""How fast a running batch finishes requests, and when it may be done.

The inspector keeps a :class:`Pace` per batch: each retrieve adds a sample (the
local time it was seen and ``request_counts.done``). The rate comes from the
samples of the last :data:`WINDOW` seconds; with fewer than two there is no
number, only "estimating…", and a batch whose count has not moved has a rate of
zero and no ETA: never a made-up figure. ``in_progress_at`` (the server's clock)
only says how long the batch has been running.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from tui.core.models import Batch
from tui.core.timefmt import duration

WINDOW = 600.0  # seconds of samples the rate is measured over
KEPT = 200  # samples kept at most


@dataclass(frozen=True, slots=True)
class Sample:
    at: float  # local seconds (any monotonic clock)
    done: int


@dataclass(frozen=True, slots=True)
class Estimate:
    """A rate in requests per minute and the seconds left, when they can be told."""

    per_minute: float | None = None
    seconds_left: float | None = None
    over: float = 0.0  # seconds the rate was measured over


@dataclass
class Pace:
    """The samples of one batch, oldest first."""

    samples: list[Sample] = field(default_factory=list)

    def add(self, at: float, done: int) -> None:
        """A new sample; a count that went back (a server reset) starts over."""
        if self.samples and (done < self.samples[-1].done or at < self.samples[-1].at):
            self.samples.clear()
        self.samples.append(Sample(at, done))
        del self.samples[:-KEPT]

    def estimate(self, total: int) -> Estimate:
        return estimate(self.samples, total)


def estimate(samples: list[Sample], total: int) -> Estimate:
    """The rate over the last :data:`WINDOW` seconds of ``samples`` and the time left
    to reach ``total``; empty with fewer than two samples or no time between them."""
    if len(samples) < 2:
        return Estimate()
    last = samples[-1]
    first = next(s for s in samples if s.at >= last.at - WINDOW)
    if first is last:
        first = samples[-2]
    elapsed = last.at - first.at
    if elapsed <= 0:
        return Estimate()
    per_second = (last.done - first.done) / elapsed
    left = max(total - last.done, 0)
    seconds_left = left / per_second if per_second > 0 else None
    if left == 0:
        seconds_left = 0.0
    return Estimate(per_second * 60, seconds_left, elapsed)


def pace_line(batch: Batch, pace: Pace, now: float) -> str | None:
    """``running 12m · 30.0 req/min · ETA ~4m`` for an in-progress batch, else None.

    ``now``: the current time (:func:`tui.core.timefmt.now`), for the running time."""
    if batch.status != "in_progress":
        return None
    parts = []
    if batch.in_progress_at is not None:
        parts.append(f"running {duration(now - batch.in_progress_at)}")
    found = pace.estimate(batch.request_counts.total)
    if found.per_minute is None:
        parts.append("estimating…")
    elif found.per_minute == 0:
        parts.append(f"no request finished in the last {duration(found.over)}, no ETA yet")
    else:
        parts.append(f"{found.per_minute:.1f} req/min")
        if found.seconds_left is not None:
            parts.append(
                "all done, finishing"
                if found.seconds_left == 0
                else f"ETA ~{duration(rounded_up(found.seconds_left))}"
            )
    return " · ".join(parts)


def rounded_up(seconds: float) -> float:
    """``seconds`` up to the whole minute past a minute: an ETA of 2.9 minutes is "~3m",
    not "~2m" (:func:`duration` cuts)."""
    return seconds if seconds < 60 else math.ceil(seconds / 60) * 60
