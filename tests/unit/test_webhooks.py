"""The webhook receiver's memory of delivery ids: durable, bounded, private."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tui.core import webhooks
from tui.core.webhooks import SeenIds

NOW = 1_800_000_000


def test_seen_ids_survive_a_restart_and_forget_what_cannot_be_replayed(tmp_path: Path) -> None:
    path = tmp_path / "webhooks" / "seen.json"
    seen = SeenIds(path, tolerance=300)
    seen.add("old", NOW - 700, now=NOW)  # older than twice the tolerance: gone at once
    seen.add("a", NOW - 100, now=NOW)
    seen.add("b", NOW, now=NOW)
    again = SeenIds(path, tolerance=300)
    assert "a" in again and "b" in again and "old" not in again
    again.add("c", NOW + 601, now=NOW + 601)  # a's and b's window has passed
    assert len(again) == 1 and "c" in SeenIds(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_seen_ids_are_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhooks, "MAX_SEEN", 3)
    seen = SeenIds(tmp_path / "seen.json")
    for n in range(5):
        seen.add(f"id{n}", NOW + n, now=NOW)
    assert len(seen) == 3 and "id4" in seen and "id0" not in seen


def test_an_unreadable_memory_starts_afresh(tmp_path: Path) -> None:
    path = tmp_path / "seen.json"
    path.write_text("[1, 2")
    assert len(SeenIds(path)) == 0
