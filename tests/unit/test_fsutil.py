"""Atomic writes: replace by default; with ``overwrite=False`` never replace a file,
even one that appeared while the new one was being written."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui.core.fsutil import atomic_file, atomic_write, export_mode, make_private_dirs


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


# -- modes ----------------------------------------------------------------------------


@pytest.fixture(params=[0o000, 0o022, 0o077])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def test_made_directories_and_their_parents_are_0700(tmp_path: Path, umask: int) -> None:
    deep = make_private_dirs(tmp_path / "a" / "b" / "c")
    for path in (deep, deep.parent, deep.parent.parent):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
    with atomic_file(tmp_path / "x" / "y" / "f") as handle:
        handle.write(b"data")
    for path in (tmp_path / "x", tmp_path / "x" / "y"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
    assert stat.S_IMODE((tmp_path / "x" / "y" / "f").stat().st_mode) == 0o600


def test_existing_directories_are_left_as_they_are(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    mine.chmod(0o755)
    make_private_dirs(mine / "new")
    assert stat.S_IMODE(mine.stat().st_mode) == 0o755
    assert stat.S_IMODE((mine / "new").stat().st_mode) == 0o700


def test_an_export_follows_the_umask(tmp_path: Path, umask: int) -> None:
    assert export_mode() == 0o666 & ~umask
    with atomic_file(tmp_path / "rows.csv", export_mode()) as handle:
        handle.write(b"a,b\n")
    assert stat.S_IMODE((tmp_path / "rows.csv").stat().st_mode) == 0o666 & ~umask
    assert os.umask(umask) == umask  # reading it changed nothing
