"""BatchClient.prepare freezes the objects of the start-up (the SDK's import above
all) out of the cyclic GC, once per process, so that no full collection walks them
in the middle of the first listing."""

from __future__ import annotations

import pytest

from tui.core import client as client_module
from tui.core.client import BatchClient
from tui.core.config import Profile


async def prepared(monkeypatch: pytest.MonkeyPatch, frozen_before: int) -> list[str]:
    calls: list[str] = []
    monkeypatch.setattr(client_module.gc, "get_freeze_count", lambda: frozen_before)
    monkeypatch.setattr(client_module.gc, "freeze", lambda: calls.append("freeze"))
    client = BatchClient(Profile("p", base_url="http://127.0.0.1:9/v1"))
    await client.prepare()
    await client.prepare()  # built already: nothing more
    await client.close()
    return calls


async def test_the_first_prepare_freezes_once(monkeypatch: pytest.MonkeyPatch) -> None:
    assert await prepared(monkeypatch, frozen_before=0) == ["freeze"]


async def test_nothing_is_frozen_again(monkeypatch: pytest.MonkeyPatch) -> None:
    assert await prepared(monkeypatch, frozen_before=123) == []
