"""Journal.submit_file: a batch of an input file already on the server, registered
from the start like any submit (and settled by reconcile if it was cut short)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.conftest import API_KEY, chat_lines, jsonl
from tui.core import errors
from tui.core.client import BatchClient
from tui.core.config import Profile
from tui.core.journal import TOKEN_KEY, Journal, SubmitError
from tui.core.registry import Registry
from tui.localapi.server import LocalServer

KEY_ENV = "BATCHDECK_TEST_KEY"


@pytest.fixture
def profile(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> Profile:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    return Profile("t", base_url=server.base_url, api_key_env=KEY_ENV)


async def uploaded(client: BatchClient, tmp_path: Path) -> str:
    path = tmp_path / "existing.jsonl"
    path.write_bytes(jsonl(chat_lines(3)))
    return (await client.upload_file(path, purpose="batch")).id


async def test_submit_file_creates_and_registers_the_batch(
    profile: Profile, tmp_path: Path
) -> None:
    client = BatchClient(profile)
    file_id = await uploaded(client, tmp_path)
    registry = Registry()
    job = await Journal(registry, client, profile).submit_file(
        file_id, "/v1/chat/completions", "from the files screen"
    )
    assert job.batch_id and job.submission and job.submission["state"] == "created"
    assert job.submission["input_file_id"] == file_id and job.input_path is None
    assert job.description == "from the files screen"
    batch = await client.retrieve_batch(job.batch_id)
    assert batch.input_file_id == file_id and batch.metadata == {TOKEN_KEY: job.job_id}
    assert Registry().find_by_batch(job.batch_id) is not None
    await client.close()


async def test_a_refused_file_is_settled_as_abandoned(profile: Profile) -> None:
    client = BatchClient(profile)
    registry = Registry()
    with pytest.raises(errors.BatchdeckError):
        await Journal(registry, client, profile).submit_file("file-nope", "/v1/chat/completions")
    (job,) = registry.load().values()
    assert job.submission and job.submission["state"] == "abandoned"
    with pytest.raises(SubmitError, match="not a batch endpoint"):
        await Journal(registry, client, profile).submit_file("file-x", "/v1/nope")
    await client.close()


async def test_a_submit_cut_before_the_create_is_finished_by_reconcile(
    profile: Profile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = BatchClient(profile)
    file_id = await uploaded(client, tmp_path)
    registry = Registry()

    async def cut(*args: object, **kw: object) -> None:
        raise KeyboardInterrupt  # the process dies before the create is sent

    monkeypatch.setattr(client, "create_batch", cut)
    with pytest.raises(KeyboardInterrupt):
        await Journal(registry, client, profile).submit_file(file_id, "/v1/chat/completions")
    monkeypatch.undo()
    monkeypatch.setenv(KEY_ENV, API_KEY)
    (settled,) = await Journal(registry, client, profile).reconcile()
    assert settled.outcome == "created" and settled.batch_id
    assert (await client.retrieve_batch(settled.batch_id)).input_file_id == file_id
    await client.close()
