"""Throughput and ETA of a running batch: no number until two samples, never a fake one."""

from __future__ import annotations

from typing import Any

from tui.core.models import Batch, RequestCounts
from tui.core.throughput import KEPT, WINDOW, Estimate, Pace, Sample, estimate, pace_line

T0 = 1_700_000_000.0


def running(done: int, total: int = 100, **fields: Any) -> Batch:
    return Batch(
        id="batch_1",
        status=fields.pop("status", "in_progress"),
        endpoint="/v1/chat/completions",
        input_file_id="file-in",
        created_at=int(T0),
        in_progress_at=fields.pop("in_progress_at", int(T0)),
        request_counts=RequestCounts(total=total, completed=done),
        **fields,
    )


def test_one_sample_is_estimating_and_gives_no_number() -> None:
    pace = Pace()
    assert estimate([], 10) == Estimate()
    pace.add(T0 + 60, 10)
    assert pace.estimate(100) == Estimate()
    assert pace_line(running(10), pace, T0 + 60) == "running 1m · estimating…"


def test_two_samples_give_a_rate_and_an_eta() -> None:
    pace = Pace()
    pace.add(T0 + 60, 10)
    pace.add(T0 + 120, 40)  # 30 requests a minute, 60 left: 2 minutes
    found = pace.estimate(100)
    assert found.per_minute == 30.0 and found.seconds_left == 120.0
    assert pace_line(running(40), pace, T0 + 120) == "running 2m · 30.0 req/min · ETA ~2m"


def test_the_eta_rounds_up_to_the_minute() -> None:
    pace = Pace()
    pace.add(T0 + 60, 0)
    pace.add(T0 + 120, 60)  # 60 a minute, 173 left: 2.9 minutes
    assert pace_line(running(60, total=233), pace, T0 + 120).endswith("ETA ~3m")


def test_no_progress_has_a_zero_rate_and_no_eta() -> None:
    pace = Pace()
    pace.add(T0, 5)
    pace.add(T0 + 45, 5)
    assert pace.estimate(100) == Estimate(0.0, None, 45.0)
    line = pace_line(running(5), pace, T0 + 45)
    assert line == "running 45s · no request finished in the last 45s, no ETA yet"


def test_everything_done_is_finishing() -> None:
    pace = Pace()
    pace.add(T0, 90)
    pace.add(T0 + 30, 100)
    assert pace.estimate(100).seconds_left == 0.0
    line = pace_line(running(100), pace, T0 + 30)
    assert line == "running 30s · 20.0 req/min · all done, finishing"


def test_the_rate_is_measured_over_the_recent_window_only() -> None:
    samples = [Sample(T0, 0), Sample(T0 + 10, 50)]  # a burst long ago
    samples += [Sample(T0 + 10 + WINDOW + 60 * n, 50 + 6 * n) for n in range(1, 6)]
    found = estimate(samples, 100)
    assert found.per_minute == 6.0  # not the early burst


def test_a_count_that_goes_back_or_a_clock_that_jumps_back_starts_over() -> None:
    pace = Pace()
    pace.add(T0, 10)
    pace.add(T0 + 10, 20)
    pace.add(T0 + 20, 5)  # the server reset its counts
    assert pace.samples == [Sample(T0 + 20, 5)]
    pace.add(T0 + 5, 6)  # the local clock went back
    assert pace.samples == [Sample(T0 + 5, 6)]
    pace.add(T0 + 5, 7)  # no time between two samples: no rate
    assert pace.estimate(100) == Estimate()


def test_samples_are_bounded() -> None:
    pace = Pace()
    for n in range(KEPT + 50):
        pace.add(T0 + n, n)
    assert len(pace.samples) == KEPT and pace.samples[-1].done == KEPT + 49


def test_only_a_running_batch_has_a_pace_line() -> None:
    pace = Pace()
    for status in ("validating", "finalizing", "completed", "cancelling"):
        assert pace_line(running(1, status=status), pace, T0) is None
    unknown_start = running(1, in_progress_at=None)
    assert pace_line(unknown_start, pace, T0) == "estimating…"
