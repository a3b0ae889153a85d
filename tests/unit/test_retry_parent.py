"""Which batch a job retries: ``retry_of`` for a plain retry; for a part of the local
queue, whose ``retry_of`` links the attempts of one part (job ids), only the parent
batch its queue table names (``retry_of_batch``)."""

from __future__ import annotations

from pathlib import Path

from tui.core.registry import Job, Registry
from tui.core.results import retries_of, retry_links
from tui.core.results.store import retry_parent


def part(job_id: str, batch_id: str, retry_of: str | None, **table: object) -> Job:
    queue = {"order": 0, "parts": 1, "tokens": 5, "model": "m", **table}
    return Job(
        job_id=job_id,
        batch_id=batch_id,
        group_id="grp-1",
        retry_of=retry_of,
        submission={"state": "created", "queue": queue},
    )


def test_queue_attempt_links_are_not_batch_retries(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "reg", durable=False)
    registry.add(Job(job_id="job-parent", batch_id="batch_parent"))
    registry.add(Job(job_id="job-plain", batch_id="batch_plain", retry_of="batch_parent"))
    first = registry.add(part("job-a", "batch_a", None, retry_of_batch="batch_parent"))
    again = registry.add(part("job-b", "batch_b", "job-a", retry_of_batch="batch_parent"))
    other = registry.add(part("job-c", "batch_c", "job-x"))  # a requeued part, no parent
    assert retry_parent(first) == retry_parent(again) == "batch_parent"
    assert retry_parent(other) is None
    # batch_a was sent again as batch_b (say, over the token limit): only b has results
    assert sorted(retries_of(registry, "batch_parent")) == ["batch_b", "batch_plain"]
    assert retry_links(registry, "batch_b").retry_of == "batch_parent"
    assert retry_links(registry, "batch_c").retry_of is None  # not "retry of job-x"
