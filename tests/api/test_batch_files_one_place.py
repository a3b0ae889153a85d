"""A batch's output, error and input files have one place, whoever downloads first:
the inspector's downloads (``download_once`` into ``batch_file_path``) and the
results store (``fetch_results``) reuse each other's copy, and results still open
offline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.api.conftest import API_KEY, chat_lines, make_client, submit, wait_for
from tui.core import paths
from tui.core.client import BatchClient
from tui.core.config import Profile
from tui.core.downloads import batch_file_path, download_once, record_download
from tui.core.registry import Registry
from tui.core.results import fetch_results, load_local
from tui.localapi.server import LocalServer

KEY_ENV = "BATCHDECK_TEST_KEY"


@pytest.fixture
async def bclient(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    client = BatchClient(Profile("test", base_url=server.base_url, api_key_env=KEY_ENV))
    downloaded: list[str] = []
    real = client.download_file

    async def counting(file_id: str, destination: Path, **kwargs: Any) -> Path:
        downloaded.append(file_id)
        return await real(file_id, destination, **kwargs)

    client.download_file = counting  # type: ignore[method-assign]
    client.downloaded = downloaded  # type: ignore[attr-defined]
    yield client
    await client.close()


def finished_batch(server: LocalServer) -> str:
    sdk: openai.OpenAI = make_client(server)
    batch = submit(sdk, chat_lines(6, fail_every=3))
    return str(wait_for(sdk, batch.id).id)


def copies_of(content: bytes) -> list[Path]:
    """Every file under the data dir holding exactly ``content``."""
    root = paths.data_dir()
    return [p for p in root.rglob("*") if p.is_file() and p.read_bytes() == content]


async def inspector_download(client: Any, registry: Registry, batch_id: str, kind: str) -> Path:
    """What the batch inspector does for ``e`` / ``o`` / ``i``."""
    batch = await client.retrieve_batch(batch_id)
    file_id = {"output": batch.output_file_id, "error": batch.error_file_id}.get(
        kind, batch.input_file_id
    )
    info = await client.retrieve_file(file_id)
    target = await download_once(client, file_id, batch_file_path(batch_id, kind), info=info)
    record_download(registry, batch, kind, target)
    return target


async def test_results_reuse_the_error_file_the_inspector_saved(
    server: LocalServer, bclient: Any
) -> None:
    batch_id = finished_batch(server)
    registry = Registry()
    saved = await inspector_download(bclient, registry, batch_id, "error")
    error_file_id = server.batch(batch_id)["error_file_id"]
    assert bclient.downloaded == [error_file_id]

    local = await fetch_results(bclient, batch_id, registry=registry)
    assert local.error == saved  # the same file, not a second copy
    assert bclient.downloaded.count(error_file_id) == 1
    assert copies_of(saved.read_bytes()) == [saved]
    job = registry.find_by_batch(batch_id)
    assert job is not None and job.downloads["error"] == str(saved)

    server.stop()  # offline: the store's copy still opens
    assert load_local(batch_id) == local


async def test_the_inspector_reuses_the_results_stores_files(
    server: LocalServer, bclient: Any
) -> None:
    batch_id = finished_batch(server)
    registry = Registry()
    local = await fetch_results(bclient, batch_id, registry=registry)
    before = list(bclient.downloaded)
    assert len(before) == 3  # output, error, input
    for kind in ("output", "error", "input"):
        saved = await inspector_download(bclient, registry, batch_id, kind)
        assert saved == getattr(local, kind)
        assert copies_of(saved.read_bytes()) == [saved]
    assert bclient.downloaded == before  # nothing downloaded twice
    assert load_local(batch_id) == local  # still a complete copy
