"""The local job registry: what the API does not keep, one TOML record per job.

A job is what batchdeck submitted (or saw): its batch id once known, a description,
tags, the local input file, the profile and base URL it went to, where its results
were downloaded, its job group and retry lineage, the last snapshot of the batch
(for offline viewing) and the submission journal's table (``tui.core.journal``).

Layout of the registry directory (``paths.registry_dir()``, mode 0700)::

    job_20250101-120000_1a2b3c4d.toml   one record per job (0600), named after the job id
    Batch_X..3f2a9c0d1e2b4a5c.toml      an id that needed sanitising gets a hash suffix
    .lock                               flock'ed for every change; holds the change token
    .cache/index.marshal                derived start-up cache, safe to delete
    .cache/newest.marshal               the newest batch snapshots of each profile (ditto)
    corrupt/<record>.<timestamp>        records that failed to load, moved aside

The TOML records are the source of truth. A change rewrites one record atomically
(temp file, fsync, rename) while holding the lock on ``.lock`` for the whole
read-modify-write, so processes (and threads) never lose each other's updates.

    registry = Registry()                      # paths.registry_dir()
    jobs = registry.load()                     # {job_id: Job}, all of them
    job = registry.add(Job(description="nightly eval", input_path="in.jsonl"))
    registry.update(job.job_id, batch_id="batch_abc", tags=["eval"])
    registry.modify(job.job_id, lambda j: j.with_submission(state="created"))
    registry.record_snapshot(batch)            # models.Batch; writes only on change
    registry.save_cache()                      # at exit: the next start is fast

Start-up reads the cache. Every change also writes a fresh random *change token*
into ``.lock``; when the token and the directory's stamp are those the cache was
written with, nothing changed and the cache is the registry. Otherwise each
record is ``stat``-ed and only those whose (inode, size, mtime, ctime) changed are
parsed; a missing or broken cache is rebuilt from the records. A job read from
the cache decodes its ``snapshot`` and ``submission`` when one is first read (with
those of every job of that read: most of the cache, and what a start needs least).
A record edited in place by hand (same inode, directory untouched) is seen by
``load(verify=True)`` or after the next change.

Beside the cache, the jobs with the newest batch snapshots of each profile are
written with the same tag (:meth:`Registry.newest_snapshots`): an app can show
those before it reads the whole registry.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.core import paths
from tui.core.registry_cache import (
    CACHE_DIR,
    CACHE_NAME,
    NEWEST_JOBS,
    NEWEST_NAME,
    Newest,
    Seen,
    Tag,
    cache_bytes,
    gc_paused,
    marshallable,
    newest_bytes,
    newest_missing,
    read_cache,
    read_newest,
    write_cache_files,
)
from tui.core.registry_records import (
    FIELD_NAMES,
    FORMAT_VERSION,
    RECORD_SUFFIX,
    SUBMISSION_STATES,
    Job,
    JobNotFoundError,
    RecordError,
    Stamp,
    canonical,
    clean,
    new_job_id,
    record_name,
    share_strings,
)

if TYPE_CHECKING:
    from array import array

    from tui.core.models import Batch

if sys.platform == "win32":  # pragma: no cover - batchdeck's tests run on POSIX
    import msvcrt
else:
    import fcntl

__all__ = [
    "CACHE_DIR",
    "CACHE_NAME",
    "FORMAT_VERSION",
    "NEWEST_JOBS",
    "NEWEST_NAME",
    "RECORD_SUFFIX",
    "SUBMISSION_STATES",
    "Job",
    "JobNotFoundError",
    "Newest",
    "RecordError",
    "Registry",
    "clean",
    "new_job_id",
    "record_name",
]

log = logging.getLogger(__name__)

LOCK_NAME = ".lock"
CORRUPT_DIR = "corrupt"

RACY_NS = 2_000_000_000
"""A record changed less than this before it was looked at is re-read next time:
two writes within one timestamp tick could otherwise look identical (as in git)."""

_TOKEN_BYTES = 8
_U64 = 2**64 - 1


def _stamp(st: os.stat_result) -> Stamp:
    return (st.st_ino, st.st_size, st.st_mtime_ns & _U64, st.st_ctime_ns & _U64)


def _unchanged(seen: Seen | None, stamp: Stamp) -> bool:
    """Whether a file with ``stamp`` is certainly the one remembered as ``seen``:
    same stamp, and it had not changed for RACY_NS when it was looked at."""
    return seen is not None and seen[:4] == stamp and max(seen[2], seen[3]) < seen[4] - RACY_NS


def _dir_stamp(path: Path) -> tuple[int, int, int]:
    st = os.stat(path)
    return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns)


class Registry:
    """The job records under ``root`` (default ``paths.registry_dir()``).

    :meth:`load` returns every job (fast, through the cache) and remembers them;
    the other methods read or write one record each. A write holds the registry
    lock for one read-modify-write and replaces one file. Call :meth:`save_cache`
    before exiting so that the next start-up finds the cache current.
    ``durable=False`` skips fsync (tests, benchmarks). Messages about records that
    could not be loaded collect in ``problems`` (and go to the log).

    One object may be shared by threads. The jobs it hands out are shared with
    its memory: treat them as read-only (``Job`` is frozen; leave its dicts alone).
    """

    def __init__(self, root: Path | None = None, *, durable: bool = True) -> None:
        self.root = Path(root) if root is not None else paths.registry_dir()
        self.durable = durable
        self.problems: list[str] = []
        self._jobs: dict[str, Job] = {}  # by record name
        self._seen: dict[str, Seen] = {}  # by record name; see _seen_map()
        self._seen_columns: tuple[list[str], array[int]] | None = None  # not yet in _seen
        self._by_batch: dict[str, str] | None = None  # batch id -> record name, built lazily
        self._tag: Tag | None = None  # the registry state memory is complete for
        self._loaded = False
        self._dirty = True  # memory differs from the cache file
        self._reported: set[tuple[str, Stamp]] = set()
        self._root_ready = False
        self._mutex = threading.RLock()  # one thread at a time in this object

    # -- reading ------------------------------------------------------------------

    def load(self, *, verify: bool = False) -> dict[str, Job]:
        """Every job, by job id (in no particular order).

        Re-reads what changed since the cache or the last load; ``verify=True``
        also looks for records edited in place by hand.
        """
        with self._mutex:
            self._ensure_root()
            tag = self._current_tag()
            if not self._loaded:
                cached = read_cache(self.root)
                if cached is not None:
                    self._tag, self._jobs, self._seen_columns = cached
                    self._dirty = False
                self._loaded = True
            if verify or self._tag != tag or not tag[0]:
                self._rescan(tag)
            return {job.job_id: job for job in self._jobs.values()}

    def newest_snapshots(self, profile: str | None, count: int) -> Newest | None:
        """Before the first :meth:`load`: the ``count`` jobs of ``profile`` (or of no
        profile) with a batch id and the newest batch snapshots (by the batch's
        ``created_at``), newest first, read from a small file written with the cache.

        ``None`` if that file cannot say for sure (missing, written before the last
        change to the registry, ``count`` above :data:`NEWEST_JOBS`) or once the
        registry is loaded: :meth:`load` has the answer then.
        """
        with self._mutex:
            if self._loaded or count > NEWEST_JOBS:
                return None
            self._ensure_root()
            tag = self._current_tag()
            if not tag[0]:
                return None  # no change token: nothing cached is trusted
            found = read_newest(self.root, tag)
            if found is None:
                return None
            totals, jobs = found
            total = sum(totals.get(name, 0) for name in {None, profile})
        mine = [job for job in jobs if job.profile in (None, profile)]
        mine.sort(key=attrgetter("snapshot_created_at"), reverse=True)
        return Newest(mine[:count], total)

    def get(self, job_id: str) -> Job | None:
        """The job as its record is on disk now, or ``None``."""
        with self._mutex:
            name = record_name(job_id)
            try:
                stamp = _stamp(os.stat(self.root / name))
            except FileNotFoundError:
                return None
            if _unchanged(self._seen_map().get(name), stamp):
                return self._jobs[name]
            try:
                return self._read_record(name, {})
            except FileNotFoundError:
                return None
            except RecordError as error:
                with self._locked() as fd:
                    self._move_aside(fd, name, error.stamp or stamp, str(error))
                return None

    def find_by_batch(self, batch_id: str) -> Job | None:
        """The job of ``batch_id``, read fresh; ``None`` if no job had it at the last
        :meth:`load` (or got it from this registry since)."""
        with self._mutex:
            if not self._loaded:
                self.load()
            name = self._batch_index().get(batch_id)
            job = self.get(self._jobs[name].job_id) if name is not None else None
            return job if job is not None and job.batch_id == batch_id else None

    # -- writing ------------------------------------------------------------------

    def add(self, job: Job) -> Job:
        """Store a new job and return it as stored; ``FileExistsError`` if its job id
        is taken, ``ValueError`` if it cannot be stored."""
        with self._mutex:
            name = record_name(job.job_id)
            with self._locked() as fd:
                if os.path.lexists(self.root / name):
                    raise FileExistsError(f"job {job.job_id!r} already exists")
                return self._write_record(fd, name, job)

    def update(self, job_id: str, /, **changes: Any) -> Job:
        """Set fields of a job (read-modify-write under the lock); the new job.

        :class:`JobNotFoundError` (a ``KeyError``) if there is no such job,
        ``TypeError`` for an unknown field,
        ``ValueError`` for a value that could not be stored.
        """
        if "job_id" in changes:
            raise ValueError("a job's id cannot change")
        unknown = set(changes) - set(FIELD_NAMES)
        if unknown:
            raise TypeError(f"Job has no field(s) {', '.join(sorted(unknown))}")
        if "tags" in changes:
            changes["tags"] = tuple(changes["tags"])
        return self.modify(job_id, lambda job: replace(job, **changes))

    def modify(self, job_id: str, change: Callable[[Job], Job]) -> Job:
        """Replace a job with ``change(job)``, reading and writing it under the lock.

        ``change`` gets the record as it is on disk now and returns the new job, e.g.
        ``lambda job: job.with_submission(state="uploaded")``; nothing is written if
        it returns an equal job. :class:`JobNotFoundError` (a :class:`BatchdeckError`
        and a ``KeyError``) if there is no such job. ``change``
        runs under the lock: it must not call the registry.
        """
        with self._mutex:
            name = record_name(job_id)
            with self._locked() as fd:
                current = self._read_locked(fd, name)
                if current is None:
                    raise JobNotFoundError(job_id)
                new = change(current)
                if new.job_id != job_id:
                    raise ValueError("a job's id cannot change")
                if new == current:
                    return current
                return self._write_record(fd, name, new)

    def record_snapshot(self, batch: Batch, *, create: bool = False) -> Job | None:
        """Keep ``batch.to_dict()`` as the snapshot of the job with this batch id.

        Writes only if the snapshot changed. ``create=True`` gives a batch no job
        knows a job of its own (job id = batch id). Returns the job, or ``None`` if
        no job has this batch id (as of the last :meth:`load`).
        """
        with self._mutex:
            snapshot = clean(batch.to_dict(), from_server=True)
            if not self._loaded:
                self.load()
            name = self._batch_index().get(batch.id)
            if name is None:
                if not create:
                    return None
                name = record_name(batch.id)
            known = self._jobs.get(name)
            if known is not None and known.snapshot == snapshot:
                with contextlib.suppress(OSError):
                    if _unchanged(self._seen_map().get(name), _stamp(os.stat(self.root / name))):
                        return known
            with self._locked() as fd:
                current = self._read_locked(fd, name)
                if current is None:
                    if not create:
                        return None
                    current = Job(job_id=batch.id, batch_id=batch.id, created_at=batch.created_at)
                elif current.batch_id != batch.id:
                    return None
                if current.snapshot == snapshot:
                    return current
                return self._write_record(fd, name, replace(current, snapshot=snapshot))

    def forget(self, job_id: str) -> bool:
        """Delete a job's record; whether there was one."""
        with self._mutex:
            name = record_name(job_id)
            with self._locked() as fd:
                if not os.path.lexists(self.root / name):
                    return False
                with self._changing(fd):
                    os.unlink(self.root / name)
                self._drop(name)
            return True

    def save_cache(self) -> None:
        """Write the start-up cache if it is behind what this registry knows."""
        with self._mutex:
            if self._loaded and (self._dirty or newest_missing(self.root, self._jobs)):
                with self._locked():
                    self._write_cache()

    # -- the scan -----------------------------------------------------------------

    def _rescan(self, tag: Tag) -> None:
        """Bring memory up to date with the records: stat each, parse the changed."""
        old_jobs, old_seen = self._jobs, self._seen_map()
        jobs: dict[str, Job] = {}
        seen: dict[str, Seen] = {}
        bad: list[tuple[str, Stamp, str]] = []
        leftovers: list[str] = []
        changed = tag != self._tag
        now = time.time_ns()
        memo: dict[str, str] = {}
        with gc_paused(), os.scandir(self.root) as scan:
            for item in scan:
                name = item.name
                if name[0] == "." or not name.endswith(RECORD_SUFFIX):
                    if name[0] == "." and name.endswith(".tmp"):
                        leftovers.append(name)
                    continue
                try:
                    st = item.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if not stat.S_ISREG(st.st_mode):
                    continue
                stamp = _stamp(st)
                known = old_seen.get(name)
                if known is not None and _unchanged(known, stamp):
                    jobs[name] = old_jobs[name]
                    seen[name] = known
                    continue
                try:
                    job, stamp = self._parse(name, memo)
                except FileNotFoundError:
                    continue
                except RecordError as error:
                    bad.append((name, error.stamp or stamp, str(error)))
                    continue
                except OSError as error:  # unreadable, not corrupt: leave it be
                    path = self.root / name
                    self._problem(name, stamp, f"job record {path} cannot be read: {error}")
                    continue
                if job is None:  # from a newer batchdeck
                    continue
                jobs[name] = job
                seen[name] = (*stamp, now)
                if known is None or known[:4] != stamp or old_jobs.get(name) != job:
                    changed = True
                elif _unchanged(seen[name], stamp):
                    changed = True  # no longer racy: worth caching as such
        changed = changed or not jobs.keys() >= old_jobs.keys()
        self._jobs, self._seen, self._by_batch = jobs, seen, None
        self._tag = tag
        self._dirty = self._dirty or changed
        if bad or leftovers or self._dirty or not tag[0]:
            with self._locked() as fd:
                if not _read_token(fd):  # no change token yet: start one
                    with self._changing(fd):
                        pass
                for name, stamp, reason in bad:
                    self._move_aside(fd, name, stamp, reason)
                if leftovers:
                    with self._changing(fd, bump=False):
                        self._remove_leftovers(self.root, leftovers)
                if self._dirty:
                    self._write_cache()

    # -- records ------------------------------------------------------------------

    def _parse(self, name: str, memo: dict[str, str]) -> tuple[Job | None, Stamp]:
        """Read and check one record; the job is ``None`` if a newer batchdeck wrote it.
        :class:`RecordError` (with the file's stamp) if it is corrupt."""
        import tomllib

        with open(self.root / name, "rb") as handle:
            stamp = _stamp(os.fstat(handle.fileno()))
            data = handle.read()
        try:
            try:
                raw = tomllib.loads(data.decode("utf-8"))
            except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
                raise RecordError(f"not valid TOML: {error}") from None
            version = raw.get("version", FORMAT_VERSION)
            if isinstance(version, int) and version > FORMAT_VERSION:
                path = self.root / name
                self._problem(
                    name,
                    stamp,
                    f"job record {path} has format {version} (this batchdeck reads "
                    f"{FORMAT_VERSION}): skipped and left in place",
                )
                return None, stamp
            job = Job.from_toml_dict(share_strings(raw, memo))
            if record_name(job.job_id) != name:
                raise RecordError(f"job_id {job.job_id!r} does not belong in this file")
        except RecordError as error:
            error.stamp = stamp
            raise
        return job, stamp

    def _read_record(self, name: str, memo: dict[str, str]) -> Job | None:
        """Parse record ``name`` and remember it; ``None`` if from a newer batchdeck."""
        seen_ns = time.time_ns()
        job, stamp = self._parse(name, memo)
        if job is not None:
            self._remember(name, job, (*stamp, seen_ns))
        return job

    def _read_locked(self, fd: int, name: str) -> Job | None:
        """The job in record ``name`` (lock held); a corrupt one is moved aside."""
        try:
            job = self._read_record(name, {})
        except FileNotFoundError:
            return None
        except RecordError as error:
            if error.stamp is not None:
                self._move_aside(fd, name, error.stamp, str(error))
            return None
        if job is None:
            raise RecordError(f"{self.root / name} was written by a newer batchdeck")
        return job

    def _write_record(self, fd: int, name: str, job: Job) -> Job:
        """Atomically replace record ``name`` with ``job`` (lock held); the job as
        it reads back (``None`` dropped, tags a tuple...)."""
        import tomli_w

        from tui.core.fsutil import atomic_write

        doc, job = canonical(job)
        data = tomli_w.dumps(doc).encode("utf-8")
        path = self.root / name
        seen_ns = time.time_ns()
        with self._changing(fd):
            atomic_write(path, data, sync=self.durable)
        self._remember(name, job, (*_stamp(os.stat(path)), seen_ns))
        return job

    def _move_aside(self, fd: int, name: str, expected: Stamp, reason: str) -> None:
        """Move a corrupt record to ``corrupt/`` if it is still the file that failed
        (lock held); say so in ``problems``."""
        source = self.root / name
        try:
            if _stamp(os.stat(source)) != expected:
                return  # rewritten meanwhile: the next look decides
        except FileNotFoundError:
            return
        corrupt = self.root / CORRUPT_DIR
        moment = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        target = corrupt / f"{name}.{moment}"
        counter = 1
        while target.exists():
            counter += 1
            target = corrupt / f"{name}.{moment}.{counter}"
        try:
            with self._changing(fd):
                paths.ensure_private_dir(corrupt)
                os.replace(source, target)
        except OSError as error:
            message = f"could not be moved aside: {error}"
        else:
            message = f"moved aside to {target}"
            self._drop(name)
        self._problem(name, expected, f"job record {source} is corrupt ({reason}); {message}")

    def _problem(self, name: str, stamp: Stamp, message: str) -> None:
        """Report ``message`` once per version of a record."""
        if (name, stamp) not in self._reported:
            self._reported.add((name, stamp))
            self.problems.append(message)
            log.warning("%s", message)

    @staticmethod
    def _remove_leftovers(directory: Path, names: list[str]) -> None:
        """Remove temp files of interrupted writes. The lock must be held: every write
        in the registry happens under it, so none of them is still being written."""
        for name in names:
            with contextlib.suppress(OSError):
                os.unlink(directory / name)

    # -- memory -------------------------------------------------------------------

    def _seen_map(self) -> dict[str, Seen]:
        """What was seen of each record file (decoded from the cache on first use)."""
        if self._seen_columns is not None:
            names, numbers = self._seen_columns
            it = iter(numbers)
            self._seen = dict(zip(names, zip(it, it, it, it, it, strict=True), strict=True))
            self._seen_columns = None
        return self._seen

    def _batch_index(self) -> dict[str, str]:
        if self._by_batch is None:
            self._by_batch = {
                job.batch_id: name for name, job in self._jobs.items() if job.batch_id
            }
        return self._by_batch

    def _remember(self, name: str, job: Job, seen: Seen) -> None:
        old = self._jobs.get(name)
        self._jobs[name] = job
        self._seen_map()[name] = seen
        self._dirty = True
        if self._by_batch is not None:
            if old is not None and old.batch_id and self._by_batch.get(old.batch_id) == name:
                del self._by_batch[old.batch_id]
            if job.batch_id:
                self._by_batch[job.batch_id] = name

    def _drop(self, name: str) -> None:
        old = self._jobs.pop(name, None)
        self._seen_map().pop(name, None)
        self._dirty = True
        index = self._by_batch
        if (
            old is not None
            and old.batch_id
            and index is not None
            and index.get(old.batch_id) == name
        ):
            del index[old.batch_id]

    # -- the cache ----------------------------------------------------------------

    def _write_cache(self) -> None:
        """Write memory to the cache (lock held). Failing to is only logged."""
        jobs, seen, names = self._jobs, self._seen_map(), list(self._jobs)
        newest: bytes | None = None
        try:
            data = cache_bytes(jobs, seen, names, self._tag)
            newest = newest_bytes(jobs, self._tag)
        except ValueError:  # marshal knows no dates (TOML has them): leave those jobs out,
            keep = [name for name in names if marshallable(jobs[name])]
            data = cache_bytes(jobs, seen, keep, None)  # and never trust it as complete
        try:
            write_cache_files(self.root, data, newest)
        except OSError as error:
            log.warning("could not write the job registry cache: %s", error)
            return
        self._dirty = False

    # -- files, the lock and the change token ----------------------------------

    def _ensure_root(self) -> None:
        """Create the directory, its lock file and cache directory (all private) once,
        before anything looks at the directory's stamp."""
        if self._root_ready:
            return
        paths.ensure_private_dir(self.root)  # before .cache: parents get default modes
        paths.ensure_private_dir(self.root / CACHE_DIR)
        os.close(os.open(self.root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600))
        self._root_ready = True

    def _current_tag(self) -> Tag:
        """The registry's state now: (change token, directory stamp)."""
        try:
            with open(self.root / LOCK_NAME, "rb") as handle:
                token = handle.read(_TOKEN_BYTES)
        except FileNotFoundError:
            token = b""
        return (token, _dir_stamp(self.root))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[int]:
        """Hold the registry lock (flock on ``.lock``; also excludes other threads)."""
        self._ensure_root()
        fd = os.open(self.root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock_fd(fd)
            yield fd
        finally:
            os.close(fd)  # releases the lock

    @contextlib.contextmanager
    def _changing(self, fd: int, *, bump: bool = True) -> Iterator[None]:
        """Around a change to the directory (lock held): first write a new change
        token (so no cache describes the new state by mistake, even after a crash),
        then keep memory's tag current if memory was current before: if memory's tag
        is the token *and* the directory stamp from before the change. (A record that
        arrived without a change token, e.g. restored from a backup, changed only the
        stamp; memory does not hold it, and must not be taken as current.)"""
        old = _read_token(fd)
        before = (old, _dir_stamp(self.root))
        new = old
        if bump:
            new = os.urandom(_TOKEN_BYTES)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, new)
            if self.durable:
                os.fsync(fd)
        try:
            yield
        finally:
            current = self._tag == before
            self._tag = (new, _dir_stamp(self.root)) if current else None
            self._dirty = True


def _read_token(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, _TOKEN_BYTES)


def _lock_fd(fd: int) -> None:
    """Block until ``fd`` holds an exclusive lock."""
    if sys.platform == "win32":  # pragma: no cover - Windows locks bytes, mandatorily:
        os.lseek(fd, 1 << 20, os.SEEK_SET)  # lock one far from the token readers read
        while True:
            try:
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                return
            except OSError:  # LK_LOCK gives up after 10 s
                continue
    else:
        fcntl.flock(fd, fcntl.LOCK_EX)
