"""A queue job group's end fires the [hooks] ``final`` event once for the whole group:
BATCHDECK_GROUP_ID, completed/failed, counts summed over the parts; claimed on the
first part under the registry lock, so racers fire it once; old news stays quiet."""

from __future__ import annotations

import shlex
import threading
from pathlib import Path
from typing import Any

from tests._hooks import recorder, runs
from tui.core.group_events import GROUP_KEY, notify_groups
from tui.core.hook_settings import HookSettings
from tui.core.queue_view import groups_of
from tui.core.registry import Job, Registry

NOW = 1_800_000_000.0
HOSTILE = "nightly $(touch x); `id`"


def part(
    order: int, status: str, done: int, bad: int, *, group: str = "grp-1", requests: int = 0
) -> Job:
    snapshot: dict[str, Any] = {
        "id": f"batch_{group}_{order}",
        "status": status,
        "request_counts": {"total": done + bad, "completed": done, "failed": bad},
    }
    if status in ("completed", "failed"):
        snapshot[f"{status}_at"] = int(NOW) - 60
    queue = {
        "order": order,
        "parts": 3,
        "tokens": 10,
        "model": "m",
        "requests": requests or done + bad,
    }
    return Job(
        job_id=f"job-{group}-{order}",
        batch_id=f"batch_{group}_{order}",
        description=f"{HOSTILE} (part {order + 1}/3)",
        group_id=group,
        profile="default",
        snapshot=snapshot,
        submission={"state": "created", "queue": queue},
    )


def registry_with(tmp_path: Path, *jobs: Job) -> Registry:
    registry = Registry(tmp_path / "jobs", durable=False)
    for job in jobs:
        registry.add(job)
    return registry


def settings(command: str) -> HookSettings:
    return HookSettings(on_final=tuple(shlex.split(command)))


def notify(registry: Registry, command: str, **kw: Any) -> list[str]:
    groups = groups_of(registry.load().values()).values()
    outcome = notify_groups(registry, groups, settings(command), now=NOW, **kw)
    assert outcome.problems == []
    return [event.group_id for event in outcome.fired]


def test_a_done_group_fires_once_with_its_summed_counts(tmp_path: Path) -> None:
    out, command = recorder(tmp_path)
    jobs = [part(0, "completed", 4, 1), part(1, "completed", 5, 0), part(2, "completed", 3, 2)]
    registry = registry_with(tmp_path, *jobs)
    assert notify(registry, command) == ["grp-1"]
    assert notify(registry, command) == []  # once
    [run] = runs(out)
    env = run["env"]
    assert env["BATCHDECK_GROUP_ID"] == "grp-1" and env["BATCHDECK_BATCH_ID"] == ""
    assert env["BATCHDECK_EVENT"] == "final" and env["BATCHDECK_STATUS"] == "completed"
    assert (env["BATCHDECK_COMPLETED"], env["BATCHDECK_FAILED"], env["BATCHDECK_TOTAL"]) == (
        "12",
        "3",
        "15",
    )
    assert env["BATCHDECK_DESCRIPTION"] == HOSTILE  # literal, without "(part 1/3)"
    assert GROUP_KEY in registry.load()["job-grp-1-0"].notified


def test_a_group_with_a_failed_part_is_failed_and_one_not_done_waits(tmp_path: Path) -> None:
    out, command = recorder(tmp_path)
    failed = [
        part(0, "completed", 2, 0),
        part(1, "failed", 0, 0, requests=3),
        part(2, "completed", 2, 0),
    ]
    running = [
        part(0, "completed", 2, 0, group="grp-2"),
        part(1, "in_progress", 1, 0, group="grp-2"),
        part(2, "completed", 2, 0, group="grp-2"),
    ]
    registry = registry_with(tmp_path, *failed, *running)
    assert notify(registry, command) == ["grp-1"]
    [run] = runs(out)
    assert run["env"]["BATCHDECK_STATUS"] == "failed"
    # the refused part's batch counted nothing: its requests count as failed
    assert (run["env"]["BATCHDECK_FAILED"], run["env"]["BATCHDECK_TOTAL"]) == ("3", "7")


def test_old_news_fires_only_when_the_caller_saw_it_running(tmp_path: Path) -> None:
    out, command = recorder(tmp_path)
    jobs = [part(i, "completed", 1, 0) for i in range(3)]
    registry = registry_with(tmp_path, *jobs)
    later = NOW + 3 * 86400  # ended three days before: not news by default
    groups = groups_of(registry.load().values()).values()
    assert notify_groups(registry, groups, settings(command), now=later).fired == []
    seen = notify_groups(registry, groups, settings(command), now=later, seen_active={"grp-1"})
    assert [event.group_id for event in seen.fired] == ["grp-1"]
    assert len(runs(out)) == 1


def test_threads_racing_fire_once(tmp_path: Path) -> None:
    out, command = recorder(tmp_path)
    registry_with(tmp_path, *(part(i, "completed", 1, 0) for i in range(3)))
    start = threading.Barrier(6)
    fired: list[int] = []

    def racer() -> None:
        registry = Registry(tmp_path / "jobs", durable=False)  # one each, like processes
        groups = groups_of(registry.load().values()).values()
        start.wait()
        fired.append(len(notify_groups(registry, groups, settings(command), now=NOW).fired))

    threads = [threading.Thread(target=racer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(fired) == [0] * 5 + [1]
    assert len(runs(out)) == 1
