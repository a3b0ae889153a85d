"""FleetHealth: one line per profile with how it answers, since when, its active
batches and requests in flight (the fleet view's first thing to look at).

Profile names and the servers' messages are untrusted text: every piece is a
``rich.text.Text`` built from :func:`tui.core.text.one_line`, never markup.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from tui.core import fleet, timefmt
from tui.core.text import one_line, plural

STATE_STYLES = {
    fleet.OK: ("●", "green"),
    fleet.WAITING: ("○", "bright_black"),
    fleet.RATE_LIMITED: ("◐", "yellow"),
    fleet.NO_KEY: ("✖", "magenta"),
}
TROUBLE = ("✖", "red")  # auth refused, unreachable, server error, other refusals
REASON_WIDTH = 60


def health_line(health: fleet.Health, now: float) -> Text:
    """``● work  ok for 12m · 2 active · 340 requests in flight`` (or the state, and
    its reason)."""
    mark, style = STATE_STYLES.get(health.state, TROUBLE)
    line = Text()
    line.append(f"{mark} ", style=style)
    line.append(one_line(health.profile, 24), style="bold")
    line.append("  ")
    line.append(health.state, style=style)
    if health.since is not None and health.state != fleet.WAITING:
        line.append(f" for {timefmt.duration(max(now - health.since, 0))}", style="bright_black")
    if health.ok or health.active:
        line.append(f" · {health.active} active")
        if health.in_flight:
            line.append(f" · {plural(health.in_flight, 'request')} in flight")
    if health.reason and not health.ok:
        line.append(f" · {one_line(health.reason, REASON_WIDTH)}", style="bright_black")
    return line


class FleetHealth(Static):
    """The health strip: every profile's :class:`~tui.core.fleet.Health`."""

    DEFAULT_CSS = """
    FleetHealth {
        height: auto;
        max-height: 8;
        padding: 0 1;
        background: $boost;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.healths: list[fleet.Health] = []

    def show(self, healths: Sequence[fleet.Health], now: float | None = None) -> None:
        self.healths = list(healths)
        moment = timefmt.now() if now is None else now
        self.update(Text("\n").join(health_line(h, moment) for h in self.healths))
