"""What the files screen says about a set of files: the delete confirmation and the
note of where downloads went. Server text (names, purposes, ids) is cut to one line;
the dialog and the notification show it literally."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from tui.core.models import FileInfo
from tui.core.sizes import format_size
from tui.core.text import one_line

LISTED = 5  # files named in a confirmation or a notification


class BatchUse(Protocol):
    """A batch using a file (``tui.screens.files.Use``)."""

    @property
    def batch_id(self) -> str: ...

    @property
    def role(self) -> str: ...


def delete_question(
    infos: list[FileInfo], uses: Mapping[str, Sequence[BatchUse]]
) -> tuple[str, str]:
    """The question and the detail of the confirmation before deleting ``infos``."""
    lines = [
        f"{one_line(info.filename, 60)} · {one_line(info.purpose, 40)} · {format_size(info.bytes)}"
        for info in infos[:LISTED]
    ]
    if len(infos) > LISTED:
        lines.append(f"… and {len(infos) - LISTED} more")
    used = [info for info in infos if uses.get(info.id)]
    if len(infos) == 1 and used:
        named = ", ".join(
            f"{one_line(use.batch_id, 40)} ({use.role})" for use in uses[infos[0].id][:3]
        )
        lines.append(f"Still used by {named}.")
    elif used:
        lines.append(f"{len(used)} of them still used by a batch.")
    if len(infos) == 1:
        return f"Delete file {one_line(infos[0].id)}?", "\n".join(lines)
    return f"Delete {len(infos)} files?", "\n".join(lines)


def saved_note(targets: list[Path]) -> str:
    """``Saved /full/path`` for one file; the folder and the names for several."""
    if len(targets) == 1:
        return f"Saved {targets[0]}"
    names = ", ".join(target.name for target in targets[:LISTED])
    more = f" and {len(targets) - LISTED} more" if len(targets) > LISTED else ""
    return f"Saved {len(targets)} files to {targets[0].parent}: {names}{more}"
