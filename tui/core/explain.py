"""What happened to a batch, in a sentence or two, from its own fields.

A ``failed`` batch either never ran (the API refused its input file at validation,
``errors.data`` says why) or failed after it started running (``in_progress_at`` is
set, the request counts say how far it got); a ``completed`` batch may hold failed
requests (all of them: there is no output file); ``expired`` and ``cancelled``
batches stopped part way. :func:`explain` tells these apart; the inspector shows its
answer (with the keys that fetch what is left), the CLI can print it.

Server text (error codes) goes into the sentence as it came: callers show the
result literally.
"""

from __future__ import annotations

from collections import Counter

from tui.core.models import Batch
from tui.core.text import one_line
from tui.core.timefmt import duration

SHOWN_CODES = 3  # distinct error codes named in a sentence


def error_codes(batch: Batch) -> str:
    """``invalid_json_line ×2, duplicate_custom_id`` (the most frequent first), or ``""``."""
    counts = Counter(one_line(item.code or "error", 60) for item in batch.errors)
    named = [
        f"{code} ×{count}" if count > 1 else code for code, count in counts.most_common(SHOWN_CODES)
    ]
    if len(counts) > SHOWN_CODES:
        named.append(f"{len(counts) - SHOWN_CODES} other code(s)")
    return ", ".join(named)


def _ran_for(batch: Batch, end: int | None) -> str:
    """`` after 12m running`` when both ends are known, else ``""``."""
    if batch.in_progress_at is None or end is None or end < batch.in_progress_at:
        return ""
    return f" after {duration(end - batch.in_progress_at)} running"


def _counts(batch: Batch) -> str:
    counts = batch.request_counts
    return f"{counts.done} of {counts.total} requests done ({counts.failed} failed)"


def explain(batch: Batch) -> str | None:
    """What happened to ``batch`` that a reader must not miss, or None (running or
    every request succeeded)."""
    counts = batch.request_counts
    status = batch.status
    if status == "failed":
        return _explain_failed(batch)
    if status == "completed":
        if not batch.output_file_id and (counts.failed or batch.error_file_id):
            return (
                f"Every request failed ({counts.failed} of {counts.total}): "
                "this batch has no output file."
            )
        if counts.failed:
            return (
                f"Completed: {counts.completed} of {counts.total} requests succeeded, "
                f"{counts.failed} failed (their errors are in the error file)."
            )
        return None
    if status == "expired":
        return (
            f"Expired: the {one_line(batch.completion_window)} window ended"
            f"{_ran_for(batch, batch.expired_at)} with {_counts(batch)}."
        )
    if status == "cancelled":
        return f"Cancelled{_ran_for(batch, batch.cancelled_at)} with {_counts(batch)}."
    if status == "cancelling":
        return "Cancelling: requests already running finish, the rest are dropped."
    return None


def _explain_failed(batch: Batch) -> str:
    counts = batch.request_counts
    codes = error_codes(batch)
    ran = batch.in_progress_at is not None or counts.done > 0
    if not ran:
        if not batch.errors:
            return "Failed before running; the server gave no reason."
        if any(item.line is not None for item in batch.errors):
            found = len(batch.errors)
            return (
                f"Validation failed: the API refused the input file "
                f"({found} error(s) below: {codes})."
            )
        return f"The API refused the batch before running it: {codes}."
    message = f"Failed{_ran_for(batch, batch.failed_at)} with {_counts(batch)}."
    if codes:
        message += f" Errors: {codes}."
    return message
