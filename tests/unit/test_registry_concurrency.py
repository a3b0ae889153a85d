"""The job registry under concurrency: processes and threads writing at once lose
nothing, and a writer killed at any moment never leaves a lost or half-written record."""

from __future__ import annotations

import dataclasses
import os
import random
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

from tui.core.registry import Job, Registry

REPO = Path(__file__).resolve().parents[2]

# -- processes updating at once --------------------------------------------------

WORKER = """
import sys, time
from dataclasses import replace
from pathlib import Path
from tui.core.registry import Job, Registry

root, me, count = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
registry = Registry(root, durable=False)
field = ["description", "input_path", "profile"][me]
while not (root.parent / "go").exists():  # start together
    time.sleep(0.001)
for k in range(count):
    registry.modify("shared", lambda job: replace(job, tags=(*job.tags, f"p{me}-{k}")))
    registry.update("shared", **{field: f"p{me}-{k}"})
    registry.update(f"own_{me}", description=str(k))
    registry.add(Job(job_id=f"new_{me}_{k}"))
"""


def test_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    root = tmp_path / "jobs"
    registry = Registry(root, durable=False)
    registry.add(Job(job_id="shared"))
    for me in range(3):
        registry.add(Job(job_id=f"own_{me}"))
    count = 60
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(root), str(me), str(count)], cwd=REPO)
        for me in range(3)
    ]
    time.sleep(0.3)  # let them import
    (tmp_path / "go").touch()
    assert [worker.wait(timeout=60) for worker in workers] == [0, 0, 0]

    fresh = Registry(root)
    jobs = fresh.load()
    assert not fresh.problems
    shared = jobs["shared"]
    expected_tags = {f"p{me}-{k}" for me in range(3) for k in range(count)}
    assert len(shared.tags) == len(expected_tags) and set(shared.tags) == expected_tags
    for me in range(3):  # each process's tags in its own order
        mine = [tag for tag in shared.tags if tag.startswith(f"p{me}-")]
        assert mine == [f"p{me}-{k}" for k in range(count)]
    last = f"-{count - 1}"
    assert (shared.description, shared.input_path, shared.profile) == (
        "p0" + last,
        "p1" + last,
        "p2" + last,
    )
    for me in range(3):
        assert jobs[f"own_{me}"].description == str(count - 1)
        assert all(f"new_{me}_{k}" in jobs for k in range(count))
    assert len(jobs) == 1 + 3 + 3 * count
    assert Registry(root).load(verify=True) == jobs


def appending(tag: str) -> Callable[[Job], Job]:
    return lambda job: dataclasses.replace(job, tags=(*job.tags, tag))


def test_threads_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    root = tmp_path / "jobs"
    shared_registry = Registry(root, durable=False)
    shared_registry.add(Job(job_id="shared"))
    shared_registry.load()

    def work(me: int, registry: Registry) -> None:
        for k in range(25):
            registry.modify("shared", appending(f"t{me}-{k}"))
            registry.load()

    threads = [
        threading.Thread(target=work, args=(me, shared_registry if me % 2 else Registry(root)))
        for me in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(Registry(root).load()["shared"].tags) == 4 * 25
    assert len(shared_registry.load()["shared"].tags) == 4 * 25


# -- a writer killed at random moments ---------------------------------------------

JOBS = 6
KILLS = 220
MAX_NEW = 15


def content(job_id: str, version: int) -> Job:
    """Version ``version`` of a job: every part of it says which version it is, and
    its size varies, so a half-written or mixed record cannot pass :func:`check`."""
    return Job(
        job_id=job_id,
        batch_id=f"batch_{job_id}",
        description=f"v{version}",
        tags=(f"t{version}",),
        created_at=float(version),
        snapshot={"id": f"batch_{job_id}", "v": version, "counts": list(range(version % 40))},
        submission={"state": "created", "v": version, "pad": "x" * (version * 37 % 2000)},
    )


def version_of(job: Job) -> int:
    """The version a job says it is, checking that all its parts agree."""
    version = int(job.created_at)
    assert job == content(job.job_id, version), f"{job.job_id} is not a whole version"
    return version


def writer(root: Path, seed: int) -> None:  # pragma: no cover - runs in a forked child
    """Write new versions in a tight loop until killed (SIGKILL)."""
    rng = random.Random(seed)
    registry = Registry(root)  # durable: the real thing, fsyncs and all
    added = 0
    while True:
        job_id = f"job_{rng.randrange(JOBS)}"
        registry.modify(job_id, lambda job: content(job.job_id, version_of(job) + 1))
        roll = rng.random()
        if roll < 0.1 and added < MAX_NEW:
            registry.add(content(f"new_{seed}_{added}", 1))
            added += 1
        elif roll < 0.2:
            registry.load()
            registry.save_cache()


def run_writer(root: Path, seed: int) -> int:
    """Fork a writer; return its pid."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            writer(root, seed)
        finally:
            os._exit(1)
    return pid


def records_on_disk(root: Path) -> dict[str, Job]:
    """Every record parsed straight from its file, bypassing the registry's cache."""
    jobs = {}
    for path in root.glob("*.toml"):
        job = Job.from_toml_dict(tomllib.loads(path.read_text("utf-8")))
        jobs[job.job_id] = job
    return jobs


def test_writer_killed_at_random_moments_never_loses_or_tears_a_record(tmp_path: Path) -> None:
    root = tmp_path / "jobs"
    setup = Registry(root)
    for i in range(JOBS):
        setup.add(content(f"job_{i}", 0))
    rng = random.Random(20240611)
    versions = dict.fromkeys((f"job_{i}" for i in range(JOBS)), 0)
    new_jobs: set[str] = set()
    mid_write = 0
    started = time.monotonic()
    for kill in range(KILLS):
        pid = run_writer(root, kill)
        time.sleep(rng.choice([0.0, 0.001, rng.uniform(0.001, 0.02), rng.uniform(0.001, 0.02)]))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
        mid_write += any(name.endswith(".tmp") for name in os.listdir(root))

        registry = Registry(root)  # a fresh start, through the cache when it is current
        jobs = registry.load()
        assert not registry.problems, (kill, registry.problems)
        assert jobs == records_on_disk(root), kill
        assert not [name for name in os.listdir(root) if name.endswith(".tmp")]
        for job_id, old in versions.items():
            assert job_id in jobs, (kill, job_id)
            version = version_of(jobs[job_id])
            assert version >= old, (kill, job_id, version, old)
            versions[job_id] = version
        assert new_jobs <= set(jobs)
        for job_id in set(jobs) - set(versions):
            assert version_of(jobs[job_id]) == 1
            new_jobs.add(job_id)

    elapsed = time.monotonic() - started
    writes = sum(versions.values())
    print(f"{KILLS} kills, {mid_write} mid-write, {writes} updates survived, {elapsed:.1f} s")
    assert writes >= KILLS // 2  # the writer got to write: kills landed all along the way
    assert mid_write > 0  # and some landed while a record was half-written
    assert len(new_jobs) > 0
