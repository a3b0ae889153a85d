"""The first lines of a file on the server, read without downloading all of it.

:func:`first_lines` streams the file's content and stops after :data:`PREVIEW_LINES`
lines or :data:`PREVIEW_BYTES` bytes, whichever comes first (the SDK hands the
content over in chunks of at most 1 MiB, the most ever read). The lines are decoded
leniently (bad UTF-8 replaced) and each is cut to :data:`LINE_SHOWN` characters;
callers show them literally.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.core.client import BatchClient
    from tui.core.models import FileInfo

PREVIEW_LINES = 20
PREVIEW_BYTES = 64 * 1024
LINE_SHOWN = 2000  # characters of a line kept


@dataclass(frozen=True, slots=True)
class Preview:
    """The first lines of a file; ``more``: the file goes on after them."""

    lines: tuple[str, ...]
    more: bool


def cut_lines(data: bytes, complete: bool, lines: int = PREVIEW_LINES) -> Preview:
    """The first ``lines`` lines of ``data``, the start of a file (``complete``: all of
    it). A last line cut by the byte limit is kept, marked by ``more``."""
    if not data:
        return Preview((), not complete)
    parts = data.split(b"\n")
    ends_cleanly = complete and data.endswith(b"\n")
    if ends_cleanly:
        parts.pop()  # the empty string after the last newline
    shown = parts[:lines]
    more = len(parts) > lines or not complete
    text = tuple(
        part.rstrip(b"\r").decode("utf-8", errors="replace")[:LINE_SHOWN] for part in shown
    )
    return Preview(text, more)


async def first_lines(
    client: BatchClient,
    info: FileInfo,
    *,
    lines: int = PREVIEW_LINES,
    limit: int = PREVIEW_BYTES,
) -> Preview:
    """The first ``lines`` lines of the file ``info``, reading at most ``limit`` bytes
    of it (plus the rest of the chunk in hand)."""
    data = bytearray()
    stream = client.iter_file_content(info.id, info=info)
    async with contextlib.aclosing(stream):  # type: ignore[type-var]  # an async generator
        async for chunk in stream:
            data += chunk
            if len(data) >= limit or data.count(b"\n") >= lines:
                ended = 0 < info.bytes <= len(data)  # that chunk was the last
                break
        else:
            ended = True
    complete = ended and len(data) <= limit
    return cut_lines(bytes(data[:limit]), complete, lines)
