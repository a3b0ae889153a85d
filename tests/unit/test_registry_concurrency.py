"""The job registry under concurrency: processes and threads writing at once lose
nothing, and a writer killed at any moment never leaves a lost or half-written record."""

from __future__ import annotations

import dataclasses
import os
import random
import select
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


ACK_ADD = 0xFF
"""Byte the writer sends after adding a job; after modifying ``job_<i>`` it sends ``i``."""
MID_WRITE = ord("M")
"""Byte the writer sends when it stops for good with a record written but not renamed."""
ACK_DEADLINE = 15.0
"""Seconds the parent waits for the acknowledgements it expects (a hung writer)."""


def writer(root: Path, seed: int, ack: int, stop_after: int | None) -> None:  # pragma: no cover
    """Write new versions in a tight loop until killed (SIGKILL), sending a byte to
    ``ack`` after each completed change. With ``stop_after``, the next record write
    after that many changes stops between writing its temp file and renaming it."""
    rng = random.Random(seed)
    registry = Registry(root)  # durable: the real thing, fsyncs and all
    real_replace = os.replace
    acked = 0

    def replace(source: str | Path, target: str | Path) -> None:
        if stop_after is not None and acked >= stop_after and Path(target).parent == root:
            os.write(ack, bytes([MID_WRITE]))
            while True:  # the temp file is complete on disk; wait for the kill
                time.sleep(1)
        real_replace(source, target)

    os.replace = replace  # type: ignore[assignment]  # only in this forked child
    added = 0
    while True:
        index = rng.randrange(JOBS)
        registry.modify(f"job_{index}", lambda job: content(job.job_id, version_of(job) + 1))
        acked += 1
        os.write(ack, bytes([index]))
        roll = rng.random()
        if roll < 0.1 and added < MAX_NEW:
            registry.add(content(f"new_{seed}_{added}", 1))
            added += 1
            acked += 1
            os.write(ack, bytes([ACK_ADD]))
        elif roll < 0.2:
            registry.load()
            registry.save_cache()


def run_writer(root: Path, seed: int, stop_after: int | None) -> tuple[int, int]:
    """Fork a writer; return its pid and the read end of its acknowledgements."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read_end)
            writer(root, seed, write_end, stop_after)
        finally:
            os._exit(1)
    os.close(write_end)
    return pid, read_end


def read_acks(fd: int, count: int, *, stop_at: int | None = None) -> bytes:
    """Read ``count`` bytes from ``fd`` (fewer if byte ``stop_at`` comes first; all
    of them to the end with ``count=-1``), failing if the writer falls silent for
    ACK_DEADLINE or dies before it is killed."""
    got = b""
    while count < 0 or len(got) < count:
        ready, _, _ = select.select([fd], [], [], ACK_DEADLINE)
        assert ready, f"the writer sent {len(got)} of {count} acknowledgements"
        chunk = os.read(fd, 1 if count >= 0 else 4096)
        if not chunk:
            assert count < 0, "the writer died before it was killed"
            break
        got += chunk
        if chunk[-1] == stop_at:
            break
    return got


def records_on_disk(root: Path) -> dict[str, Job]:
    """Every record parsed straight from its file, bypassing the registry's cache."""
    jobs = {}
    for path in root.glob("*.toml"):
        job = Job.from_toml_dict(tomllib.loads(path.read_text("utf-8")))
        jobs[job.job_id] = job
    return jobs


def test_writer_killed_at_random_moments_never_loses_or_tears_a_record(tmp_path: Path) -> None:
    """Each round forks a writer, waits until it has acknowledged ``k`` changes (``k``
    from a seeded RNG, 0 included), kills it after a small seeded delay (or, in some
    rounds, while it holds a record written but not yet renamed), reads every
    acknowledgement it got to send, then checks the registry against them: every
    record loads, each is a whole version, no acknowledged change is lost, and only
    the one change in flight may have landed beyond them."""
    root = tmp_path / "jobs"
    setup = Registry(root)
    for i in range(JOBS):
        setup.add(content(f"job_{i}", 0))
    rng = random.Random(20240611)
    versions = dict.fromkeys((f"job_{i}" for i in range(JOBS)), 0)
    new_jobs: set[str] = set()
    mid_write = acked_total = 0
    started = time.monotonic()
    for kill in range(KILLS):
        k = rng.choice([0, 0, 1, 2, rng.randrange(3, 6)])
        stop_mid_write = rng.random() < 0.25
        delay = rng.choice([0.0, 0.0, rng.uniform(0.0, 0.003)])
        pid, acks_fd = run_writer(root, kill, k if stop_mid_write else None)
        try:
            if stop_mid_write:
                read = read_acks(acks_fd, k + 1, stop_at=MID_WRITE)
                assert read[-1] == MID_WRITE, (kill, read)
            else:
                read = read_acks(acks_fd, k)
                time.sleep(delay)
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            read += read_acks(acks_fd, -1)  # what it acknowledged before the kill landed
        finally:
            os.close(acks_fd)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
        stopped = read.endswith(bytes([MID_WRITE]))
        assert stopped == stop_mid_write, kill
        acks = read[:-1] if stopped else read
        assert len(acks) >= k
        acked_total += len(acks)
        if stopped:
            assert any(name.endswith(".tmp") for name in os.listdir(root)), kill
            mid_write += 1

        registry = Registry(root)  # a fresh start, through the cache when it is current
        jobs = registry.load()
        assert not registry.problems, (kill, registry.problems)
        assert jobs == records_on_disk(root), kill
        assert not [name for name in os.listdir(root) if name.endswith(".tmp")]
        acked_versions = {
            job_id: old + acks.count(i) for i, (job_id, old) in enumerate(versions.items())
        }
        ahead = 0
        for job_id, acked in acked_versions.items():
            assert job_id in jobs, (kill, job_id)
            version = version_of(jobs[job_id])
            assert acked <= version <= acked + 1, (kill, job_id, version, acked)
            ahead += version - acked
            versions[job_id] = version
        assert ahead <= 1, kill  # only the change in flight can be ahead of its ack
        added = {f"new_{kill}_{n}" for n in range(acks.count(ACK_ADD))}
        assert added <= set(jobs), kill
        assert new_jobs <= set(jobs)
        for job_id in set(jobs) - set(versions):
            assert version_of(jobs[job_id]) == 1
            new_jobs.add(job_id)

    elapsed = time.monotonic() - started
    print(
        f"{KILLS} kills, {mid_write} mid-write, {acked_total} changes acknowledged, {elapsed:.1f} s"
    )
    assert mid_write > 0 and acked_total > 0
