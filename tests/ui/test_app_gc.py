"""The app loads the SDK off the loop, then freezes start-up objects out of the cyclic
GC once per process, so no full collection walks them during the first listing."""

from __future__ import annotations

import gc

import pytest

from tests.ui.test_shell import make
from tui.core.registry import Registry


@pytest.mark.parametrize(("frozen_before", "expected"), [(0, ["freeze"]), (123, [])])
async def test_prepare_client_freezes_once(
    monkeypatch: pytest.MonkeyPatch, frozen_before: int, expected: list[str]
) -> None:
    calls: list[str] = []
    app = make("http://127.0.0.1:9/v1", monkeypatch, Registry())
    monkeypatch.setattr(gc, "get_freeze_count", lambda: frozen_before)
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    await app.prepare_client()  # type: ignore[attr-defined]
    assert calls == expected
    assert app.client._sdk is not None  # type: ignore[attr-defined]
    await app.client.close()  # type: ignore[attr-defined]
