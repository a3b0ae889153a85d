"""StatusTimeline: every timestamp of a batch, exact and relative, in lifecycle order."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from tui.core import timefmt
from tui.core.models import Batch

LABELS = {
    "created_at": "created",
    "in_progress_at": "in progress",
    "finalizing_at": "finalizing",
    "completed_at": "completed",
    "failed_at": "failed",
    "expired_at": "expired",
    "cancelling_at": "cancelling",
    "cancelled_at": "cancelled",
    "expires_at": "expires",
}


def timeline_table(batch: Batch, reference: float | None = None) -> Table:
    """One row per timestamp the server set: step, exact time, relative time and the
    time spent until the next step; ``expires`` last while the batch can still run,
    flagged when close or past (a final batch's expiry no longer matters)."""
    now = timefmt.now() if reference is None else reference
    table = Table.grid(padding=(0, 2))
    table.add_column(justify="right", style="bold", no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(style="dim", no_wrap=True)
    table.add_column(style="dim")
    stamps = batch.timestamps()
    steps = [(name, value) for name, value in stamps.items() if name != "expires_at"]
    steps.sort(key=lambda pair: pair[1])
    for index, (name, value) in enumerate(steps):
        following = steps[index + 1][1] if index + 1 < len(steps) else None
        if following is not None:
            took = f"took {timefmt.duration(following - value)}"
        elif not batch.is_final:
            took = f"for {timefmt.duration(now - value)}"
        else:
            took = ""
        table.add_row(
            LABELS.get(name, name),
            timefmt.exact(value),
            timefmt.relative(value, now),
            took,
        )
    expires = stamps.get("expires_at")
    if expires is not None and not batch.is_final:
        style = "bold red" if expires <= now else "yellow" if expires - now < 3600 else ""
        table.add_row(
            Text("expires", style=style or "bold"),
            Text(timefmt.exact(expires), style=style),
            Text(timefmt.relative(expires, now), style=style or "dim"),
            "",
        )
    return table


class StatusTimeline(Static):
    """Shows :func:`timeline_table` of the batch given to :meth:`show`."""

    def show(self, batch: Batch) -> None:
        self.update(timeline_table(batch))
