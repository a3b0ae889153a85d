"""Edits of a user's TOML file that keep everything else as the user wrote it.

``config.toml`` and ``prices.toml`` are the user's files: their comments, blank
lines, key order, inline tables and quoting are theirs. batchdeck changes them only
through these helpers, which edit the parsed document (tomlkit) key by key and
write it back atomically with mode 0600; a key batchdeck does not change keeps its
bytes. Reading for use stays with :mod:`tomllib`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.container import OutOfOrderTableProxy
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import InlineTable, Table
from tomlkit.toml_document import TOMLDocument

from tui.core import paths
from tui.core.fsutil import atomic_write

# A table split in parts across the file (``[a.b]`` ... ``[a]``) reads as one proxy.
Container = TOMLDocument | Table | InlineTable | OutOfOrderTableProxy


class TomlEditError(ValueError):
    """The file is not TOML tomlkit can edit; the message names the file."""


def read_document(path: Path) -> TOMLDocument:
    """The parsed file, or an empty document if there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return tomlkit.document()
    try:
        return tomlkit.parse(text)
    except TOMLKitError as exc:
        raise TomlEditError(f"{path}: not valid TOML: {exc}") from exc


def write_document(path: Path, document: TOMLDocument) -> None:
    """Replace ``path`` with ``document`` atomically, mode 0600, in a private dir."""
    paths.ensure_private_dir(path.parent)
    atomic_write(path, document.as_string().encode("utf-8"))


def table_in(parent: Container, key: str) -> Table | InlineTable | OutOfOrderTableProxy:
    """``parent[key]`` as a table, made (as the parent's kind) if it is missing.

    A new table under the document is a super-table, so its first sub-table is
    written ``[key.name]`` with no empty ``[key]`` header above it.
    """
    current = parent.get(key)
    if isinstance(current, Table | InlineTable | OutOfOrderTableProxy):
        return current
    if current is not None:
        raise TomlEditError(f"{key!r} is not a table")
    if isinstance(parent, InlineTable):
        made: Table | InlineTable | OutOfOrderTableProxy = tomlkit.inline_table()
    else:
        made = tomlkit.table(is_super_table=isinstance(parent, TOMLDocument))
    parent[key] = made
    return made


def set_key(container: Container, key: str, value: Any) -> None:
    """Set ``key`` to ``value`` unless it already equals it; None removes the key.

    An existing key keeps its place and its comment."""
    if value is None:
        if key in container:
            del container[key]
        return
    current = _plain(container.get(key))
    if current == value and isinstance(current, bool) == isinstance(value, bool):
        return  # ``1`` for ``1.0`` stays as the user wrote it
    container[key] = value


def set_table(parent: Container, key: str, values: dict[str, Any]) -> None:
    """Make ``parent[key]`` hold ``values``: changed keys set, others left as written."""
    table = table_in(parent, key)
    for name, value in values.items():
        set_key(table, name, value)


def _plain(value: Any) -> Any:
    unwrap = getattr(value, "unwrap", None)
    return unwrap() if callable(unwrap) else value
