"""Enqueued-token limits of the queue, per profile and model: configured or learned.

Every model has a per-organization limit on the input tokens of its batches that are
not finished yet; no endpoint says how much of it is free, and a batch over it fails
in ``validating`` with ``token_limit_exceeded``. The queue keeps under a limit that is

- **configured**: ``[profiles.NAME.token_limits]`` in ``config.toml``
  (``"gpt-4o-mini" = 2000000``), read into :attr:`Profile.token_limits`; or
- **learned**: when a batch fails with ``token_limit_exceeded``, the limit is below
  the estimated tokens that were in flight when it was sent (its own included), and
  :meth:`LimitBook.learn` records that in ``limits.toml`` beside the registry
  (``<registry>/.queue/limits.toml``, written atomically). A lower figure replaces a
  higher one, never the reverse; delete the entry to forget it.

When both are known the lower one is used (:func:`limit_for`). Writers of the book
hold the queue's runner lock (``tui.core.queue``), so they never race each other.
"""

from __future__ import annotations

import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui.core.config import Profile
from tui.core.errors import BatchdeckError
from tui.core.fsutil import atomic_write, make_private_dirs

LIMITS_NAME = "limits.toml"


class LimitBookError(BatchdeckError):
    """The learned-limits file cannot be read; the message names it."""


@dataclass(frozen=True)
class TokenLimit:
    """The limit the queue keeps under for one profile and model.

    ``tokens`` is what may be in flight (None: unknown, so nothing holds a part
    back until a failure teaches one); ``source`` says where it comes from:
    ``"configured"``, ``"learned"`` or ``"unknown"``."""

    tokens: int | None
    source: str
    configured: int | None = None
    learned: int | None = None

    def fits(self, in_flight: int, tokens: int) -> bool:
        """Whether a part of ``tokens`` may be sent beside ``in_flight``; a part may
        always go when nothing is in flight (else a part bigger than a learned
        limit would wait for ever; if it fails alone it is over the limit by itself)."""
        return self.tokens is None or in_flight == 0 or in_flight + tokens <= self.tokens

    def to_dict(self) -> dict[str, Any]:
        return {
            "tokens": self.tokens,
            "source": self.source,
            "configured": self.configured,
            "learned": self.learned,
        }


@dataclass(frozen=True)
class Learned:
    """One learned limit: a batch failed with ``below`` tokens in flight."""

    below: int
    batch_id: str
    learned_at: int

    @property
    def tokens(self) -> int:
        return max(self.below - 1, 0)


class LimitBook:
    """The learned limits in ``<queue_dir>/limits.toml``: ``[PROFILE."MODEL"]`` tables
    with ``below``, ``batch_id`` and ``learned_at``."""

    def __init__(self, queue_dir: Path) -> None:
        self.path = Path(queue_dir) / LIMITS_NAME

    def read(self) -> dict[tuple[str, str], Learned]:
        try:
            raw = tomllib.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise LimitBookError(f"{self.path}: cannot be read: {exc}") from exc
        book: dict[tuple[str, str], Learned] = {}
        for profile, models in raw.items():
            if not isinstance(models, dict):
                raise LimitBookError(f"{self.path}: [{profile}] must be a table of models")
            for model, entry in models.items():
                book[(profile, model)] = _entry(self.path, profile, model, entry)
        return book

    def learned(self, profile: str, model: str) -> Learned | None:
        return self.read().get((profile, model))

    def learn(self, profile: str, model: str, below: int, batch_id: str) -> bool:
        """Record that ``model``'s limit on ``profile`` is below ``below`` tokens;
        False (and nothing written) if a lower figure is known already."""
        book = self.read()
        known = book.get((profile, model))
        if known is not None and known.below <= below:
            return False
        book[(profile, model)] = Learned(below, batch_id, int(time.time()))
        self._write(book)
        return True

    def _write(self, book: dict[tuple[str, str], Learned]) -> None:
        import tomli_w

        tables: dict[str, dict[str, dict[str, Any]]] = {}
        for (profile, model), entry in sorted(book.items()):
            tables.setdefault(profile, {})[model] = {
                "below": entry.below,
                "batch_id": entry.batch_id,
                "learned_at": entry.learned_at,
            }
        make_private_dirs(self.path.parent)
        atomic_write(self.path, tomli_w.dumps(tables).encode("utf-8"))


def _entry(path: Path, profile: str, model: str, entry: Any) -> Learned:
    where = f"{path}: [{profile}.{model!r}]"
    if not isinstance(entry, dict):
        raise LimitBookError(f"{where} must be a table")
    below = entry.get("below")
    if not isinstance(below, int) or isinstance(below, bool) or below <= 0:
        raise LimitBookError(f"{where}.below must be a positive whole number")
    batch_id = entry.get("batch_id", "")
    learned_at = entry.get("learned_at", 0)
    if not isinstance(batch_id, str) or not isinstance(learned_at, int):
        raise LimitBookError(f"{where}: batch_id must be a string, learned_at a number")
    return Learned(below, batch_id, learned_at)


def limit_for(profile: Profile, model: str, learned: Learned | None) -> TokenLimit:
    """The limit for ``model`` on ``profile``: the lower of the configured and the
    learned one, or unknown."""
    configured = profile.token_limits.get(model)
    taught = learned.tokens if learned is not None else None
    if configured is None and taught is None:
        return TokenLimit(None, "unknown")
    if taught is None or (configured is not None and configured <= taught):
        return TokenLimit(configured, "configured", configured, taught)
    return TokenLimit(taught, "learned", configured, taught)
