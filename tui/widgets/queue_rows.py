"""The rows of the Queue screen's two tables: job groups with their progress, and the
waiting parts with why each waits. Every value from a file or the user
(descriptions, models, reasons quoting them) is literal text on one line."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from tui.core.queue_view import COMPLETED, Group, Waiting, queue_table
from tui.core.text import one_line

GROUP_COLUMNS = (
    ("group", "Group", 16),
    ("status", "Status", 10),
    ("parts", "Parts", 7),
    ("requests", "Requests", 11),
    ("flight", "In flight", 9),
    ("waiting", "Waiting", 7),
    ("failed", "Failed", 6),
    ("description", "Description", 30),
)
NARROW_LEFT_OUT = ("flight", "waiting", "failed")  # below NARROW columns (the rest fit 80)
NARROW = 110
WAITING_COLUMNS = (
    ("part", "Part", 7),
    ("group", "Group", 16),
    ("tokens", "Tokens", 8),
    ("why", "Why it waits", 60),
)
STATUS_STYLES = {
    "completed": "green",
    "failed": "red",
    "paused": "yellow",
    "dropped": "dim",
    "incomplete": "red",
    "running": "cyan",
    "waiting": "",
}


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def group_requests(group: Group) -> tuple[int, int]:
    """(requests answered, requests in the group): a completed part counts whole, a
    part in flight by its batch's ``request_counts`` as last seen."""
    done = total = 0
    for part in group.latest.values():
        requests = _count((queue_table(part.job) or {}).get("requests"))
        total += requests
        if part.phase == COMPLETED:
            done += requests
            continue
        counts = (part.job.snapshot or {}).get("request_counts")
        if isinstance(counts, dict):
            done += min(requests, _count(counts.get("completed")) + _count(counts.get("failed")))
    return done, total


def group_columns(width: int) -> list[tuple[str, str, int]]:
    """The groups table's (key, title, width) at a screen ``width``; the description
    takes what is left."""
    keep = [c for c in GROUP_COLUMNS if width >= NARROW or c[0] not in NARROW_LEFT_OUT]
    used = sum(w + 2 for key, _, w in keep if key != "description")
    return [(k, t, max(12, width - used - 4) if k == "description" else w) for k, t, w in keep]


def group_row(group: Group, columns: list[tuple[str, str, int]]) -> tuple[Text, ...]:
    """The cells of ``group`` for ``columns`` (see :func:`group_columns`)."""
    facts = group.to_dict()
    done, total = group_requests(group)
    status = str(facts["status"])
    failed = int(facts["failed"])
    cells = {
        "group": Text(one_line(group.group_id), no_wrap=True, overflow="ellipsis"),
        "status": Text(status, style=STATUS_STYLES.get(status, "")),
        "parts": Text(f"{facts['completed']}/{facts['parts']}", justify="right"),
        "requests": Text(f"{done:,}/{total:,}", justify="right"),
        "flight": Text(str(facts["in_flight"]), justify="right"),
        "waiting": Text(str(facts["waiting"]), justify="right"),
        "failed": Text(str(failed), justify="right", style="red" if failed else ""),
        "description": Text(one_line(group.description) or "—", no_wrap=True, overflow="ellipsis"),
    }
    return tuple(cells[key] for key, _, _ in columns)


def waiting_columns(width: int) -> list[tuple[str, str, int]]:
    used = sum(w + 2 for key, _, w in WAITING_COLUMNS if key != "why")
    return [(k, t, max(20, width - used - 4) if k == "why" else w) for k, t, w in WAITING_COLUMNS]


def waiting_row(wait: Waiting) -> tuple[Text, ...]:
    return (
        Text(f"{wait.order + 1}/{wait.parts}", justify="right"),
        Text(one_line(wait.group_id), no_wrap=True, overflow="ellipsis"),
        Text(f"{wait.tokens:,}", justify="right"),
        Text(one_line(wait.reason), no_wrap=True, overflow="ellipsis"),
    )
