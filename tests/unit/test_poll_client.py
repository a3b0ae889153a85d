"""BatchClient loads the SDK only when first needed (or in prepare(), off the loop)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.conftest import API_KEY
from tests.ui.batches_support import seed, start_server
from tui.core import errors
from tui.core.client import BatchClient
from tui.core.config import Profile

NO_SDK = """
import sys
from tui.core.config import Profile
from tui.core.client import BatchClient
client = BatchClient(Profile("p", base_url="http://127.0.0.1:9/v1"))
assert client.base_url == "http://127.0.0.1:9/v1"
print("openai" in sys.modules)
"""


def test_building_it_does_not_import_the_sdk() -> None:
    out = subprocess.run(
        [sys.executable, "-c", NO_SDK], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "False"


def test_a_missing_key_for_openai_is_reported_at_once() -> None:
    with pytest.raises(errors.AuthError, match="OPENAI_API_KEY"):
        BatchClient(Profile("default"))


async def test_it_lists_after_prepare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = start_server(tmp_path / "server")
    try:
        ids = seed(server, active=3)
        monkeypatch.setenv("DEFERRED_KEY", API_KEY)
        client = BatchClient(Profile("t", base_url=server.base_url, api_key_env="DEFERRED_KEY"))
        await client.prepare()
        assert [b.id for b in await client.list_batches()] == ids
        await client.close()
    finally:
        server.stop()
