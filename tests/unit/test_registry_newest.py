"""Registry.newest_snapshots: the newest batch snapshots of a profile, read from the
small file written with the start-up cache, trusted only while nothing changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.core import registry as registry_module
from tui.core.models import Batch, RequestCounts
from tui.core.registry import CACHE_DIR, NEWEST_NAME, Job, Registry


def snapshot(batch_id: str, created_at: int) -> dict[str, object]:
    return Batch(
        id=batch_id,
        status="completed",
        endpoint="/v1/embeddings",
        input_file_id="file-x",
        created_at=created_at,
        request_counts=RequestCounts(1, 1, 0),
    ).to_dict()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "jobs"
    reg = Registry(root, durable=False)
    for i in range(30):  # created out of order, in three profiles
        created = 1_700_000_000 + (i * 7) % 30
        reg.add(
            Job(
                job_id=f"job_{i:02d}",
                batch_id=f"batch_{i:02d}",
                description=f"job {i}",
                profile=(None, "work", "home")[i % 3],
                snapshot=snapshot(f"batch_{i:02d}", created),
            )
        )
    reg.add(Job(job_id="job_nosnap", batch_id="batch_nosnap"))  # no snapshot: never newest
    Registry(root, durable=False).load()  # writes the cache (and the newest file)
    return root


def expected(root: Path, profile: str | None, count: int) -> list[Job]:
    jobs = [
        job
        for job in Registry(root, durable=False).load().values()
        if job.batch_id and job.snapshot and job.profile in (None, profile)
    ]
    jobs.sort(key=lambda job: job.snapshot_created_at, reverse=True)
    return jobs[:count]


def test_newest_of_a_profile_match_the_whole_registry(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_full_load(root: Path) -> None:
        raise AssertionError("the whole cache was read")

    with monkeypatch.context() as patched:
        patched.setattr(registry_module, "read_cache", no_full_load)
        newest = Registry(root, durable=False).newest_snapshots("work", 5)
    assert newest is not None
    assert newest.jobs == expected(root, "work", 5)
    assert newest.total == 20  # ten of no profile, ten of "work"
    assert all(job.profile in (None, "work") for job in newest.jobs)


def test_not_trusted_after_a_change_or_once_loaded(root: Path) -> None:
    assert Registry(root, durable=False).newest_snapshots(None, 3) is not None
    other = Registry(root, durable=False)
    other.add(
        Job(job_id="job_new", batch_id="batch_new", snapshot=snapshot("batch_new", 2_000_000_000))
    )
    assert Registry(root, durable=False).newest_snapshots(None, 3) is None  # stale now
    loaded = Registry(root, durable=False)
    loaded.load()
    assert loaded.newest_snapshots(None, 3) is None  # load() has the answer
    loaded.save_cache()
    fresh = Registry(root, durable=False).newest_snapshots(None, 3)
    assert fresh is not None and fresh.jobs[0].job_id == "job_new"


def test_no_file_without_snapshots_and_none_for_too_many(tmp_path: Path, root: Path) -> None:
    empty = tmp_path / "empty"
    reg = Registry(empty, durable=False)
    reg.add(Job(job_id="job_1"))
    Registry(empty, durable=False).load()
    assert not (empty / CACHE_DIR / NEWEST_NAME).exists()
    assert Registry(empty, durable=False).newest_snapshots(None, 3) is None
    assert (
        Registry(root, durable=False).newest_snapshots(None, registry_module.NEWEST_JOBS + 1)
        is None
    )


def test_a_cache_without_the_newest_file_gets_one_at_exit(root: Path) -> None:
    (root / CACHE_DIR / NEWEST_NAME).unlink()  # as written by an earlier batchdeck
    reg = Registry(root, durable=False)
    assert reg.newest_snapshots(None, 3) is None
    reg.load()
    reg.save_cache()
    assert Registry(root, durable=False).newest_snapshots(None, 3) is not None
