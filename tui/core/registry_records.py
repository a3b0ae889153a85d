"""Job records of the registry: the :class:`Job`, its TOML table, and file names.

A record is one TOML file per job (``tui.core.registry`` stores them); this module
knows how a job becomes a table and back (:meth:`Job.to_toml_dict`,
:meth:`Job.from_toml_dict`), what may be stored (:func:`clean`: no secrets, no
``None``, nothing TOML cannot hold) and the file name of each job id
(:func:`record_name`).
"""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from tui.core.errors import BatchdeckError
from tui.core.text import public_url, scrub

if TYPE_CHECKING:
    from tui.core.models import Batch

FORMAT_VERSION = 1
"""The ``version`` key of a record; a record from a newer batchdeck is left alone."""

SUBMISSION_STATES = frozenset(
    {"queued", "intent", "uploading", "uploaded", "creating", "created", "abandoned"}
)
"""Values of ``submission.state`` that batchdeck writes (the journal's states)."""

RECORD_SUFFIX = ".toml"

_PLAIN_ID = re.compile(r"[a-z0-9_-][a-z0-9_.-]{0,79}")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")
_SECRET_KEY = re.compile(r"(?i)(^|[_-])(api[_-]?key|secret|password|authorization)$")
_INT64 = range(-(2**63), 2**63)

# A record file: (inode, size, mtime_ns, ctime_ns), times as unsigned 64-bit.
Stamp = tuple[int, int, int, int]


class RecordError(BatchdeckError, ValueError):
    """A record cannot be read as a job; the message says why."""

    stamp: Stamp | None = None  # the record file that failed, when known


class JobNotFoundError(RecordError, KeyError):
    """No job has this id (any more): it was removed, or its record was unreadable.

    A :class:`KeyError` too, for code that looks jobs up by id."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job {job_id!r} in the registry (removed meanwhile?)")
        self.job_id = job_id

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


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


def clean(value: Any, *, from_server: bool = False) -> Any:
    """``value`` made fit for TOML: ``None`` dropped (in tables and arrays alike),
    tuples as lists, keys as strings, lone surrogates replaced, integers beyond 64
    bits as strings, and keys that look like secrets (``api_key``, ``password``...)
    left out. ``from_server=True`` (what a server sent: snapshots, submission notes)
    also cuts secrets out of every string (:func:`text.scrub`: the API key a server
    may echo, bearer tokens, a URL's ``user:password@``)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if item is None:
                continue
            name = clean(key if isinstance(key, str) else str(key), from_server=from_server)
            if not _SECRET_KEY.search(name):
                out[name] = clean(item, from_server=from_server)
        return out
    if isinstance(value, list | tuple):
        return [clean(item, from_server=from_server) for item in value if item is not None]
    if isinstance(value, str):
        return _text(scrub(value) if from_server else value)
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
    client token, input file id, endpoint, metadata, timestamps...). ``notified`` maps
    each notification already sent for the batch (``"final"``, ``"stuck:finalizing"``...,
    see :mod:`tui.core.alerts`) to when it was sent: every event fires once. ``extra`` keeps
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
    notified: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    if not TYPE_CHECKING:  # only for a job read from the start-up cache (mypy: no such fields)

        def __getattr__(self, name: str) -> Any:
            """Its ``snapshot`` and ``submission``, decoded when first asked for."""
            from tui.core.registry_cache import deferred_field

            return deferred_field(self, name)

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
        """The record as written: ``None`` and empty fields omitted, see :func:`clean`;
        what came from a server scrubbed of secrets, the base URL without
        ``user:password@``."""
        raw: dict[str, Any] = {**self.extra, "version": FORMAT_VERSION}
        for name in _RECORD_FIELDS:
            value = getattr(self, name)
            if value is not None and value != "" and value != () and value != {}:
                raw[name] = value
        for name in _SERVER_FIELDS:
            if name in raw:
                raw[name] = clean(raw[name], from_server=True)
        if isinstance(raw.get("base_url"), str):
            raw["base_url"] = public_url(raw["base_url"])
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
        notified = _typed(raw, "notified", dict, {})
        if not all(
            isinstance(t, int | float) and not isinstance(t, bool) for t in notified.values()
        ):
            raise RecordError("notified must map events to timestamps")
        values["notified"] = {event: float(t) for event, t in notified.items()}
        values["extra"] = raw
        return cls(**values)


FIELD_NAMES = tuple(f.name for f in fields(Job))
_RECORD_FIELDS = tuple(name for name in FIELD_NAMES if name != "extra")
_SERVER_FIELDS = ("snapshot", "submission")  # hold what a server said (errors, notes)


def _typed(raw: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any) -> Any:
    """Pop ``raw[name]``, checking its type (booleans are not numbers here)."""
    value = raw.pop(name, None)
    if value is None:
        return default
    if not isinstance(value, kind) or isinstance(value, bool):
        raise RecordError(f"{name} has the wrong type ({type(value).__name__})")
    return value


def canonical(job: Job) -> tuple[dict[str, Any], Job]:
    """The TOML table for ``job`` and the job as it will read back from it;
    ``ValueError`` if it would not read back."""
    state = (job.submission or {}).get("state")
    if state is not None and state not in SUBMISSION_STATES:
        raise ValueError(f"unknown submission state {state!r}")
    doc = job.to_toml_dict()
    return doc, Job.from_toml_dict(doc)


def share_strings(value: Any, memo: dict[str, str]) -> Any:
    """Intern table keys and share equal short strings: the cache gets smaller and
    loads faster, as marshal writes a repeated object as a reference."""
    if isinstance(value, dict):
        return {sys.intern(k): share_strings(v, memo) for k, v in value.items()}
    if isinstance(value, list):
        return [share_strings(v, memo) for v in value]
    if isinstance(value, str) and len(value) <= 64:
        return memo.setdefault(value, value)
    return value
