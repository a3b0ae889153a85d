"""Open a local file batchdeck reads (a request file, a compose data file) safely.

Only regular files are read. A FIFO would block the reader forever, a device
(``/dev/zero``) never ends, a directory is no file at all: each is refused before any
byte is read, with a plain :class:`~tui.core.request_report.UnreadableFileError`, and
so is a file that cannot be opened (missing, not permitted, a parent that is a file).
The file is opened with ``O_NONBLOCK`` and checked again once open, so a FIFO swapped
in between the two looks cannot block either.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from tui.core.request_report import UnreadableFileError
from tui.core.text import one_line

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _refuse_special(path: str | os.PathLike[str], mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    raise UnreadableFileError(f"{one_line(os.fspath(path))}: {kind}, not a regular file")


def _open_checked(path: str, flags: int) -> int:
    """``open()``'s opener: never blocks on a FIFO, refuses what is not a regular file."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        _refuse_special(path, os.fstat(fd).st_mode)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_request_file(path: str | os.PathLike[str], buffering: int = -1) -> BinaryIO:
    """Open ``path`` for reading in binary (unbuffered with ``buffering=0``).

    Raises :class:`~tui.core.request_report.UnreadableFileError` (a ``BatchdeckError``
    and an ``OSError``) for anything but a readable regular file.
    """
    try:
        _refuse_special(path, os.stat(path).st_mode)
        return open(path, "rb", buffering=buffering, opener=_open_checked)
    except UnreadableFileError:
        raise
    except OSError as exc:
        shown = one_line(os.fspath(path))
        raise UnreadableFileError(f"{shown}: cannot read it: {exc.strerror or exc}") from exc
