"""tui.core.poll: back-off, the finish watcher, flags, filters and sort keys."""

from __future__ import annotations

from dataclasses import replace

from tui.core import errors, poll
from tui.core.models import Batch, RequestCounts
from tui.core.registry import Job

NOW = 1_767_225_600
HOUR = 3600


def batch(status: str = "in_progress", **kw: object) -> Batch:
    base = Batch(
        id=str(kw.pop("id", "batch_1")),
        status=status,
        endpoint="/v1/chat/completions",
        input_file_id="file-1",
        created_at=NOW - 10 * HOUR,
        in_progress_at=NOW - 9 * HOUR,
        expires_at=NOW + 14 * HOUR,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def test_backoff_grows_honours_retry_after_and_resets() -> None:
    backoff = poll.Backoff((1.0, 2.0, 4.0))
    assert [backoff.failure() for _ in range(4)] == [1.0, 2.0, 4.0, 4.0]
    backoff.success()
    assert backoff.failure(errors.RateLimitedError("slow down", retry_after=30)) == 30.0
    assert (
        backoff.failure(errors.RateLimitedError("slow down", retry_after=0.5)) == 2.0
    )  # second step
    backoff.success()
    assert backoff.failure(errors.AuthError("bad key")) == 2.0  # half the longest step


def test_watcher_announces_only_batches_seen_running() -> None:
    watcher = poll.Watcher()
    assert not watcher.finished(batch("completed", id="old"))  # final when first seen
    assert not watcher.finished(batch("in_progress", id="a"))
    assert watcher.watching == {"a"}
    assert watcher.finished(batch("failed", id="a"))
    assert not watcher.finished(batch("failed", id="a"))  # once only
    assert watcher.watching == set()


def test_a_queue_part_that_finishes_is_told_with_its_group_not_alone() -> None:
    watcher = poll.Watcher()
    part = Job(batch_id="p", group_id="grp-1", submission={"queue": {"order": 0}})
    plain = Job(batch_id="a")
    for job in (part, plain):
        assert not watcher.finished(batch("in_progress", id=job.batch_id), job)
    assert not watcher.finished(batch("completed", id="p"), part)
    assert watcher.finished(batch("completed", id="a"), plain)
    assert watcher.watching == set()


def test_state_since_and_flags() -> None:
    assert poll.state_since(batch("validating")) == NOW - 10 * HOUR
    assert poll.state_since(batch("in_progress")) == NOW - 9 * HOUR
    assert poll.state_since(batch("finalizing")) is None  # no finalizing_at: unknown
    assert poll.flags(batch("in_progress"), NOW) == []
    assert poll.flags(batch("validating"), NOW) == ["validating for 10h"]
    slow = batch("finalizing", finalizing_at=NOW - 3 * HOUR)
    assert poll.flags(slow, NOW) == ["finalizing for 3h"]
    assert poll.flags(batch("finalizing", finalizing_at=NOW - HOUR), NOW) == []
    late = batch("in_progress", expires_at=NOW + HOUR + 60)
    assert poll.flags(late, NOW) == ["expires in 1h 1m"]
    assert poll.flags(batch("in_progress", expires_at=NOW - 5), NOW) == ["past its expiry"]
    assert poll.flags(batch("completed", expires_at=NOW + 60, completed_at=NOW), NOW) == []


def test_matches_status_text_and_mine() -> None:
    job = Job(batch_id="batch_1", description="Nightly EVAL", tags=("prod",))
    running, done = batch("in_progress"), batch("completed", completed_at=NOW)
    assert poll.matches(running, None, status="active")
    assert not poll.matches(done, None, status="active")
    assert poll.matches(done, None, status="final")
    assert poll.matches(done, None, status="completed")
    assert not poll.matches(running, None, status="completed")
    assert poll.matches(running, job, text="eval")
    assert poll.matches(running, job, text="PROD")
    assert not poll.matches(running, None, text="eval")
    assert poll.matches(batch(metadata={"team": "search"}), None, text="sear")
    assert not poll.matches(running, None, only_mine=True)
    assert poll.matches(running, job, only_mine=True)


def test_sort_keys_order_each_column() -> None:
    a = batch("completed", id="a", created_at=1, request_counts=RequestCounts(10, 10, 0))
    b = batch("validating", id="b", created_at=2, model="z-model")
    c = batch("in_progress", id="c", created_at=3, request_counts=RequestCounts(10, 2, 1))
    jobs = {"a": Job(batch_id="a", description="zeta"), "b": Job(batch_id="b", description="Alpha")}

    def order(column: str) -> list[str]:
        items = sorted((a, b, c), key=lambda x: poll.sort_key(column, x, jobs.get(x.id)))
        return [x.id for x in items]

    assert order("created") == ["a", "b", "c"]
    assert order("status") == ["b", "c", "a"]
    assert order("progress") == ["b", "c", "a"]
    assert order("description") == ["c", "b", "a"]  # no description sorts first
    assert order("model") == ["a", "c", "b"]
    for column in poll.SORT_COLUMNS:
        order(column)  # every column sorts without comparing unlike types


def test_describe_and_changed() -> None:
    plain = batch(metadata={"k": "v", "x": "y"})
    assert poll.describe(plain, None) == "k=v, x=y"
    assert poll.describe(plain, Job(batch_id="batch_1", description="mine")) == "mine"
    snapshot = plain.to_dict()
    assert not poll.changed(snapshot, plain)
    assert poll.changed(snapshot, replace(plain, request_counts=RequestCounts(1, 1, 0)))
    assert poll.changed(snapshot, replace(plain, status="finalizing"))
    assert poll.changed(None, plain)


def test_describe_hides_the_client_token_and_falls_back_to_the_input_file() -> None:
    submitted = batch(metadata={"batchdeck_token": "bd-1234", "team": "ml"})
    assert poll.describe(submitted, None) == "team=ml"
    only_token = batch(metadata={"batchdeck_token": "bd-1234"})
    job = Job(batch_id="batch_1", input_path="/data/tickets.batch.jsonl")
    assert poll.describe(only_token, job) == "tickets.batch.jsonl"
    assert poll.describe(only_token, None) == ""
