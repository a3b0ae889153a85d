"""Atomic, private file writes: temp file in the same directory, fsync, rename.

A reader sees the old content or the new, never half of either; a crash leaves at
worst a stray ``.tmp`` file that the next writer of the same directory may remove.
With ``overwrite=False`` the finished file is published only where nothing exists
yet (a hard link, which fails if the name is taken), so a file that appeared while
the new one was being written is never replaced.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

PRIVATE_FILE = 0o600
_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _publish_new(tmp: Path, path: Path) -> None:
    """Give the finished ``tmp`` the name ``path`` unless that name exists
    (:class:`FileExistsError`; ``tmp`` is left for the caller to remove).

    A hard link never replaces; on a file system without hard links the check and
    the rename are two steps (a small race, the best such a system allows).
    """
    try:
        os.link(tmp, path)
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS or isinstance(exc, FileExistsError):
            raise
        if os.path.lexists(path):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path)) from None
        os.replace(tmp, path)
        return
    with contextlib.suppress(OSError):  # published; the temp name is only a second link
        tmp.unlink()


@contextlib.contextmanager
def atomic_file(
    path: Path, mode: int = PRIVATE_FILE, *, sync: bool = True, overwrite: bool = True
) -> Iterator[IO[bytes]]:
    """Yield a binary file that replaces ``path`` only if the block ends without error.

    ``overwrite=False``: it appears only if ``path`` does not exist by then, else
    :class:`FileExistsError` (the existing file is untouched, the temp file removed).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            if sync:
                os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            _publish_new(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if sync:
        fsync_dir(path.parent)


def atomic_write(path: Path, data: bytes, mode: int = PRIVATE_FILE, *, sync: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically (see :func:`atomic_file`)."""
    with atomic_file(path, mode, sync=sync) as handle:
        handle.write(data)
