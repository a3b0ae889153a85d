"""Atomic writes: replace by default; with ``overwrite=False`` never replace a file,
even one that appeared while the new one was being written."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from tui.core.fsutil import atomic_file, atomic_write


def leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_atomic_write_replaces_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"old")
    atomic_write(path, b"new")
    assert path.read_bytes() == b"new"
    assert path.stat().st_mode & 0o777 == 0o600
    assert leftovers(tmp_path) == []


def test_no_overwrite_writes_a_new_file(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    with atomic_file(path, overwrite=False) as handle:
        handle.write(b"new")
    assert path.read_bytes() == b"new"
    assert path.stat().st_nlink == 1 and leftovers(tmp_path) == []


def test_no_overwrite_keeps_a_file_that_appeared_meanwhile(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    with pytest.raises(FileExistsError), atomic_file(path, overwrite=False) as handle:
        handle.write(b"new")
        path.write_bytes(b"theirs")  # appears while ours is being written
    assert path.read_bytes() == b"theirs"
    assert leftovers(tmp_path) == []


def test_no_overwrite_without_hard_links_still_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src: object, dst: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    path = tmp_path / "f.txt"
    with atomic_file(path, overwrite=False) as handle:
        handle.write(b"one")
    assert path.read_bytes() == b"one"
    with pytest.raises(FileExistsError), atomic_file(path, overwrite=False) as handle:
        handle.write(b"two")
    assert path.read_bytes() == b"one" and leftovers(tmp_path) == []
