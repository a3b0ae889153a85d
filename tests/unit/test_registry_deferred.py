"""The start-up cache's deferred columns: a job read from the cache decodes its
snapshot and submission when one of them is first read, for every job of that read."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import threading
from pathlib import Path

import pytest

from tui.core import registry_cache
from tui.core.registry import CACHE_DIR, CACHE_NAME, Job, Registry
from tui.core.registry_cache import DEFERRED_FIELDS

from .test_registry import count_parses, full_job


def unset(job: Job, name: str) -> bool:
    """Whether the slot ``name`` of ``job`` holds no value (bypassing ``__getattr__``)."""
    try:
        Job.__dict__[name].__get__(job, Job)
    except AttributeError:
        return True
    return False


STORED: dict[str, Job] = {}  # each job as the registry stored it


@pytest.fixture
def root(tmp_path: Path) -> Path:
    registry = Registry(tmp_path / "jobs", durable=False)
    for job in [*map(full_job, (f"job_{i}" for i in range(30))), Job(job_id="job_bare")]:
        STORED[job.job_id] = registry.add(job)  # job_bare: no snapshot, no submission
    Registry(registry.root).load()  # writes the cache
    return registry.root


def test_warm_load_leaves_the_snapshots_undecoded_until_one_is_read(root: Path) -> None:
    expected = STORED
    jobs = Registry(root).load()
    assert all(unset(job, name) for job in jobs.values() for name in DEFERRED_FIELDS)
    assert jobs["job_3"].description == expected["job_3"].description  # eager fields are set

    assert jobs["job_7"].snapshot == expected["job_7"].snapshot
    assert not any(unset(job, "snapshot") for job in jobs.values())  # all at once
    assert all(unset(job, "submission") for job in jobs.values())  # each column on its own
    assert jobs["job_bare"].snapshot is None and jobs["job_bare"].submission is None
    assert not any(unset(job, "submission") for job in jobs.values())
    assert jobs["job_0"].snapshot == expected["job_0"].snapshot
    assert jobs["job_0"].submission == expected["job_0"].submission
    assert not set(map(id, jobs.values())) & set(registry_cache._PENDING)  # all decoded


@pytest.mark.parametrize(
    "use",
    [
        lambda job: job == STORED[job.job_id],
        lambda job: (
            dataclasses.replace(job, description="x").snapshot == STORED[job.job_id].snapshot
        ),
        lambda job: pickle.loads(pickle.dumps(job)) == STORED[job.job_id],
        lambda job: copy.deepcopy(job) == STORED[job.job_id],
        lambda job: dataclasses.asdict(job) == dataclasses.asdict(STORED[job.job_id]),
        lambda job: job.status == "failed",
    ],
)
def test_an_undecoded_job_behaves_as_a_whole_one(root: Path, use: object) -> None:
    job = Registry(root).load()["job_5"]
    assert unset(job, "snapshot")
    assert callable(use) and use(job)


def test_an_unknown_attribute_is_still_an_attribute_error(root: Path) -> None:
    job = Registry(root).load()["job_1"]
    with pytest.raises(AttributeError, match="no_such_field"):
        job.no_such_field  # type: ignore[attr-defined]  # noqa: B018
    assert getattr(job, "no_such_field", "default") == "default"
    assert unset(job, "snapshot")  # asking for something else decodes nothing


def test_threads_reading_at_once_see_the_same_snapshots(root: Path) -> None:
    jobs = sorted(Registry(root).load().values(), key=lambda job: job.job_id)
    barrier = threading.Barrier(4)
    seen: list[list[object]] = []

    def read() -> None:
        barrier.wait()
        seen.append([job.snapshot for job in jobs])

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 4 and all(s == seen[0] for s in seen)
    assert all(a is b for s in seen for a, b in zip(s, seen[0], strict=True))  # decoded once


def test_a_damaged_deferred_column_is_found_at_load(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = Registry(root).load()
    cache = root / CACHE_DIR / CACHE_NAME
    data = bytearray(cache.read_bytes())
    where = data.rfind(b"invalid_json_line")  # inside a snapshot, in the deferred part
    assert where > 0
    data[where : where + 7] = b"XXXXXXX"  # still marshal, wrong content
    cache.write_bytes(bytes(data))
    parsed = count_parses(monkeypatch)
    fresh = Registry(root)
    assert fresh.load() == expected and not fresh.problems
    assert len(parsed) == len(expected)  # the cache was not trusted: every record parsed
