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
parsed; a missing or broken cache is rebuilt from the records. A record edited in
place by hand (same inode, directory untouched) is seen by ``load(verify=True)``
or after the next change.

Beside the cache, the jobs with the newest batch snapshots of each profile are
written with the same tag (:meth:`Registry.newest_snapshots`): an app can show
those before it reads the whole registry.
"""

from __future__ import annotations

import contextlib
import gc
import heapq
import logging
import marshal
import mmap
import os
import re
import stat
import sys
import threading
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from itertools import chain, repeat
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.core import paths
from tui.core.errors import BatchdeckError
from tui.core.text import scrub

if TYPE_CHECKING:
    from tui.core.models import Batch

if sys.platform == "win32":  # pragma: no cover - batchdeck's tests run on POSIX
    import msvcrt
else:
    import fcntl

__all__ = [
    "FORMAT_VERSION",
    "SUBMISSION_STATES",
    "Job",
    "Newest",
    "RecordError",
    "Registry",
    "clean",
    "new_job_id",
    "record_name",
]

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
"""The ``version`` key of a record; a record from a newer batchdeck is left alone."""

SUBMISSION_STATES = frozenset(
    {"intent", "uploading", "uploaded", "creating", "created", "abandoned"}
)
"""Values of ``submission.state`` that batchdeck writes (the journal's states)."""

RECORD_SUFFIX = ".toml"
LOCK_NAME = ".lock"
CACHE_DIR = ".cache"
CACHE_NAME = "index.marshal"
NEWEST_NAME = "newest.marshal"
NEWEST_JOBS = 250
"""Jobs per profile in ``.cache/newest.marshal`` (more than a screenful of rows)."""
CORRUPT_DIR = "corrupt"

RACY_NS = 2_000_000_000
"""A record changed less than this before it was looked at is re-read next time:
two writes within one timestamp tick could otherwise look identical (as in git)."""

_TOKEN_BYTES = 8
_U64 = 2**64 - 1
_PLAIN_ID = re.compile(r"[a-z0-9_-][a-z0-9_.-]{0,79}")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")
_SECRET_KEY = re.compile(r"(?i)(^|[_-])(api[_-]?key|secret|password|authorization)$")
_INT64 = range(-(2**63), 2**63)

# A record file: (inode, size, mtime_ns, ctime_ns), times as unsigned 64-bit.
_Stamp = tuple[int, int, int, int]
# What the registry remembers of a record file: its stamp and when it was looked at.
_Seen = tuple[int, int, int, int, int]
# A state of the whole registry: (change token, (dir inode, mtime_ns, ctime_ns)).
_Tag = tuple[bytes, tuple[int, int, int]]


class RecordError(BatchdeckError, ValueError):
    """A record cannot be read as a job; the message says why."""

    stamp: _Stamp | None = None  # the record file that failed, when known


def new_job_id() -> str:
    """A fresh local job id, e.g. ``job_20250101-120000_1a2b3c4d`` (sorts by creation)."""
    return f"job_{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}_{os.urandom(4).hex()}"


def record_name(job_id: str) -> str:
    """The file name of a job's record: safe on any file system, one per job id.

    Ids made of ``[a-z0-9_.-]`` (no leading dot, no ``..``, at most 80 characters)
    are used as they are. Any other id (server-supplied ids can be anything, and
    upper case collides on case-insensitive file systems) keeps a cleaned prefix and
    gets ``..`` plus 16 hex digits of its SHA-256: a plain name never contains
    ``..``, so the two kinds never collide.
    """
    if _PLAIN_ID.fullmatch(job_id) and ".." not in job_id:
        return job_id + RECORD_SUFFIX
    job_id = _text(job_id)  # as the id is stored
    import hashlib

    digest = hashlib.sha256(job_id.encode("utf-8")).hexdigest()[:16]
    stem = _UNSAFE_CHARS.sub("_", job_id).lstrip(".")[:48] or "job"
    return f"{stem}..{digest}{RECORD_SUFFIX}"


def _text(value: str) -> str:
    """``value`` with lone surrogates (which UTF-8 cannot hold) replaced by ``?``."""
    return value if value.isascii() else value.encode("utf-8", "replace").decode("utf-8")


def clean(value: Any) -> Any:
    """``value`` made fit for TOML: ``None`` dropped (in tables and arrays alike),
    tuples as lists, keys as strings, lone surrogates replaced, integers beyond 64
    bits as strings, keys that look like secrets (``api_key``, ``password``...)
    left out, and secrets cut out of every string (:func:`text.scrub`: API keys,
    bearer tokens, a URL's ``user:password@``)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if item is None:
                continue
            name = clean(key if isinstance(key, str) else str(key))
            if not _SECRET_KEY.search(name):
                out[name] = clean(item)
        return out
    if isinstance(value, list | tuple):
        return [clean(item) for item in value if item is not None]
    if isinstance(value, str):
        return _text(scrub(value))
    if isinstance(value, int) and not isinstance(value, bool) and value not in _INT64:
        return str(value)
    return value


@dataclass(frozen=True, slots=True)
class Job:
    """One job as the registry keeps it. Change it with ``dataclasses.replace`` (or
    :meth:`with_submission`) and store it with :meth:`Registry.update`/``modify``.

    ``downloads`` maps what was downloaded (``"output"``, ``"error"`` or a file id)
    to its local path. ``snapshot`` is the last ``models.Batch.to_dict()`` seen.
    ``submission`` is the journal's table (``state`` in :data:`SUBMISSION_STATES`,
    client token, input file id, endpoint, metadata, timestamps...). ``extra`` keeps
    keys this version does not know, so that they survive a rewrite.
    There is no field for an API key, by design.
    """

    job_id: str = field(default_factory=new_job_id)
    batch_id: str | None = None
    description: str = ""
    tags: tuple[str, ...] = ()
    input_path: str | None = None
    profile: str | None = None
    base_url: str | None = None
    downloads: dict[str, str] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    group_id: str | None = None
    retry_of: str | None = None
    snapshot: dict[str, Any] | None = None
    submission: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str | None:
        """The batch status in the last snapshot, if any."""
        status = self.snapshot.get("status") if self.snapshot else None
        return status if isinstance(status, str) else None

    @property
    def snapshot_created_at(self) -> float:
        """The batch's ``created_at`` in the last snapshot (0 if there is none)."""
        value = self.snapshot.get("created_at") if self.snapshot else None
        return float(value) if isinstance(value, int | float) else 0.0

    def batch(self) -> Batch | None:
        """The last snapshot as a :class:`models.Batch`; ``None`` before the first
        (or if a hand-edited snapshot no longer makes a batch)."""
        from tui.core.models import Batch

        if not self.snapshot:
            return None
        try:
            return Batch.from_dict(self.snapshot)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None

    def with_submission(self, **changes: Any) -> Job:
        """A copy whose ``submission`` table has ``changes`` merged in (``None`` removes)."""
        merged = {**(self.submission or {}), **changes}
        return replace(self, submission={k: v for k, v in merged.items() if v is not None})

    def to_toml_dict(self) -> dict[str, Any]:
        """The record as written: ``None`` and empty fields omitted, see :func:`clean`."""
        raw: dict[str, Any] = {**self.extra, "version": FORMAT_VERSION}
        for name in _RECORD_FIELDS:
            value = getattr(self, name)
            if value is not None and value != "" and value != () and value != {}:
                raw[name] = value
        cleaned: dict[str, Any] = clean(raw)
        return cleaned

    @classmethod
    def from_toml_dict(cls, raw: dict[str, Any]) -> Job:
        """Build a job from a parsed record; :class:`RecordError` names a bad field."""
        raw = dict(raw)
        raw.pop("version", None)
        job_id = raw.pop("job_id", None)
        if not isinstance(job_id, str) or not job_id:
            raise RecordError("job_id is missing or not a string")
        values: dict[str, Any] = {"job_id": job_id}
        for name in ("batch_id", "input_path", "profile", "base_url", "group_id", "retry_of"):
            values[name] = _typed(raw, name, str, None)
        values["description"] = _typed(raw, "description", str, "")
        values["created_at"] = float(_typed(raw, "created_at", (int, float), 0.0))
        tags = _typed(raw, "tags", list, [])
        if not all(isinstance(tag, str) for tag in tags):
            raise RecordError("tags must be a list of strings")
        values["tags"] = tuple(tags)
        downloads = _typed(raw, "downloads", dict, {})
        if not all(isinstance(path, str) for path in downloads.values()):
            raise RecordError("downloads must map names to path strings")
        values["downloads"] = downloads
        values["snapshot"] = _typed(raw, "snapshot", dict, None)
        submission = values["submission"] = _typed(raw, "submission", dict, None)
        if submission is not None and not isinstance(submission.get("state", ""), str):
            raise RecordError("submission.state must be a string")
        values["extra"] = raw
        return cls(**values)


_FIELD_NAMES = tuple(f.name for f in fields(Job))
_RECORD_FIELDS = tuple(name for name in _FIELD_NAMES if name != "extra")


def _typed(raw: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any) -> Any:
    """Pop ``raw[name]``, checking its type (booleans are not numbers here)."""
    value = raw.pop(name, None)
    if value is None:
        return default
    if not isinstance(value, kind) or isinstance(value, bool):
        raise RecordError(f"{name} has the wrong type ({type(value).__name__})")
    return value


def _canonical(job: Job) -> tuple[dict[str, Any], Job]:
    """The TOML table for ``job`` and the job as it will read back from it;
    ``ValueError`` if it would not read back."""
    state = (job.submission or {}).get("state")
    if state is not None and state not in SUBMISSION_STATES:
        raise ValueError(f"unknown submission state {state!r}")
    doc = job.to_toml_dict()
    return doc, Job.from_toml_dict(doc)


def _stamp(st: os.stat_result) -> _Stamp:
    return (st.st_ino, st.st_size, st.st_mtime_ns & _U64, st.st_ctime_ns & _U64)


def _unchanged(seen: _Seen | None, stamp: _Stamp) -> bool:
    """Whether a file with ``stamp`` is certainly the one remembered as ``seen``:
    same stamp, and it had not changed for RACY_NS when it was looked at."""
    return seen is not None and seen[:4] == stamp and max(seen[2], seen[3]) < seen[4] - RACY_NS


def _dir_stamp(path: Path) -> tuple[int, int, int]:
    st = os.stat(path)
    return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
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
        self._seen: dict[str, _Seen] = {}  # by record name; see _seen_map()
        self._seen_columns: tuple[list[str], array[int]] | None = None  # not yet in _seen
        self._by_batch: dict[str, str] | None = None  # batch id -> record name, built lazily
        self._tag: _Tag | None = None  # the registry state memory is complete for
        self._loaded = False
        self._dirty = True  # memory differs from the cache file
        self._reported: set[tuple[str, _Stamp]] = set()
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
                cached = self._read_cache()
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
            try:
                with open(self.root / CACHE_DIR / NEWEST_NAME, "rb") as handle, _gc_paused():
                    magic, written, totals, columns = marshal.load(handle)
                    if magic != _CACHE_MAGIC or written != tag:
                        return None
                    jobs = _jobs_from_columns(columns)
                total = sum(totals.get(name, 0) for name in {None, profile})
            except Exception:  # missing, or any damage at all
                return None
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

        ``KeyError`` if there is no such job, ``TypeError`` for an unknown field,
        ``ValueError`` for a value that could not be stored.
        """
        if "job_id" in changes:
            raise ValueError("a job's id cannot change")
        unknown = set(changes) - set(_FIELD_NAMES)
        if unknown:
            raise TypeError(f"Job has no field(s) {', '.join(sorted(unknown))}")
        if "tags" in changes:
            changes["tags"] = tuple(changes["tags"])
        return self.modify(job_id, lambda job: replace(job, **changes))

    def modify(self, job_id: str, change: Callable[[Job], Job]) -> Job:
        """Replace a job with ``change(job)``, reading and writing it under the lock.

        ``change`` gets the record as it is on disk now and returns the new job, e.g.
        ``lambda job: job.with_submission(state="uploaded")``; nothing is written if
        it returns an equal job. ``KeyError`` if there is no such job. ``change``
        runs under the lock: it must not call the registry.
        """
        with self._mutex:
            name = record_name(job_id)
            with self._locked() as fd:
                current = self._read_locked(fd, name)
                if current is None:
                    raise KeyError(job_id)
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
            snapshot = clean(batch.to_dict())
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
            if self._loaded and (self._dirty or self._newest_missing()):
                with self._locked():
                    self._write_cache()

    # -- the scan -----------------------------------------------------------------

    def _rescan(self, tag: _Tag) -> None:
        """Bring memory up to date with the records: stat each, parse the changed."""
        old_jobs, old_seen = self._jobs, self._seen_map()
        jobs: dict[str, Job] = {}
        seen: dict[str, _Seen] = {}
        bad: list[tuple[str, _Stamp, str]] = []
        leftovers: list[str] = []
        changed = tag != self._tag
        now = time.time_ns()
        memo: dict[str, str] = {}
        with _gc_paused(), os.scandir(self.root) as scan:
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

    def _parse(self, name: str, memo: dict[str, str]) -> tuple[Job | None, _Stamp]:
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
            job = Job.from_toml_dict(_share_strings(raw, memo))
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

        doc, job = _canonical(job)
        data = tomli_w.dumps(doc).encode("utf-8")
        path = self.root / name
        seen_ns = time.time_ns()
        with self._changing(fd):
            atomic_write(path, data, sync=self.durable)
        self._remember(name, job, (*_stamp(os.stat(path)), seen_ns))
        return job

    def _move_aside(self, fd: int, name: str, expected: _Stamp, reason: str) -> None:
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

    def _problem(self, name: str, stamp: _Stamp, message: str) -> None:
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

    def _seen_map(self) -> dict[str, _Seen]:
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

    def _remember(self, name: str, job: Job, seen: _Seen) -> None:
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

    def _read_cache(
        self,
    ) -> tuple[_Tag | None, dict[str, Job], tuple[list[str], array[int]]] | None:
        """The cached (tag, jobs, seen columns), or ``None`` if missing, foreign or broken.

        The cache holds one list per Job field (no tuple per job to build and
        collect) and the stamps as one array of unsigned 64-bit numbers.
        """
        try:
            with (
                open(self.root / CACHE_DIR / CACHE_NAME, "rb") as handle,
                mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data,  # no copy
                _gc_paused(),
            ):
                magic, tag, names, stamps, columns = marshal.loads(data)
                if magic != _CACHE_MAGIC:
                    return None
                jobs = dict(zip(names, _jobs_from_columns(columns), strict=True))
            numbers = array("Q")
            numbers.frombytes(stamps)
            if len(numbers) != 5 * len(jobs) or len(jobs) != len(names):
                return None
        except Exception:  # missing, or any damage at all: rebuild from the records
            return None
        return tag, jobs, (names, numbers)

    def _write_cache(self) -> None:
        """Write memory to the cache (lock held). Failing to is only logged."""
        from tui.core.fsutil import atomic_write

        names = list(self._jobs)
        newest: bytes | None = None
        try:
            data = self._cache_bytes(names, self._tag)
            newest = self._newest_bytes(self._tag)
        except ValueError:  # marshal knows no dates (TOML has them): leave those jobs out,
            keep = [n for n in names if _marshallable(self._jobs[n])]
            data = self._cache_bytes(keep, None)  # and never trust the cache as complete
        directory = self.root / CACHE_DIR
        try:
            paths.ensure_private_dir(directory)
            leftovers = [name for name in os.listdir(directory) if name.endswith(".tmp")]
            self._remove_leftovers(directory, leftovers)
            if newest is None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(directory / NEWEST_NAME)
            else:
                atomic_write(directory / NEWEST_NAME, newest, sync=False)
            atomic_write(directory / CACHE_NAME, data, sync=False)
        except OSError as error:
            log.warning("could not write the job registry cache: %s", error)
            return
        self._dirty = False

    def _cache_bytes(self, names: list[str], tag: _Tag | None) -> bytes:
        seen = self._seen_map()
        jobs = list(map(self._jobs.__getitem__, names))
        columns = tuple(list(map(attrgetter(name), jobs)) for name in _FIELD_NAMES)
        stamps = array("Q", chain.from_iterable(map(seen.__getitem__, names))).tobytes()
        return marshal.dumps((_CACHE_MAGIC, tag, names, stamps, columns))

    def _newest_missing(self) -> bool:
        """Whether the newest-snapshots file should be there and is not (a cache
        written by an earlier batchdeck)."""
        if os.path.exists(self.root / CACHE_DIR / NEWEST_NAME):
            return False
        return any(job.batch_id and job.snapshot for job in self._jobs.values())

    def _newest_bytes(self, tag: _Tag | None) -> bytes | None:
        """For :meth:`newest_snapshots`: per profile, the :data:`NEWEST_JOBS` jobs
        with a batch id and the newest snapshots, and how many such jobs it has;
        ``None`` if no job has a snapshot (no file then)."""
        by_profile: dict[str | None, list[Job]] = {}
        for job in self._jobs.values():
            if job.batch_id and job.snapshot:
                by_profile.setdefault(job.profile, []).append(job)
        if not by_profile:
            return None
        totals = {profile: len(jobs) for profile, jobs in by_profile.items()}
        key = attrgetter("snapshot_created_at")
        newest = [
            job for jobs in by_profile.values() for job in heapq.nlargest(NEWEST_JOBS, jobs, key)
        ]
        columns = tuple(list(map(attrgetter(name), newest)) for name in _FIELD_NAMES)
        return marshal.dumps((_CACHE_MAGIC, tag, totals, columns))

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

    def _current_tag(self) -> _Tag:
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


_CACHE_MAGIC = ("batchdeck-registry", 3, sys.version_info[:2], _FIELD_NAMES)


@dataclass(frozen=True)
class Newest:
    """What :meth:`Registry.newest_snapshots` found."""

    jobs: list[Job]  # newest batch first
    total: int  # jobs of the profile (or of none) with a batch id and a snapshot


_SLOT_SETTERS = tuple(Job.__dict__[name].__set__ for name in _FIELD_NAMES)


def _jobs_from_columns(columns: tuple[list[Any], ...]) -> list[Job]:
    """Jobs from the cache's columns (one list per field, in ``_FIELD_NAMES`` order).

    A frozen dataclass's ``__init__`` sets each field through a Python-level call;
    setting each slot column by column from C is 2-3 times faster, which matters
    for 10,000 jobs at start-up. The values were checked when first parsed.
    """
    if len(columns) != len(_SLOT_SETTERS) or len({len(column) for column in columns}) > 1:
        raise ValueError("cache columns do not match Job")
    jobs = list(map(object.__new__, repeat(Job, len(columns[0]))))
    for setter, column in zip(_SLOT_SETTERS, columns, strict=True):
        deque(map(setter, jobs, column), maxlen=0)
    return jobs


def _marshallable(job: Job) -> bool:
    """Whether the cache can hold ``job`` (marshal knows no dates, for one)."""
    try:
        marshal.dumps(attrgetter(*_FIELD_NAMES)(job))
    except ValueError:
        return False
    return True


def _share_strings(value: Any, memo: dict[str, str]) -> Any:
    """Intern table keys and share equal short strings: the cache gets smaller and
    loads faster, as marshal writes a repeated object as a reference."""
    if isinstance(value, dict):
        return {sys.intern(k): _share_strings(v, memo) for k, v in value.items()}
    if isinstance(value, list):
        return [_share_strings(v, memo) for v in value]
    if isinstance(value, str) and len(value) <= 64:
        return memo.setdefault(value, value)
    return value


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
