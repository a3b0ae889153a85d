"""Send a checked batch file: split it when it is over a limit, submit every part
through the journal, and tie the parts together as one job group.

Shared by ``batchdeck submit`` and the compose screen, so both follow the same rules:
the file is validated first (:func:`tui.core.requests.validate`); a file whose only
problems are its size or counts is split on request (:func:`tui.core.requests.split`)
into ``<stem>.parts/``; every part becomes its own batch, and when there are several
they share one ``group_id`` in the registry.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tui.core.journal import Journal, SubmitError, check_metadata
from tui.core.registry import Job
from tui.core.requests import (
    DEFAULT_LIMITS,
    InvalidRequestFileError,
    Limits,
    ValidationReport,
    split,
    validate,
)

__all__ = [
    "MAX_EXPIRY",
    "MIN_EXPIRY",
    "NeedsSplitError",
    "PartialSubmitError",
    "SubmitPlan",
    "new_group_id",
    "parse_expiry",
    "parse_metadata",
    "plan_submit",
    "submit_plan",
]

MIN_EXPIRY = 3600  # the API: output_expires_after.seconds from 1 hour ...
MAX_EXPIRY = 30 * 24 * 3600  # ... to 30 days
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_EXPIRY = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$", re.IGNORECASE)

PartProgress = Callable[[int, int, int, int | None], None]
"""``(part index (0-based), part count, bytes sent, bytes total)``."""


class PartialSubmitError(SubmitError):
    """Some parts of a split file were submitted, then one failed: ``jobs`` were sent
    (same ``group_id``), ``cause`` stopped the rest; submitting again would send the
    sent parts twice, so the message names what is left."""

    def __init__(self, jobs: list[Job], failed: Path, cause: Exception) -> None:
        self.jobs = jobs
        self.failed = failed
        self.cause = cause
        message = getattr(cause, "message", None) or str(cause)
        super().__init__(
            f"{len(jobs)} part(s) submitted, then {failed.name} failed: {message}; "
            f"submit {failed.name} and the parts after it on their own"
        )


class NeedsSplitError(SubmitError):
    """The file is over a size or count limit; it can be sent split in parts."""

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        first = report.problems[0] if report.problems else None
        super().__init__(
            f"{report.path}: over the API's limits ({first}); split it into several batches"
        )


def parse_expiry(text: str) -> int:
    """``"1h"``, ``"7d"``, ``"90m"`` or seconds, checked against 1 hour .. 30 days."""
    match = _EXPIRY.match(text)
    if not match:
        raise SubmitError(f"output expiry {text!r}: use a number with s, m, h or d (e.g. 7d)")
    seconds = int(match.group(1)) * _UNITS[(match.group(2) or "s").lower()]
    if not MIN_EXPIRY <= seconds <= MAX_EXPIRY:
        raise SubmitError(f"output expiry {text!r}: between 1h and 30d")
    return seconds


def parse_metadata(pairs: Sequence[str]) -> dict[str, str]:
    """``["k=v", ...]`` as a dict, checked against the API's metadata limits."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SubmitError(f"metadata {pair!r}: write it as key=value")
        if key in out:
            raise SubmitError(f"metadata key {key!r} given twice")
        out[key] = value
    return check_metadata(out)


def new_group_id() -> str:
    """A fresh id shared by the parts of one split submission."""
    return "grp-" + secrets.token_hex(6)


@dataclass(frozen=True)
class SubmitPlan:
    """The files to send for one input file: itself, or its parts."""

    source: Path
    endpoint: str
    parts: tuple[Path, ...]
    report: ValidationReport

    @property
    def split(self) -> bool:
        return len(self.parts) > 1 or self.parts[0] != self.source


def plan_submit(
    path: str | Path,
    endpoint: str | None = None,
    *,
    allow_split: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> SubmitPlan:
    """Validate ``path`` and decide what to send.

    Raises :class:`~tui.core.requests.InvalidRequestFileError` for a file the API would
    refuse, and :class:`NeedsSplitError` for one only over a limit when ``allow_split``
    is off. ``endpoint`` defaults to the file's own; ``limits`` are the API's unless
    a test says otherwise.
    """
    path = Path(path)
    report = validate(path, endpoint=endpoint, limits=limits)
    endpoint = endpoint or report.endpoint
    if report.ok and endpoint:
        return SubmitPlan(path, endpoint, (path,), report)
    if not report.only_limit_problems or not endpoint:
        raise InvalidRequestFileError(report)
    if not allow_split:
        raise NeedsSplitError(report)
    parts = split(
        path,
        path.parent / f"{path.stem}.parts",
        max_requests=limits.max_requests,
        max_bytes=limits.max_bytes,
        max_embedding_inputs=limits.max_embedding_inputs,
        endpoint=endpoint,
    )
    return SubmitPlan(path, endpoint, tuple(parts), report)


async def submit_plan(
    journal: Journal,
    plan: SubmitPlan,
    *,
    description: str = "",
    metadata: Mapping[str, str] | None = None,
    output_expires_after: int | None = None,
    tags: tuple[str, ...] = (),
    progress: PartProgress | None = None,
) -> list[Job]:
    """Submit each part through ``journal``; several parts share a new ``group_id``
    and get ``(part i/n)`` in their description. Returns the registry jobs in order."""
    total = len(plan.parts)
    group_id = new_group_id() if total > 1 else None
    jobs: list[Job] = []
    for index, part in enumerate(plan.parts):
        label = description
        if total > 1:
            label = f"{description} (part {index + 1}/{total})".strip()

        def report(sent: int, size: int | None, index: int = index) -> None:
            if progress is not None:
                progress(index, total, sent, size)

        try:
            job = await journal.submit(
                part,
                plan.endpoint,
                metadata or {},
                label,
                tags=tags,
                output_expires_after=output_expires_after,
                group_id=group_id,
                progress=report,
            )
        except Exception as exc:
            if not jobs:
                raise
            raise PartialSubmitError(jobs, part, exc) from exc
        jobs.append(job)
    return jobs
