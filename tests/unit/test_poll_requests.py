"""How many requests a refresh cycle sends (counted in the server's access log).

With 100 active batches among 150, one cycle must not ask about each one: the list
endpoint returns whole batch objects, newest first, so a page or two answers for
all of them. Only active batches older than what ``max_pages`` pages cover are
retrieved one by one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import API_KEY
from tests.ui.batches_support import seed, start_server
from tui.core import poll
from tui.core.client import BatchClient
from tui.core.config import Profile
from tui.localapi.server import LocalServer


@pytest.fixture
def logged_server(tmp_path: Path) -> Iterator[LocalServer]:
    server = start_server(tmp_path / "server", access_log=True)
    try:
        yield server
    finally:
        server.stop()


def client_for(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> BatchClient:
    monkeypatch.setenv("POLL_TEST_KEY", API_KEY)
    profile = Profile("t", base_url=server.base_url, api_key_env="POLL_TEST_KEY")
    return BatchClient(profile, max_retries=0)


def requests_in(caplog: pytest.LogCaptureFixture, expected: int = 0) -> list[str]:
    """The requests the server logged; waits (boundedly) for ``expected`` of them, as
    the server writes a line just after it has answered."""
    for _ in range(200):
        lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
        if len(lines) >= expected:
            break
        time.sleep(0.01)
    time.sleep(0.05)  # and nothing more arrives
    return [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]


async def test_100_active_among_150_take_at_most_two_requests(
    logged_server: LocalServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ids = seed(logged_server, final=50, active=100)  # the active ones are the newest
    active = ids[:100]
    client = client_for(logged_server, monkeypatch)
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    caplog.clear()
    result = await poll.refresh_active(client, active)
    sent = requests_in(caplog, result.requests)
    await client.close()
    assert len(sent) == result.requests == 1, sent  # page 1 (100 batches) has them all
    assert all("GET /v1/batches?limit=100" in line for line in sent)
    assert set(active) <= {batch.id for batch in result.batches}


async def test_active_batches_spread_over_pages_and_beyond(
    logged_server: LocalServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ids = seed(logged_server, final=0, active=150)
    client = client_for(logged_server, monkeypatch)
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    # one active batch on page 2: two list requests, no retrieve
    caplog.clear()
    two_pages = await poll.refresh_active(client, [ids[0], ids[120]])
    assert len(requests_in(caplog, two_pages.requests)) == two_pages.requests == 2
    # with one page allowed, the older one is retrieved on its own
    caplog.clear()
    one_page = await poll.refresh_active(client, [ids[0], ids[120]], max_pages=1)
    sent = requests_in(caplog, one_page.requests)
    assert len(sent) == one_page.requests == 2
    assert f"GET /v1/batches/{ids[120]} " in sent[1]
    # an id the server does not know is reported missing, not raised
    caplog.clear()
    gone = await poll.refresh_active(client, ["batch_gone"], max_pages=1)
    assert gone.missing == ["batch_gone"]
    assert gone.requests == len(requests_in(caplog, gone.requests)) == 2
    await client.close()
