"""State on disk: one JSON record per file and per batch, plus blobs.

Layout under the data dir::

    server.json               the simulated clock's high-water mark
    files/<file_id>.json      a File object (plus private "_" fields)
    files/<file_id>.bin       its bytes
    batches/<batch_id>.json   a Batch object (plus private "_" fields)
    batches/<batch_id>/       a running batch's work: input link, line index,
                              partial output/error files (see workfiles)

Every directory the store makes is 0700 and every file 0600, whatever the umask.
Records are replaced atomically (:func:`tui.core.fsutil.atomic_write`), so a crash
leaves the old record or the new one. Everything is loaded at start and served from
memory; the store is used from the server's event loop thread only. Fields whose
name starts with ``_`` are private and never leave the server (see :func:`public`).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import msgspec

from tui.core import jsonsafe
from tui.core.fsutil import PRIVATE_FILE, atomic_write
from tui.core.paths import ensure_private_dir
from tui.localapi.ids import IdFactory

log = logging.getLogger(__name__)

Record = dict[str, Any]


FINAL_STATUSES = frozenset({"completed", "failed", "expired", "cancelled"})
PAGES_KEPT = 64
_encoder = msgspec.json.Encoder()


def public(record: Record) -> Record:
    """The record as the API shows it: without private ``_`` fields."""
    return {k: v for k, v in record.items() if not k.startswith("_")}


def json_bytes(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON (msgspec; the stdlib for what msgspec refuses,
    e.g. a lone surrogate, which it writes as an escape)."""
    try:
        return _encoder.encode(value)
    except (TypeError, ValueError, OverflowError):
        return json.dumps(value, separators=(",", ":")).encode()


class Store:
    """Files and batches, in memory and on disk."""

    def __init__(self, root: Path, ids: IdFactory | None = None, *, durable: bool = True) -> None:
        self.root = Path(root)
        self.ids = ids or IdFactory()
        self.durable = durable
        self.files_dir = self.root / "files"
        self.batches_dir = self.root / "batches"
        self.files: dict[str, Record] = {}
        self.batches: dict[str, Record] = {}
        self.meta: Record = {}
        self._seq = 0
        self._batch_order: list[Record] | None = None
        self._batch_json: dict[str, bytes] = {}  # public JSON of finished batches
        self._pages: dict[tuple[str, int], bytes] = {}  # list pages of finished batches
        self._lock_handle: IO[bytes] | None = None

    # --- loading ---------------------------------------------------------------------

    def lock(self) -> None:
        """Take the data dir for this process (RuntimeError if another server has it)."""
        ensure_private_dir(self.root)
        fd = os.open(self.root / "server.lock", os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
        os.fchmod(fd, PRIVATE_FILE)  # one left by an older version may be 0644
        handle = os.fdopen(fd, "r+b")
        try:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # pragma: no cover - no flock (Windows): no protection
            pass
        except OSError:
            handle.close()
            raise RuntimeError(f"{self.root} is in use by another batchdeck server") from None
        self._lock_handle = handle

    def unlock(self) -> None:
        handle, self._lock_handle = self._lock_handle, None
        if handle is not None:
            handle.close()

    def load(self) -> list[str]:
        """Read every record; corrupt ones are moved aside. Returns warnings."""
        warnings: list[str] = []
        ensure_private_dir(self.files_dir)
        ensure_private_dir(self.batches_dir)
        for stray in self.files_dir.glob(".*.upload"):  # uploads cut off by a crash
            stray.unlink(missing_ok=True)
        meta_path = self.root / "server.json"
        if meta_path.exists():
            try:
                meta = jsonsafe.loads(meta_path.read_bytes())
                if not isinstance(meta, dict) or not isinstance(meta.get("clock", 0), int | float):
                    raise ValueError("not an object with a clock")
                self.meta = meta
            except (OSError, ValueError) as exc:
                warnings.append(f"{meta_path}: unreadable ({exc}); starting a new one")
        for kind_field, path, into in (
            ("purpose", self.files_dir, self.files),
            ("status", self.batches_dir, self.batches),
        ):
            for record_path in sorted(path.glob("*.json")):
                record = self._read(record_path, kind_field, warnings)
                if record is not None:
                    into[str(record["id"])] = record
                    self._seq = max(self._seq, int(record.get("_seq", 0)))
        self._batch_order = None
        self._batch_json.clear()
        self._pages.clear()
        return warnings

    def _read(self, path: Path, kind_field: str, warnings: list[str]) -> Record | None:
        """A record, or None (and a warning) if it is unreadable or not a record's shape."""
        try:
            record = jsonsafe.loads(path.read_bytes())
            if not isinstance(record, dict):
                raise ValueError("not an object")
            for name, kind in (("id", str), (kind_field, str), ("created_at", int), ("_seq", int)):
                if not isinstance(record.get(name), kind):
                    raise ValueError(f"no {kind.__name__} {name!r}")
            return record
        except (OSError, ValueError) as exc:
            aside = path.with_suffix(".corrupt")
            os.replace(path, aside)
            message = f"{path}: corrupt record moved to {aside.name} ({exc})"
            log.warning(message)
            warnings.append(message)
            return None

    def save_meta(self, **values: Any) -> None:
        self.meta.update(values)
        self._write(self.root / "server.json", self.meta)

    # --- ids and sequence ------------------------------------------------------------

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def new_file_id(self) -> str:
        while (file_id := self.ids.file_id()) in self.files:
            pass
        return file_id

    def new_batch_id(self) -> str:
        while (batch_id := self.ids.batch_id()) in self.batches:
            pass
        return batch_id

    # --- files -----------------------------------------------------------------------

    def blob_path(self, file_id: str) -> Path:
        return self.files_dir / f"{file_id}.bin"

    def create_file(
        self,
        data: bytes,
        *,
        filename: str,
        purpose: str,
        created_at: float,
        expires_at: float | None = None,
    ) -> Record:
        """A new file with ``data`` (small files only: seeding and tests)."""
        file_id = self.new_file_id()
        atomic_write(self.blob_path(file_id), data, sync=self.durable)
        record: Record = {
            "id": file_id,
            "object": "file",
            "bytes": len(data),
            "created_at": int(created_at),
            "expires_at": None if expires_at is None else int(expires_at),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
            "status_details": None,
            "_seq": self.next_seq(),
        }
        self.save_file(record)
        return record

    def save_file(self, record: Record) -> None:
        self._write(self.files_dir / f"{record['id']}.json", record)
        self.files[record["id"]] = record

    def delete_file(self, file_id: str) -> bool:
        record = self.files.pop(file_id, None)
        if record is None:
            return False
        for path in (self.files_dir / f"{file_id}.json", self.blob_path(file_id)):
            path.unlink(missing_ok=True)
        return True

    def live_file(self, file_id: str, now: float) -> Record | None:
        """The file, unless unknown or past its ``expires_at`` (then it is deleted)."""
        record = self.files.get(file_id)
        if record is None:
            return None
        if self._expired(record, now):
            self.delete_file(file_id)
            return None
        return record

    def list_files(self, now: float, *, purpose: str | None, ascending: bool) -> list[Record]:
        for record in [r for r in self.files.values() if self._expired(r, now)]:
            self.delete_file(record["id"])
        chosen: Iterable[Record] = self.files.values()
        if purpose is not None:
            chosen = (r for r in chosen if r.get("purpose") == purpose)
        key = _order_key
        return sorted(chosen, key=key, reverse=not ascending)

    @staticmethod
    def _expired(record: Record, now: float) -> bool:
        expires_at = record.get("expires_at")
        return expires_at is not None and expires_at <= now

    # --- batches ---------------------------------------------------------------------

    def work_dir(self, batch_id: str) -> Path:
        return self.batches_dir / batch_id

    def add_batch(self, record: Record) -> None:
        self.save_batch(record)  # first: a record that cannot be saved does not exist
        self.batches[record["id"]] = record
        self._batch_order = None

    def save_batch(self, record: Record) -> None:
        self._batch_json.pop(record["id"], None)
        self._pages.clear()
        self._write(self.batches_dir / f"{record['id']}.json", record)

    def batch_json(self, record: Record) -> bytes:
        """The batch's public JSON. A finished batch's is kept until :meth:`save_batch`
        (the only way a finished batch changes); an active one's is made each time."""
        if record["status"] not in FINAL_STATUSES:
            return json_bytes(public(record))
        data = self._batch_json.get(record["id"])
        if data is None:
            data = self._batch_json[record["id"]] = json_bytes(public(record))
        return data

    def batch_page(self, after: str, limit: int) -> bytes | None:
        """A list page kept by :meth:`keep_batch_page` (None if there is none)."""
        return self._pages.get((after, limit))

    def keep_batch_page(self, after: str, limit: int, chosen: list[Record], data: bytes) -> None:
        """Keep a list page's JSON if every batch on it is finished: until the next
        :meth:`save_batch` (which any new or changed batch goes through) it is the same."""
        if all(record["status"] in FINAL_STATUSES for record in chosen):
            if len(self._pages) >= PAGES_KEPT:
                self._pages.clear()
            self._pages[after, limit] = data

    def list_batches(self) -> list[Record]:
        """Every batch, newest first."""
        if self._batch_order is None:
            self._batch_order = sorted(self.batches.values(), key=_order_key, reverse=True)
        return self._batch_order

    # --- writing ---------------------------------------------------------------------

    def _write(self, path: Path, record: Record) -> None:
        atomic_write(path, _encoder.encode(record), sync=self.durable)


def _order_key(record: Record) -> tuple[int, int]:
    return int(record.get("created_at") or 0), int(record.get("_seq") or 0)
