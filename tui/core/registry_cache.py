"""The registry's start-up cache: every job in one marshal file, and the newest
batch snapshots of each profile in another (both derived, safe to delete).

``.cache/index.marshal`` holds (magic, tag, record names, stamps, columns, deferred):
one list per :class:`Job` field (no tuple per job to build and collect) but the
:data:`DEFERRED_FIELDS`, what was seen of each record file as one array of unsigned
64-bit numbers, and each deferred field's column as marshal bytes with their CRC-32.
Those are decoded for all the file's jobs at once when one of them is first read
(:func:`deferred_field`, behind ``Job.__getattr__``): most of the file, and what
``Registry.load()`` at start-up does not need. ``newest.marshal``
holds, per profile, the :data:`NEWEST_JOBS` jobs with the newest snapshots. Both
carry the registry's *tag* (change token, directory stamp) they describe;
``tui.core.registry`` decides whether that is still the registry's state.
"""

from __future__ import annotations

import contextlib
import gc
import heapq
import marshal
import mmap
import os
import sys
import threading
import zlib
from array import array
from collections import deque
from collections.abc import Iterator, Mapping
from itertools import chain, repeat
from operator import attrgetter
from pathlib import Path
from typing import Any

from tui.core import paths
from tui.core.registry_records import FIELD_NAMES, Job

CACHE_DIR = ".cache"
CACHE_NAME = "index.marshal"
NEWEST_NAME = "newest.marshal"
NEWEST_JOBS = 250
"""Jobs per profile in ``.cache/newest.marshal`` (more than a screenful of rows)."""

DEFERRED_FIELDS = ("snapshot", "submission")
"""Fields of a job read from the cache that are decoded when first read (~3/4 of the
cache's decoding, for the snapshots' many small dicts)."""
EAGER_FIELDS = tuple(name for name in FIELD_NAMES if name not in DEFERRED_FIELDS)

CACHE_MAGIC = ("batchdeck-registry", 4, sys.version_info[:2], FIELD_NAMES)

# What the registry remembers of a record file: its stamp and when it was looked at.
Seen = tuple[int, int, int, int, int]
# A state of the whole registry: (change token, (dir inode, mtime_ns, ctime_ns)).
Tag = tuple[bytes, tuple[int, int, int]]


class Newest:
    """What :meth:`Registry.newest_snapshots` found. A plain class: a dataclass's
    generated methods cost their definition at launch, and none is used."""

    __slots__ = ("jobs", "total")

    def __init__(self, jobs: list[Job], total: int) -> None:
        self.jobs = jobs  # newest batch first
        self.total = total  # jobs of the profile (or of none) with a batch id and a snapshot


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building many long-lived objects.

    Otherwise it runs every few hundred allocations, and when it is re-enabled its
    next pass walks every object made meanwhile (~8 ms for 10,000 jobs). Instead,
    the new objects go straight to the oldest generation (``freeze`` then
    ``unfreeze`` does exactly that), unless the program uses ``gc.freeze`` itself.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def read_cache(
    root: Path,
) -> tuple[Tag | None, dict[str, Job], tuple[list[str], array[int]]] | None:
    """The cached (tag, jobs by record name, seen columns) of the registry at ``root``,
    or ``None`` if missing, foreign or broken."""
    try:
        with (
            open(root / CACHE_DIR / CACHE_NAME, "rb") as handle,
            mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data,  # no copy
            gc_paused(),
        ):
            magic, tag, names, stamps, columns, deferred = marshal.loads(data)
            if magic != CACHE_MAGIC:
                return None
            blobs = dict(zip(DEFERRED_FIELDS, deferred, strict=True))
            if any(zlib.crc32(blob) != crc for blob, crc in blobs.values()):
                return None  # checked now: a damaged column is found before it is needed
            listed = jobs_from_columns(columns, EAGER_FIELDS)
            defer(listed, {name: blob for name, (blob, _) in blobs.items()})
            jobs = dict(zip(names, listed, strict=True))
        numbers = array("Q")
        numbers.frombytes(stamps)
        if len(numbers) != 5 * len(jobs) or len(jobs) != len(names):
            return None
    except Exception:  # missing, or any damage at all: rebuild from the records
        return None
    return tag, jobs, (names, numbers)


def read_newest(root: Path, tag: Tag) -> tuple[dict[str | None, int], list[Job]] | None:
    """The newest-snapshots file's (jobs per profile, jobs) if it was written at
    ``tag``; ``None`` if missing, broken or older."""
    try:
        with open(root / CACHE_DIR / NEWEST_NAME, "rb") as handle:
            data = handle.read()  # marshal.load(file) reads in small pieces: ~7x slower
        with gc_paused():
            magic, written, totals, columns = marshal.loads(data)
            if magic != CACHE_MAGIC or written != tag:
                return None
            return totals, jobs_from_columns(columns, FIELD_NAMES)
    except Exception:  # missing, or any damage at all
        return None


def cache_bytes(
    jobs: Mapping[str, Job], seen: Mapping[str, Seen], names: list[str], tag: Tag | None
) -> bytes:
    """The cache file for the records ``names`` (``ValueError`` if marshal cannot
    hold one of them)."""
    chosen = list(map(jobs.__getitem__, names))
    columns = tuple(list(map(attrgetter(name), chosen)) for name in EAGER_FIELDS)
    blobs = (marshal.dumps(list(map(attrgetter(name), chosen))) for name in DEFERRED_FIELDS)
    deferred = tuple((blob, zlib.crc32(blob)) for blob in blobs)
    stamps = array("Q", chain.from_iterable(map(seen.__getitem__, names))).tobytes()
    return marshal.dumps((CACHE_MAGIC, tag, names, stamps, columns, deferred))


def newest_bytes(jobs: Mapping[str, Job], tag: Tag | None) -> bytes | None:
    """For :meth:`Registry.newest_snapshots`: per profile, the :data:`NEWEST_JOBS`
    jobs with a batch id and the newest snapshots, and how many such jobs it has;
    ``None`` if no job has a snapshot (no file then)."""
    by_profile: dict[str | None, list[Job]] = {}
    for job in jobs.values():
        if job.batch_id and job.snapshot:
            by_profile.setdefault(job.profile, []).append(job)
    if not by_profile:
        return None
    totals = {profile: len(jobs) for profile, jobs in by_profile.items()}
    key = attrgetter("snapshot_created_at")
    newest = [job for jobs in by_profile.values() for job in heapq.nlargest(NEWEST_JOBS, jobs, key)]
    columns = tuple(list(map(attrgetter(name), newest)) for name in FIELD_NAMES)
    return marshal.dumps((CACHE_MAGIC, tag, totals, columns))


def write_cache_files(root: Path, data: bytes, newest: bytes | None) -> None:
    """Replace the cache files (the registry lock held); ``OSError`` if that fails."""
    from tui.core.fsutil import atomic_write

    directory = root / CACHE_DIR
    paths.ensure_private_dir(directory)
    for name in os.listdir(directory):
        if name.endswith(".tmp"):  # an interrupted write: none runs, the lock is held
            with contextlib.suppress(OSError):
                os.unlink(directory / name)
    if newest is None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(directory / NEWEST_NAME)
    else:
        atomic_write(directory / NEWEST_NAME, newest, sync=False)
    atomic_write(directory / CACHE_NAME, data, sync=False)


def newest_missing(root: Path, jobs: Mapping[str, Job]) -> bool:
    """Whether the newest-snapshots file should be there and is not (a cache
    written by an earlier batchdeck)."""
    if os.path.exists(root / CACHE_DIR / NEWEST_NAME):
        return False
    return any(job.batch_id and job.snapshot for job in jobs.values())


_SLOTS = {name: Job.__dict__[name] for name in FIELD_NAMES}


def jobs_from_columns(columns: tuple[list[Any], ...], names: tuple[str, ...]) -> list[Job]:
    """Jobs from the cache's columns (one list per field of ``names``, in order);
    the other fields are left unset (see :func:`defer`).

    A frozen dataclass's ``__init__`` sets each field through a Python-level call;
    setting each slot column by column from C is 2-3 times faster, which matters
    for 10,000 jobs at start-up. The values were checked when first parsed.
    """
    if len(columns) != len(names) or len({len(column) for column in columns}) > 1:
        raise ValueError("cache columns do not match Job")
    jobs = list(map(object.__new__, repeat(Job, len(columns[0]))))
    for name, column in zip(names, columns, strict=True):
        deque(map(_SLOTS[name].__set__, jobs, column), maxlen=0)
    return jobs


class _Deferred:
    """Jobs read from one cache file and their deferred columns, not yet decoded."""

    def __init__(self, jobs: list[Job], blobs: dict[str, bytes]) -> None:
        self.jobs = jobs  # kept alive until filled: their ids stay theirs
        self.blobs = blobs

    def fill(self, name: str) -> None:
        """Decode the column ``name`` and set it on every job (``_LOCK`` held)."""
        blob = self.blobs.pop(name, None)
        if blob is None:
            return
        with gc_paused():
            column = marshal.loads(blob)
        if not isinstance(column, list) or len(column) != len(self.jobs):
            raise RuntimeError(f"the registry cache's {name} column does not match its jobs")
        deque(map(_SLOTS[name].__set__, self.jobs, column), maxlen=0)
        if not self.blobs:
            for job in self.jobs:
                _PENDING.pop(id(job), None)
            self.jobs = []


# id(job) -> what will fill its unset fields. The jobs of one read stay alive until
# their deferred columns are read: at most one cache read per Registry (its first load).
_PENDING: dict[int, _Deferred] = {}
_LOCK = threading.RLock()  # a finalizer run by a fill that reads a job must not deadlock


def defer(jobs: list[Job], blobs: dict[str, bytes]) -> None:
    """Let ``jobs`` (whose fields ``blobs`` are unset) decode them on first read."""
    if jobs:
        deferred = _Deferred(jobs, blobs)
        _PENDING.update(zip(map(id, jobs), repeat(deferred)))


def deferred_field(job: Job, name: str) -> Any:
    """``Job.__getattr__``: the value of a field that was unset (a job read from the
    cache whose deferred columns are not decoded yet); ``AttributeError`` otherwise."""
    slot = _SLOTS.get(name)
    if slot is None:
        raise AttributeError(f"'Job' object has no attribute {name!r}")
    if name in DEFERRED_FIELDS:
        with _LOCK:
            deferred = _PENDING.get(id(job))
            if deferred is not None:
                deferred.fill(name)
    return slot.__get__(job, Job)


def marshallable(job: Job) -> bool:
    """Whether the cache can hold ``job`` (marshal knows no dates, for one)."""
    try:
        marshal.dumps(attrgetter(*FIELD_NAMES)(job))
    except ValueError:
        return False
    return True
