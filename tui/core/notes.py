"""Notes on a job: dated remarks a user adds over time, apart from its description.

A job has one description (what the batch is, set by ``registry describe`` or the
inspector's edit) and any number of notes (``registry note``: "rerun with
temperature 0", "numbers look off"), oldest first. A note never replaces anything.

The record keeps them as ``notes = [{at = <unix seconds>, text = "..."}, ...]``.
:class:`tui.core.registry.Job` has no field of its own for them: they live among the
record's other keys (``Job.extra``), which every registry version keeps through
rewrites, so an older batchdeck reading the record loses none of them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui.core.registry import Job, Registry

NOTES_KEY = "notes"
MAX_NOTE = 2000  # characters in one note


@dataclass(frozen=True, slots=True)
class Note:
    at: float  # unix seconds
    text: str


def notes_of(job: Job) -> list[Note]:
    """The job's notes, oldest first (an entry that is not a note is skipped)."""
    raw = job.extra.get(NOTES_KEY)
    if not isinstance(raw, list):
        return []
    return [note for note in map(_note_from, raw) if note is not None]


def _note_from(raw: Any) -> Note | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
        return None
    at = raw.get("at")
    stamp = float(at) if isinstance(at, int | float) and not isinstance(at, bool) else 0.0
    return Note(stamp, raw["text"])


def add_note(registry: Registry, job_id: str, text: str, *, now: float | None = None) -> Job:
    """Append a note to the job (under the registry's lock); the job as saved.

    ``ValueError`` for an empty note or one over :data:`MAX_NOTE` characters."""
    text = text.strip()
    if not text:
        raise ValueError("a note needs some text")
    if len(text) > MAX_NOTE:
        raise ValueError(f"a note is at most {MAX_NOTE} characters (this one has {len(text)})")
    entry = {"at": time.time() if now is None else now, "text": text}

    def append(job: Job) -> Job:
        kept = job.extra.get(NOTES_KEY)
        notes = [*kept, entry] if isinstance(kept, list) else [entry]
        return replace(job, extra={**job.extra, NOTES_KEY: notes})

    return registry.modify(job_id, append)


def note_lines(job: Job) -> list[tuple[str, str]]:
    """``("Note", "<UTC time>  <text>")`` per note, for plain-text pages."""
    from tui.core.timefmt import exact

    return [("Note", f"{exact(note.at)}  {note.text}") for note in notes_of(job)]
