"""The submission journal: a process cut at any step of a submit loses no batch and
makes no duplicate once reconcile() has run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.api.conftest import API_KEY, chat_lines, jsonl
from tui.core import journal as journal_module
from tui.core.client import BatchClient
from tui.core.config import Profile
from tui.core.journal import (
    TOKEN_KEY,
    Journal,
    SubmitError,
    _hold,
    check_metadata,
)
from tui.core.registry import Job, Registry
from tui.localapi.server import LocalServer

KEY_ENV = "BATCHDECK_TEST_KEY"

# A child process that submits, then dies (os._exit: no cleanup, like SIGKILL) at STEP.
CHILD = textwrap.dedent(
    """
    import asyncio, os, sys
    from pathlib import Path
    from tui.core.client import BatchClient
    from tui.core.config import Profile
    from tui.core.journal import Journal
    from tui.core.registry import Job, Registry

    step, base_url, input_path = sys.argv[1:4]
    real_upload, real_create = BatchClient.upload_file, BatchClient.create_batch

    async def upload(self, *args, **kw):
        if step == "before_upload":
            os._exit(9)
        result = await real_upload(self, *args, **kw)
        if step == "after_upload":
            os._exit(9)
        return result

    async def create(self, *args, **kw):
        if step == "before_create":
            os._exit(9)
        result = await real_create(self, *args, **kw)
        if step == "after_create":
            os._exit(9)
        return result

    BatchClient.upload_file, BatchClient.create_batch = upload, create
    profile = Profile("t", base_url=base_url, api_key_env="BATCHDECK_TEST_KEY")
    journal = Journal(Registry(), BatchClient(profile), profile)
    asyncio.run(journal.submit(Path(input_path), "/v1/chat/completions", {"team": "x"}, "cut"))
    """
)


@pytest.fixture
def profile(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> Profile:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    return Profile("t", base_url=server.base_url, api_key_env=KEY_ENV)


@pytest.fixture
def input_file(tmp_path: Path) -> Path:
    path = tmp_path / "requests.jsonl"
    path.write_bytes(jsonl(chat_lines(4)))
    return path


async def batches_with_token(client: BatchClient) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for batch in await client.list_batches():
        if TOKEN_KEY in batch.metadata:
            found.setdefault(batch.metadata[TOKEN_KEY], []).append(batch.id)
    return found


async def test_submit_records_every_step(profile: Profile, input_file: Path) -> None:
    client = BatchClient(profile)
    registry = Registry()
    job = await Journal(registry, client, profile).submit(
        input_file, "/v1/chat/completions", {"team": "eval"}, "nightly", tags=("a", "b")
    )
    assert job.batch_id and job.submission
    assert job.submission["state"] == "created"
    assert job.description == "nightly" and job.tags == ("a", "b")
    assert job.input_path == str(input_file.resolve())
    batch = await client.retrieve_batch(job.batch_id)
    assert batch.metadata == {"team": "eval", TOKEN_KEY: job.job_id}
    assert (await client.retrieve_file(batch.input_file_id)).filename.startswith(job.job_id)
    assert Registry().find_by_batch(job.batch_id) is not None
    assert await Journal(registry, client, profile).reconcile() == []
    await client.close()


class ThreadNotingRegistry(Registry):
    """A registry that notes the thread of each write and of each full load."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[str] = []

    def add(self, job: Job) -> Job:
        self.threads.append(threading.current_thread().name)
        return super().add(job)

    def modify(self, job_id: str, change: Callable[[Job], Job]) -> Job:
        self.threads.append(threading.current_thread().name)
        return super().modify(job_id, change)

    def load(self, *, verify: bool = False) -> dict[str, Job]:
        self.threads.append(threading.current_thread().name)
        return super().load(verify=verify)


async def test_submit_and_reconcile_write_the_registry_off_the_event_loop(
    profile: Profile, input_file: Path
) -> None:
    client = BatchClient(profile)
    registry = ThreadNotingRegistry()
    journal = Journal(registry, client, profile)
    await journal.submit(input_file, "/v1/chat/completions")
    await journal.reconcile()
    await client.close()
    loop_thread = threading.current_thread().name
    assert len(registry.threads) >= 5  # add, uploaded, creating, created, reconcile's load
    assert loop_thread not in registry.threads


@pytest.mark.parametrize(
    ("step", "outcome", "batches"),
    [
        ("before_upload", "abandoned", 0),
        ("after_upload", "created", 1),
        ("before_create", "created", 1),
        ("after_create", "found", 1),
    ],
)
async def test_cut_at_each_step_then_reconcile(
    step: str, outcome: str, batches: int, profile: Profile, input_file: Path
) -> None:
    child = subprocess.run(
        [sys.executable, "-c", CHILD, step, profile.resolved_base_url(), str(input_file)],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == 9, child.stderr  # it really died at that step
    (pending,) = Registry().load().values()
    assert pending.submission and pending.submission["state"] != "created"

    client = BatchClient(profile)
    journal = Journal(Registry(), client, profile)
    (settled,) = await journal.reconcile()
    assert settled.outcome == outcome, settled
    by_token = await batches_with_token(client)
    assert len(by_token.get(pending.job_id, [])) == batches
    job = Registry().get(pending.job_id)
    assert job is not None and job.submission is not None
    if batches:
        assert job.batch_id == by_token[pending.job_id][0] == settled.batch_id
        assert job.submission["state"] == "created"
        assert job.snapshot and job.snapshot["id"] == job.batch_id
    else:
        assert job.submission["state"] == "abandoned" and job.batch_id is None
    # settled for good: a second reconcile (the next start) has nothing to do
    assert await journal.reconcile() == []
    assert len((await batches_with_token(client)).get(pending.job_id, [])) == batches
    await client.close()


async def test_lost_create_answer_makes_no_duplicate(
    server: LocalServer, profile: Profile, input_file: Path
) -> None:
    # The server creates the batch, then drops the connection before answering.
    server.faults.add("drop_after", method="POST", path="/v1/batches", times=1)
    client = BatchClient(profile)
    job = await Journal(Registry(), client, profile).submit(input_file, "/v1/chat/completions")
    assert ("drop_after", "POST", "/v1/batches") in server.faults.fired
    assert await batches_with_token(client) == {job.job_id: [job.batch_id]}
    await client.close()


async def test_create_failing_twice_then_accepted(
    server: LocalServer, profile: Profile, input_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_module, "LOOKUP_WAITS", (0.01,))
    server.faults.add("500", method="POST", path="/v1/batches", times=2, retry_after=0.01)
    client = BatchClient(profile)
    job = await Journal(Registry(), client, profile).submit(input_file, "/v1/chat/completions")
    assert await batches_with_token(client) == {job.job_id: [job.batch_id]}
    await client.close()


async def test_reconcile_leaves_a_running_submit_alone(profile: Profile, input_file: Path) -> None:
    child = subprocess.run(
        [sys.executable, "-c", CHILD, "after_upload", profile.resolved_base_url(), str(input_file)],
        env=dict(os.environ),
        capture_output=True,
        timeout=60,
    )
    assert child.returncode == 9
    (pending,) = Registry().load().values()
    client = BatchClient(profile)
    journal = Journal(Registry(), client, profile)
    with _hold(journal._lock_path(pending.job_id), wait=True):  # as if still submitting
        assert await journal.reconcile() == []
    assert [s.outcome for s in await journal.reconcile()] == ["created"]
    await client.close()


def test_metadata_rules() -> None:
    assert check_metadata({"a": "b"}) == {"a": "b"}
    with pytest.raises(SubmitError, match="16"):
        check_metadata({f"k{i}": "v" for i in range(16)})
    with pytest.raises(SubmitError, match="64"):
        check_metadata({"k" * 65: "v"})
    with pytest.raises(SubmitError, match="513 characters, at most 512"):
        check_metadata({"k": "v" * 513})
    with pytest.raises(SubmitError, match="reserved"):
        check_metadata({TOKEN_KEY: "x"})


async def test_bad_metadata_sends_nothing(profile: Profile, input_file: Path) -> None:
    client = BatchClient(profile)
    with pytest.raises(SubmitError):
        await Journal(Registry(), client, profile).submit(
            input_file, "/v1/chat/completions", {"k": "v" * 600}
        )
    assert Registry().load() == {}
    assert await client.list_files() == []
    await client.close()


async def test_create_committed_after_the_client_gave_up_is_found(
    server: LocalServer, profile: Profile, input_file: Path
) -> None:
    # The server takes 0.3 s before it creates the batch; the client waits only 0.1 s.
    server.faults.add("latency", method="POST", path="/v1/batches", delay=0.3, times=1)
    client = BatchClient(profile)
    client._client = client._client.with_options(timeout=0.1)
    job = await Journal(Registry(), client, profile).submit(input_file, "/v1/chat/completions")
    assert await batches_with_token(client) == {job.job_id: [job.batch_id]}
    await client.close()


async def test_refused_create_is_settled_as_abandoned(profile: Profile, input_file: Path) -> None:
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            "before_create",
            profile.resolved_base_url(),
            str(input_file),
        ],
        env=dict(os.environ),
        capture_output=True,
        timeout=60,
    )
    assert child.returncode == 9
    client = BatchClient(profile)
    for info in await client.list_files():  # the upload is gone before the create
        await client.delete_file(info.id)
    journal = Journal(Registry(), client, profile)
    (settled,) = await journal.reconcile()
    assert settled.outcome == "abandoned"
    (job,) = Registry().load().values()
    assert job.submission and job.submission["state"] == "abandoned"
    assert "refused" in job.submission["note"]
    assert await journal.reconcile() == []  # settled for good
    assert await batches_with_token(client) == {}
    await client.close()


async def test_unknown_endpoint_sends_nothing(profile: Profile, input_file: Path) -> None:
    client = BatchClient(profile)
    with pytest.raises(SubmitError, match="not a batch endpoint"):
        await Journal(Registry(), client, profile).submit(input_file, "/v1/nope")
    assert Registry().load() == {}
    assert await client.list_files() == []
    await client.close()


async def test_no_lock_files_left_behind(profile: Profile, input_file: Path) -> None:
    client = BatchClient(profile)
    registry = Registry()
    await Journal(registry, client, profile).submit(input_file, "/v1/chat/completions")
    assert list((registry.root / ".submitting").iterdir()) == []
    await client.close()
