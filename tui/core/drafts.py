"""Compose drafts and templates, kept in the data dir.

A :class:`Draft` is what the compose screen's fields hold: each field's value by the
field's id (text or a tick box) and the requests added one by one. The last draft is
kept as ``<data dir>/compose/last-draft.json`` (written whenever Compose is left
with changes, unless the user discards them); named templates live in
``<data dir>/compose/templates/<name>.json``. Files are 0600 in 0700 directories,
written atomically; a file is read as untrusted JSON and only the values of the
expected kinds are kept.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.core import paths
from tui.core.errors import BatchdeckError
from tui.core.fsutil import atomic_write
from tui.core.jsonsafe import loads

FORMAT = 1
MAX_BYTES = 20 * 1024 * 1024  # the requests added one by one can be many; a sanity bound
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}")


class DraftError(BatchdeckError):
    """A draft or template could not be read or written; the message says which."""


@dataclass(frozen=True)
class Draft:
    """The compose fields (id -> text or tick) and the requests added one by one."""

    fields: dict[str, str | bool] = field(default_factory=dict)
    requests: tuple[tuple[str, dict[str, Any]], ...] = ()

    def to_json(self) -> bytes:
        data = {
            "format": FORMAT,
            "fields": self.fields,
            "requests": [[custom_id, body] for custom_id, body in self.requests],
        }
        return json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> Draft:
        """Parse a saved draft; :class:`DraftError` if it is not one."""
        try:
            loaded = loads(data)
        except BatchdeckError as exc:
            raise DraftError(f"not a draft: {exc}") from None
        if not isinstance(loaded, dict) or not isinstance(loaded.get("fields"), dict):
            raise DraftError("not a draft: no fields")
        fields = {
            str(key): value
            for key, value in loaded["fields"].items()
            if isinstance(value, (str, bool))
        }
        requests = tuple(
            (item[0], item[1])
            for item in loaded.get("requests") or ()
            if isinstance(item, list)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], dict)
        )
        return cls(fields, requests)


def compose_dir() -> Path:
    return paths.data_dir() / "compose"


def last_draft_path() -> Path:
    return compose_dir() / "last-draft.json"


def templates_dir() -> Path:
    return compose_dir() / "templates"


def check_name(name: str) -> str:
    """``name`` stripped, if it can name a template file; else :class:`DraftError`."""
    name = name.strip()
    if not NAME.fullmatch(name) or name.endswith("."):
        raise DraftError(
            "template name: 1 to 64 letters, digits, spaces, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def _write(path: Path, draft: Draft) -> Path:
    try:  # parents made 0700, the file 0600
        atomic_write(path, draft.to_json())
    except OSError as exc:
        raise DraftError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def _read(path: Path) -> Draft:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise DraftError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise DraftError(f"{path}: larger than {MAX_BYTES // (1024 * 1024)} MB")
    try:
        return Draft.from_json(data)
    except DraftError as exc:
        raise DraftError(f"{path}: {exc}") from None


def save_last(draft: Draft) -> Path:
    """Keep ``draft`` as the last draft (replacing the one before)."""
    return _write(last_draft_path(), draft)


def load_last() -> Draft | None:
    """The last draft, or None when there is none."""
    path = last_draft_path()
    return _read(path) if path.is_file() else None


def save_template(name: str, draft: Draft) -> Path:
    """Keep ``draft`` as template ``name`` (replacing one of that name)."""
    return _write(templates_dir() / f"{check_name(name)}.json", draft)


def list_templates() -> list[str]:
    """The names of the saved templates, sorted."""
    try:
        files = list(templates_dir().glob("*.json"))
    except OSError:
        return []
    return sorted(
        (p.stem for p in files if NAME.fullmatch(p.stem) and p.is_file()), key=str.casefold
    )


def load_template(name: str) -> Draft:
    """Template ``name``; :class:`DraftError` if it is missing or unreadable."""
    return _read(templates_dir() / f"{check_name(name)}.json")
