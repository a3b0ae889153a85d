"""The local job registry: what the API does not keep, one TOML record per job.

A job is what batchdeck submitted (or saw): its batch id once known, a description,
tags, the local input file, the profile and base URL it went to, where its results
were downloaded, its job group and retry lineage, the last snapshot of the batch
(for offline viewing) and the submission journal (:mod:`tui.core.journal`).

Layout of the registry directory (``paths.registry_dir()``, mode 0700)::

    job_20250101-120000_1a2b3c4d.toml     one record per job (0600), named after the job id
    Batch_X..3f2a9c0d1e2b4a5c.toml        an id that needed sanitising gets a hash suffix
    .lock                                 flock'ed around every read-modify-write
    .index.marshal                        derived start-up cache, safe to delete
    corrupt/<record>.<timestamp>          records that failed to load, moved aside

The TOML records are the source of truth. Every change rewrites one record
atomically (temp file, fsync, rename) while holding ``.lock``, so two processes
never lose each other's updates. Start-up reads the cache, ``stat``s every record
and parses only the ones whose (inode, size, mtime, ctime) changed; a missing or
broken cache is rebuilt from the records.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import marshal
import os
import re
import stat
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.core import paths

if TYPE_CHECKING:
    from tui.core.models import Batch

if sys.platform == "win32":  # pragma: no cover - batchdeck's tests run on POSIX
    import msvcrt
else:
    import fcntl

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
"""The ``version`` key of a record; a record from a newer batchdeck is left alone."""

SUBMISSION_STATES = frozenset(
    {"intent", "uploading", "uploaded", "creating", "created", "abandoned"}
)
"""Values of ``submission.state`` that batchdeck writes (the journal's states)."""

RECORD_SUFFIX = ".toml"
LOCK_NAME = ".lock"
CACHE_NAME = ".index.marshal"
CORRUPT_DIR = "corrupt"

RACY_NS = 2_000_000_000
"""A record changed less than this before it was looked at is re-read next time:
two writes within one timestamp tick could otherwise look identical (as in git)."""

_PLAIN_ID = re.compile(r"[a-z0-9_-][a-z0-9_.-]{0,79}")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")
_SECRET_KEY = re.compile(r"(?i)(^|[_-])(api[_-]?key|secret|password|authorization)$")
_INT64 = range(-(2**63), 2**63)

# A record on disk: (inode, size, mtime_ns, ctime_ns).
_Stamp = tuple[int, int, int, int]
# What the registry remembers of a record: its stamp, its job, when the stamp was seen.
_Entry = tuple[_Stamp, "Job", int]


class RecordError(ValueError):
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
    import hashlib

    digest = hashlib.sha256(job_id.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    stem = _UNSAFE_CHARS.sub("_", job_id).lstrip(".")[:48] or "job"
    return f"{stem}..{digest}{RECORD_SUFFIX}"


def clean(value: Any) -> Any:
    """``value`` made fit for TOML: ``None`` dropped (in tables and arrays alike),
    tuples as lists, keys as strings, lone surrogates replaced, integers beyond 64
    bits as strings, and keys that look like secrets (``api_key``, ``password``...)
    left out."""
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
        return value if value.isascii() else value.encode("utf-8", "replace").decode("utf-8")
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
        return self.snapshot.get("status") if self.snapshot else None

    def batch(self) -> Batch | None:
        """The last snapshot as a :class:`models.Batch` (``None`` before the first)."""
        from tui.core.models import Batch

        return Batch.from_dict(self.snapshot) if self.snapshot else None

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


def _check_writable(job: Job) -> dict[str, Any]:
    """The TOML table for ``job``, or ``ValueError`` if it would not load back."""
    state = (job.submission or {}).get("state")
    if state is not None and state not in SUBMISSION_STATES:
        raise ValueError(f"unknown submission state {state!r}")
    doc = job.to_toml_dict()
    Job.from_toml_dict(doc)
    return doc


def _stamp(st: os.stat_result) -> _Stamp:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _trusted(entry: _Entry) -> bool:
    """Whether a record whose stamp still matches ``entry`` is certainly unchanged."""
    stamp, _job, seen_ns = entry
    return max(stamp[2], stamp[3]) < seen_ns - RACY_NS


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC: building 10,000 jobs would otherwise trigger it often."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class Registry:
    """The job records under ``root`` (default ``paths.registry_dir()``).

    ``load()`` reads everything (fast, through the cache) and remembers it; the
    other methods read and write single records. Each write holds the registry
    lock for one read-modify-write and replaces one file. ``durable=False`` skips
    fsync (tests, benchmarks). Messages about records that could not be loaded
    collect in ``problems`` (and go to the log).
    """

    def __init__(self, root: Path | None = None, *, durable: bool = True) -> None:
        self.root = Path(root) if root is not None else paths.registry_dir()
        self.durable = durable
        self.problems: list[str] = []
        self._entries: dict[str, _Entry] = {}
        self._by_batch: dict[str, str] = {}
        self._loaded = False
        self._cache_stale = True
        self._reported: set[tuple[str, _Stamp]] = set()

    # -- reading ------------------------------------------------------------------

    def load(self) -> dict[str, Job]:
        """Every job, by job id (in no particular order); re-reads what changed."""
        root = self._ensure_root()
        old = self._entries if self._loaded else self._read_cache()
        entries: dict[str, _Entry] = {}
        bad: list[tuple[str, _Stamp, str]] = []
        leftovers: list[str] = []
        stale = self._cache_stale if self._loaded else False
        seen_ns = time.time_ns()
        with _gc_paused(), os.scandir(root) as scan:
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
                known = old.get(name)
                if known is not None and known[0] == _stamp(st) and _trusted(known):
                    entries[name] = known
                    continue
                try:
                    entry = self._read_record(name, seen_ns)
                except FileNotFoundError:
                    continue
                except RecordError as error:
                    bad.append((name, error.stamp or _stamp(st), str(error)))
                    continue
                if entry is None:  # written by a newer batchdeck
                    continue
                entries[name] = entry
                if known is None or known[:2] != entry[:2] or _trusted(entry):
                    stale = True
        stale = stale or len(entries) != len(old) or not entries.keys() >= old.keys()
        self._set_entries(entries)
        self._loaded = True
        self._cache_stale = stale
        if bad or leftovers or stale:
            with self._locked():
                for name, st_stamp, reason in bad:
                    self._move_aside(name, st_stamp, reason)
                self._remove_leftovers(leftovers)
                if stale:
                    self._write_cache()
        return {entry[1].job_id: entry[1] for entry in self._entries.values()}

    def get(self, job_id: str) -> Job | None:
        """The job's current record on disk, or ``None``."""
        name = record_name(job_id)
        try:
            st = os.stat(self.root / name)
        except FileNotFoundError:
            return None
        known = self._entries.get(name)
        if known is not None and known[0] == _stamp(st) and _trusted(known):
            return known[1]
        try:
            entry = self._read_record(name, time.time_ns())
        except FileNotFoundError:
            return None
        except RecordError as error:
            with self._locked():
                self._move_aside(name, error.stamp or _stamp(st), str(error))
            return None
        if entry is None:
            return None
        self._remember(name, entry)
        return entry[1]

    def find_by_batch(self, batch_id: str) -> Job | None:
        """The job of ``batch_id`` as of the last :meth:`load` (and this registry's
        own writes since), read fresh from its record; ``None`` if unknown."""
        if not self._loaded:
            self.load()
        job_id = self._by_batch.get(batch_id)
        job = self.get(job_id) if job_id is not None else None
        return job if job is not None and job.batch_id == batch_id else None

    # -- writing ------------------------------------------------------------------

    def add(self, job: Job) -> Job:
        """Store a new job; ``FileExistsError`` if its job id is taken."""
        self._ensure_root()
        name = record_name(job.job_id)
        with self._locked():
            if (self.root / name).exists():
                raise FileExistsError(f"job {job.job_id!r} already exists")
            self._write_record(name, job)
        return job

    def update(self, job_id: str, **changes: Any) -> Job:
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

        ``change`` gets the record as it is on disk now and returns the new job (e.g.
        ``lambda j: j.with_submission(state="uploaded")``); nothing is written if it
        returns an equal job. ``KeyError`` if there is no such job.
        """
        self._ensure_root()
        name = record_name(job_id)
        with self._locked():
            current = self._read_locked(name)
            if current is None:
                raise KeyError(job_id)
            new = change(current)
            if new.job_id != job_id:
                raise ValueError("a job's id cannot change")
            if new != current:
                self._write_record(name, new)
        return new

    def record_snapshot(self, batch: Batch, *, create: bool = False) -> Job | None:
        """Keep ``batch.to_dict()`` as the snapshot of the job whose batch id matches.

        Writes only when the snapshot changed. With ``create=True`` a batch no job
        knows gets a job of its own (job id = batch id). Returns the job, or ``None``
        if no job has this batch id (as of the last :meth:`load`).
        """
        snapshot = clean(batch.to_dict())
        if not self._loaded:
            self.load()
        job_id = self._by_batch.get(batch.id)
        if job_id is None and not create:
            return None
        job_id = job_id or batch.id
        name = record_name(job_id)
        known = self._entries.get(name)
        if known is not None and known[1].snapshot == snapshot and _trusted(known):
            with contextlib.suppress(OSError):
                if _stamp(os.stat(self.root / name)) == known[0]:
                    return known[1]
        with self._locked():
            current = self._read_locked(name)
            if current is None:
                if not create:
                    return None
                current = Job(job_id=job_id, batch_id=batch.id, created_at=batch.created_at)
            elif current.batch_id != batch.id:
                return None
            if current.snapshot == snapshot:
                return current
            new = replace(current, snapshot=snapshot)
            self._write_record(name, new)
        return new

    def forget(self, job_id: str) -> bool:
        """Delete a job's record; whether there was one."""
        name = record_name(job_id)
        with self._locked():
            try:
                os.unlink(self.root / name)
            except FileNotFoundError:
                return False
            self._forget_entry(name)
        return True

    # -- records ------------------------------------------------------------------

    def _read_record(self, name: str, seen_ns: int) -> _Entry | None:
        """Parse one record; ``None`` if a newer batchdeck wrote it (left alone)."""
        import tomllib

        with open(self.root / name, "rb") as handle:
            st = os.fstat(handle.fileno())
            data = handle.read()
        try:
            try:
                raw = tomllib.loads(data.decode("utf-8"))
            except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
                raise RecordError(f"not valid TOML: {error}") from None
            version = raw.get("version", FORMAT_VERSION)
            if isinstance(version, int) and version > FORMAT_VERSION:
                self._problem(
                    name,
                    _stamp(st),
                    f"job record {self.root / name} has format {version} (newer than "
                    f"{FORMAT_VERSION}): skipped, left in place",
                )
                return None
            job = Job.from_toml_dict(_share_strings(raw))
            if record_name(job.job_id) != name:
                raise RecordError(f"job_id {job.job_id!r} does not belong in this file")
        except RecordError as error:
            error.stamp = _stamp(st)
            raise
        return (_stamp(st), job, seen_ns)

    def _read_locked(self, name: str) -> Job | None:
        """The job in record ``name`` (the lock is held); a corrupt one is moved aside."""
        try:
            entry = self._read_record(name, time.time_ns())
        except FileNotFoundError:
            return None
        except RecordError as error:
            if error.stamp is not None:
                self._move_aside(name, error.stamp, str(error))
            return None
        if entry is None:
            raise RecordError(f"{self.root / name} was written by a newer batchdeck")
        self._remember(name, entry)
        return entry[1]

    def _write_record(self, name: str, job: Job) -> None:
        """Atomically replace record ``name`` with ``job`` (the lock is held)."""
        import tomli_w

        from tui.core.fsutil import atomic_write

        text = tomli_w.dumps(_check_writable(job))
        seen_ns = time.time_ns()
        path = self.root / name
        atomic_write(path, text.encode("utf-8"), sync=self.durable)
        self._remember(name, (_stamp(os.stat(path)), job, seen_ns))

    def _move_aside(self, name: str, expected: _Stamp, reason: str) -> None:
        """Move a corrupt record to ``corrupt/`` if it is still the file that failed."""
        source = self.root / name
        try:
            if _stamp(os.stat(source)) != expected:
                return  # rewritten meanwhile: the next load looks again
        except FileNotFoundError:
            return
        corrupt = paths.ensure_private_dir(self.root / CORRUPT_DIR)
        moment = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        target = corrupt / f"{name}.{moment}"
        counter = 1
        while target.exists():
            counter += 1
            target = corrupt / f"{name}.{moment}.{counter}"
        try:
            os.replace(source, target)
        except OSError as error:
            self._problem(
                name,
                expected,
                f"job record {source} is corrupt ({reason}) and could not be moved aside: {error}",
            )
            return
        self._forget_entry(name)
        self._problem(
            name, expected, f"job record {source} is corrupt ({reason}); moved aside to {target}"
        )

    def _problem(self, name: str, stamp: _Stamp, message: str) -> None:
        """Report ``message`` once per record version."""
        if (name, stamp) not in self._reported:
            self._reported.add((name, stamp))
            self.problems.append(message)
            log.warning("%s", message)

    def _remove_leftovers(self, names: list[str]) -> None:
        """Remove temp files of interrupted writes (the lock is held, so no write is
        in progress: every write in this directory happens under the lock)."""
        for name in names:
            with contextlib.suppress(OSError):
                os.unlink(self.root / name)

    # -- memory and cache ---------------------------------------------------------

    def _set_entries(self, entries: dict[str, _Entry]) -> None:
        self._entries = entries
        self._by_batch = {
            entry[1].batch_id: entry[1].job_id for entry in entries.values() if entry[1].batch_id
        }

    def _remember(self, name: str, entry: _Entry) -> None:
        known = self._entries.get(name)
        if known is not None and known[1].batch_id and known[1].batch_id != entry[1].batch_id:
            self._by_batch.pop(known[1].batch_id, None)
        self._entries[name] = entry
        if entry[1].batch_id:
            self._by_batch[entry[1].batch_id] = entry[1].job_id
        self._cache_stale = True

    def _forget_entry(self, name: str) -> None:
        known = self._entries.pop(name, None)
        if known is not None and known[1].batch_id:
            self._by_batch.pop(known[1].batch_id, None)
        self._cache_stale = True

    def _read_cache(self) -> dict[str, _Entry]:
        """The cached entries, or ``{}`` if the cache is missing, foreign or broken."""
        try:
            with open(self.root / CACHE_NAME, "rb") as handle:
                data = handle.read()
        except OSError:
            return {}
        try:
            with _gc_paused():
                magic, raw_entries = marshal.loads(data)
                if magic != _CACHE_MAGIC:
                    return {}
                return {
                    name: (stamp, Job(*values), seen_ns)
                    for name, stamp, seen_ns, values in raw_entries
                }
        except Exception:  # any damage at all: rebuild from the records
            return {}

    def _write_cache(self) -> None:
        """Rewrite the cache from memory (the lock is held). Failures are harmless."""
        from tui.core.fsutil import atomic_write

        rows = [
            (name, stamp, seen_ns, tuple(getattr(job, f) for f in _FIELD_NAMES))
            for name, (stamp, job, seen_ns) in self._entries.items()
        ]
        try:
            data = marshal.dumps((_CACHE_MAGIC, rows))
        except ValueError:  # e.g. a TOML date in some record: leave those out
            data = marshal.dumps((_CACHE_MAGIC, [row for row in rows if _marshallable(row)]))
        try:
            atomic_write(self.root / CACHE_NAME, data, sync=False)
        except OSError as error:
            log.warning("could not write the job registry cache: %s", error)
            return
        self._cache_stale = False

    # -- files and locks ----------------------------------------------------------

    def _ensure_root(self) -> Path:
        if not self.root.is_dir():
            paths.ensure_private_dir(self.root)
        return self.root

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the registry lock (a flock on ``.lock``; works across threads too)."""
        self._ensure_root()
        fd = os.open(self.root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock_fd(fd)
            yield
        finally:
            os.close(fd)  # releases the lock


_CACHE_MAGIC = ("batchdeck-registry", 1, sys.version_info[:2], _FIELD_NAMES)


def _marshallable(value: Any) -> bool:
    try:
        marshal.dumps(value)
    except ValueError:
        return False
    return True


def _share_strings(value: Any) -> Any:
    """Intern table keys and short strings: equal strings become one object, which
    makes the cache smaller and faster to load (marshal writes repeats as refs)."""
    if isinstance(value, dict):
        return {sys.intern(k): _share_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_share_strings(v) for v in value]
    if isinstance(value, str) and len(value) <= 32:
        return sys.intern(value)
    return value


def _lock_fd(fd: int) -> None:
    """Block until ``fd`` holds an exclusive lock."""
    if sys.platform == "win32":  # pragma: no cover
        msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
    else:
        fcntl.flock(fd, fcntl.LOCK_EX)
