"""Atomic, private file writes: temp file in the same directory, fsync, rename.

A reader sees the old content or the new, never half of either; a crash leaves at
worst a stray ``.tmp`` file that the next writer of the same directory may remove.
With ``overwrite=False`` the finished file is published only where nothing exists
yet (a hard link, which fails if the name is taken), so a file that appeared while
the new one was being written is never replaced.

Modes: every directory batchdeck creates is 0700 (:func:`make_private_dirs`, parents
included) and every file 0600 (:data:`PRIVATE_FILE`), whatever the umask; the one
exception is a file the user exports (``results --export``), which gets the mode any
new file of theirs would get (:func:`export_mode`, from the umask).
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
PRIVATE_DIR = 0o700
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


def make_private_dirs(directory: Path) -> Path:
    """Create ``directory`` and every missing parent, each 0700 whatever the umask.

    (``Path.mkdir(parents=True, mode=...)`` gives the parents the umask's mode.)
    Directories that exist already are left as they are: they may be the user's.
    """
    directory = Path(directory)
    missing: list[Path] = []
    for candidate in (directory, *directory.parents):
        if candidate.is_dir():
            break
        missing.append(candidate)
    for path in reversed(missing):
        try:
            path.mkdir(PRIVATE_DIR)
        except FileExistsError:
            if not path.is_dir():
                raise
            continue  # made meanwhile by someone else: theirs to set
        os.chmod(path, PRIVATE_DIR)  # mkdir's mode is cut by the umask
    return directory


def export_mode() -> int:
    """The mode a new file of the user's gets (0o666 less the umask): for exports."""
    return 0o666 & ~_umask()


def _umask() -> int:
    try:  # Linux: read it without changing it (os.umask would, for every thread)
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    current = os.umask(0o077)  # the strictest value while it is being read
    os.umask(current)
    return current


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

    The file gets ``mode`` exactly (not cut by the umask); missing parent directories
    are made 0700.

    ``overwrite=False``: it appears only if ``path`` does not exist by then, else
    :class:`FileExistsError` (the existing file is untouched, the temp file removed).
    """
    path = Path(path)
    make_private_dirs(path.parent)
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
