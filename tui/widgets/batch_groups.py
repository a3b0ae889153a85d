"""Job groups in the batches table: the batches of one job group (the parts of a
split or queued submission, sharing the registry's ``group_id``) fold into one row
that expands to its parts.

:class:`BatchGroups` keeps, per group, the batch ids of its parts (from the
registry's jobs) and the part whose row stands for the group (its *lead*: the first
part seen, so the row stays put as more parts arrive). While a group is folded only
the lead's row is shown, with the group's description, summed progress and overall
status; expanded, every part has its own row and the lead's id cell says so. Groups
fold only while no status or text filter is set (then the matching parts show one
by one). The table asks :meth:`BatchGroups.hidden` in its filter and
:meth:`BatchGroups.cells` when it paints a row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from rich.text import Text

from tui.core.models import Batch, RequestCounts
from tui.core.text import one_line

if TYPE_CHECKING:
    from tui.core.registry import Job

FOLDED = "▸"
OPEN = "▾"
FINAL = frozenset({"completed", "failed", "expired", "cancelled"})


def group_label(jobs: Iterable[Job]) -> str:
    """The group's description: its parts' without the `` (part i/n)`` tail."""
    for job in jobs:
        if job.description:
            return job.description.rsplit(" (part ", 1)[0]
    return ""


def group_status(batches: Iterable[Batch]) -> str:
    """One status for the parts: the least advanced one not final, else
    ``completed`` when all completed, else the first other final state."""
    statuses = [batch.status for batch in batches]
    for status in ("validating", "in_progress", "finalizing", "cancelling"):
        if status in statuses:
            return status
    if all(status == "completed" for status in statuses):
        return "completed"
    return next((s for s in statuses if s != "completed"), "completed")


def summed(batches: Iterable[Batch]) -> RequestCounts:
    total = completed = failed = 0
    for batch in batches:
        counts = batch.request_counts
        total, completed, failed = (
            total + counts.total,
            completed + counts.completed,
            failed + counts.failed,
        )
    return RequestCounts(total=total, completed=completed, failed=failed)


def _parts(job: Job) -> int:
    from tui.core.queue_view import queue_table  # not before the first frame: 4 ms

    value = (queue_table(job) or {}).get("parts")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class BatchGroups:
    """Which batch rows fold into a job group's row, and how that row reads."""

    def __init__(self) -> None:
        self.expanded: set[str] = set()
        self.folding = True  # off while a status or text filter is set
        self._group_of: dict[str, str] = {}  # batch id -> group id
        self._members: dict[str, list[str]] = {}  # group id -> batch ids
        self._leads: dict[str, str] = {}  # group id -> the batch id of its row

    def index(self, jobs: Mapping[str, Job]) -> None:
        """Learn the groups from the registry's jobs (by batch id)."""
        self._group_of = {batch_id: job.group_id for batch_id, job in jobs.items() if job.group_id}
        members: dict[str, list[str]] = {}
        for batch_id, group in self._group_of.items():
            members.setdefault(group, []).append(batch_id)
        self._members = members

    def group_of(self, batch_id: str) -> str | None:
        return self._group_of.get(batch_id)

    def present(self, group: str, batches: Mapping[str, Batch]) -> list[str]:
        return [b for b in self._members.get(group, ()) if b in batches]

    def lead(self, group: str, batches: Mapping[str, Batch]) -> str | None:
        """The batch whose row stands for ``group``; None when fewer than two of its
        parts are listed (a lone part is an ordinary row)."""
        present = self.present(group, batches)
        if len(present) < 2:
            return None
        lead = self._leads.get(group)
        if lead not in present:
            lead = self._leads[group] = present[0]
        return lead

    def note_seen(self, batch_ids: Iterable[str]) -> None:
        """Batches in the order they were listed: the first of a group leads it."""
        for batch_id in batch_ids:
            group = self._group_of.get(batch_id)
            if group is not None:
                self._leads.setdefault(group, batch_id)

    def hidden(self, batch_id: str, batches: Mapping[str, Batch]) -> bool:
        """Whether the row of ``batch_id`` is folded into its group's row."""
        group = self._group_of.get(batch_id)
        if group is None or not self.folding or group in self.expanded:
            return False
        lead = self.lead(group, batches)
        return lead is not None and lead != batch_id

    def folded_lead(self, batch_id: str, batches: Mapping[str, Batch]) -> str | None:
        """The group of ``batch_id`` if its row stands for the whole folded group."""
        group = self._group_of.get(batch_id)
        if group is None or not self.folding or group in self.expanded:
            return None
        return group if self.lead(group, batches) == batch_id else None

    def toggle(self, batch_id: str) -> str | None:
        """Expand or fold the group of ``batch_id``; its id, or None if it has none."""
        group = self._group_of.get(batch_id)
        if group is not None:
            self.expanded.symmetric_difference_update({group})
        return group

    def cells(
        self,
        batch: Batch,
        cells: dict[str, Text],
        batches: Mapping[str, Batch],
        jobs: Mapping[str, Job],
    ) -> Batch | None:
        """Change the cells of a group's lead row in place; returns the group as a
        batch (summed counts, overall status) for the caller's progress and status
        cells, or None when ``batch`` is an ordinary row."""
        group = self._group_of.get(batch.id)
        if group is None or not self.folding or self.lead(group, batches) != batch.id:
            return None
        present = self.present(group, batches)
        parts = [batches[b] for b in present]
        member_jobs = [jobs[b] for b in present if b in jobs]
        total = max([_parts(job) for job in member_jobs] + [len(present)])
        if group in self.expanded:
            cells["id"] = GroupIdCell(OPEN, group, batch.id)
            return None
        cells["id"] = GroupIdCell(FOLDED, group, batch.id)
        label = one_line(group_label(member_jobs), 40)
        done = sum(1 for part in parts if part.status in FINAL)
        parts_done = f"{done}/{total} parts"  # first: a narrow column still shows it
        cells["description"] = Text(
            f"{parts_done} · {label}" if label else parts_done, no_wrap=True, overflow="ellipsis"
        )
        return replace(batch, status=group_status(parts), request_counts=summed(parts))


class GroupIdCell(Text):
    """The id cell of a group's row: ``▸ …a1b2c3d4e5`` (folded) or ``▾`` (expanded)
    and the group id's tail; ``batch_id`` (the lead's) keeps the row's place in a sort."""

    def __init__(self, sign: str, group: str, batch_id: str) -> None:
        super().__init__(f"{sign} ", style="bold")
        flat = one_line(group)
        self.append(flat if len(flat) <= 11 else "…" + flat[-10:], style="not bold")
        self.batch_id = batch_id
