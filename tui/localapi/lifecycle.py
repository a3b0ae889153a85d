"""The batch lifecycle: validating -> in_progress -> finalizing -> completed, and
the side roads to failed, expired, cancelling -> cancelled.

A batch's state is a function of simulated time (see :mod:`tui.localapi.clock`):
its record keeps its own :class:`~tui.localapi.clock.Timing`, and :meth:`Engine.refresh`
moves it forward to "now", doing every step that is due, with each step stamped at
the simulated time it was due (not when the server noticed). So:

- validation happens at ``created + timing.validation`` (``failed`` with
  ``errors.data`` or ``in_progress`` with ``request_counts.total``); a batch over its
  model's enqueued-token limit fails there too (see :mod:`tui.localapi.token_limits`);
- the k-th line to run finishes at ``in_progress + k * timing.per_request``; lines run
  in a shuffled order seeded by the batch id, so outputs are not in input order;
- the batch is ``finalizing`` when its last line finished and ``completed`` after
  ``timing.finalizing``, with an output file (if any line succeeded) and an error
  file (if any failed);
- at the end of the 24 h window a batch still validating or in progress is
  ``expired``: finished lines go to the output/error files, unfinished ones to the
  error file with ``response: null`` and ``error.code: "batch_expired"``;
- a cancel (now, or scheduled in ``_cancel_at``) makes it ``cancelling`` and, after
  ``timing.cancelling``, ``cancelled`` the same way with ``batch_cancelled``.

The server refreshes active batches on a short real-time tick and before answering
about one, so a client always sees a batch as of now. Transitions are persisted at
once; progress (counts, usage) at most every ``persist_interval`` seconds, while the
partial output files in the batch's work dir let a restarted server resume exactly
where the last whole line was written. An unexpected error in one batch fails that
batch (logged, with a plain message) and never stops the others or the API.
Timestamps never go backwards: "now" is the largest time the clock has shown, and
survives restarts in ``server.json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tui.core.fsutil import atomic_write
from tui.core.paths import ensure_private_dir
from tui.localapi.clock import COMPLETION_WINDOW_SECONDS, Clock, Timing
from tui.localapi.executors import ExecResult, Executor
from tui.localapi.ids import ALNUM, derived_id
from tui.localapi.store import Record, Store
from tui.localapi.token_limits import enqueued_tokens, limit_error
from tui.localapi.validate import Validation, validate_input
from tui.localapi.workfiles import (
    Checkpoint,
    Run,
    add_usage,
    encode_index,
    first_unparsable_line,
    has_index,
    link_or_copy,
    zero_usage,
)

log = logging.getLogger(__name__)

ACTIVE_STATUSES = frozenset({"validating", "in_progress", "finalizing", "cancelling"})
CANCELLABLE_STATUSES = frozenset({"validating", "in_progress"})


class Engine:
    """Moves batches through their lifecycle; lives on the server's event loop."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        executor: Executor,
        *,
        tick: float = 0.05,
        persist_interval: float = 0.5,
        max_inflight: int = 64,
        token_limits: dict[str, int] | None = None,
    ) -> None:
        self.store = store
        self.token_limits = token_limits if token_limits is not None else {}
        """Model -> enqueued-token limit (see :mod:`tui.localapi.token_limits`); the
        server shares its dict, so a change applies to the next batch validated."""
        self.clock = clock
        self.executor = executor
        self.tick = tick
        self.persist_interval = persist_interval
        self.max_inflight = max_inflight
        self.validate: Callable[..., Validation] = validate_input  # the dialect's limits
        self._last_now = float(store.meta.get("clock", 0.0))
        self._runs: dict[str, Run] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._active: set[str] = set()
        self._due: dict[str, float] = {}
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._last_meta = 0.0

    # --- time ------------------------------------------------------------------------

    def now(self) -> float:
        """Simulated now; never less than any "now" before it."""
        current = self.clock()
        if current > self._last_now:
            self._last_now = current
        return self._last_now

    # --- start and stop --------------------------------------------------------------

    async def start(self) -> None:
        self._wake = asyncio.Event()
        for batch_id, record in self.store.batches.items():
            if record["status"] not in ACTIVE_STATUSES:
                continue
            self._active.add(batch_id)
            if record["status"] != "validating" and has_index(self.store.work_dir(batch_id)):
                try:
                    self._runs[batch_id] = self._open_run(record)
                except Exception as exc:  # its first step fails it; the others go on
                    log.warning("batch %s: cannot resume (%s)", batch_id, exc)
        self._task = asyncio.create_task(self._loop(), name="batch-lifecycle")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for batch_id, run in list(self._runs.items()):
            record = self.store.batches.get(batch_id)
            run.cancel_inflight()
            if record is not None and run.dirty:
                self._persist(record, run)
            run.close()
        self._runs.clear()
        await self.executor.close()
        self.store.save_meta(clock=self._last_now)

    async def _loop(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.tick)
            self._wake.clear()
            await self.refresh_all()
            if time.monotonic() - self._last_meta > 2.0:
                self._last_meta = time.monotonic()
                self.store.save_meta(clock=self._last_now)

    async def refresh_all(self) -> None:
        """Bring every active batch up to now."""
        now = self.now()
        order: list[str] = list(self._active)
        if self.token_limits:
            order.sort(key=self._admission_key)
        for batch_id in order:
            if self._due.get(batch_id, 0.0) > now:
                continue
            await self.refresh(batch_id)

    def _admission_key(self, batch_id: str) -> tuple[int, float, int]:
        """Batches that may free tokens first, then the validating ones in the order
        they are due (so which batch fits the token limit does not depend on luck)."""
        record = self.store.batches.get(batch_id)
        if record is None or record["status"] != "validating":
            return 0, 0.0, 0
        due = record["_t"]["created"] + Timing.from_dict(record["_timing"]).validation
        return 1, float(due), int(record.get("_seq", 0))

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    # --- the API ---------------------------------------------------------------------

    def create_batch(
        self,
        *,
        input_file_id: str,
        endpoint: str,
        metadata: dict[str, str] | None,
        timing: Timing,
        output_expires_after: dict[str, Any] | None = None,
        created_at: float | None = None,
        cancel_at: float | None = None,
        completion_window: str = "24h",
        window_seconds: float = COMPLETION_WINDOW_SECONDS,
    ) -> Record:
        """A new batch in ``validating``; ``created_at``/``cancel_at`` are for seeding."""
        now = self.now() if created_at is None else float(created_at)
        batch_id = self.store.new_batch_id()
        work = self.store.work_dir(batch_id)
        ensure_private_dir(work)
        link_or_copy(self.store.blob_path(input_file_id), work / "input.jsonl")
        record: Record = {
            "id": batch_id,
            "object": "batch",
            "endpoint": endpoint,
            "model": None,
            "errors": None,
            "input_file_id": input_file_id,
            "completion_window": completion_window,
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": int(now),
            "in_progress_at": None,
            "expires_at": int(now + window_seconds),
            "finalizing_at": None,
            "completed_at": None,
            "failed_at": None,
            "expired_at": None,
            "cancelling_at": None,
            "cancelled_at": None,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
            "usage": zero_usage(),
            "metadata": metadata,
            "_seq": self.store.next_seq(),
            "_timing": timing.to_dict(),
            "_t": {"created": now},
            "_cancel_at": cancel_at,
            "_output_expires_after": output_expires_after,
            "_window": window_seconds,
        }
        self.store.add_batch(record)
        self._active.add(batch_id)
        self.wake()
        return record

    def is_active(self, batch_id: str) -> bool:
        """Whether the batch may still change (a finished one never needs a refresh)."""
        return batch_id in self._active

    async def refresh(self, batch_id: str) -> Record | None:
        """The batch as of now (None if unknown)."""
        record = self.store.batches.get(batch_id)
        if record is None:
            return None
        if batch_id in self._active:
            async with self._lock(batch_id):
                await self._advance(record, self.now())
        return record

    async def cancel(self, batch_id: str) -> Record | None:
        """Ask for a cancel now. Returns the batch; raises ValueError if it is too late."""
        record = await self.refresh(batch_id)
        if record is None:
            return None
        async with self._lock(batch_id):
            status = record["status"]
            if status == "cancelling":
                return record
            if status not in CANCELLABLE_STATUSES:
                raise ValueError(status)
            now = self.now()
            scheduled = record.get("_cancel_at")
            record["_cancel_at"] = now if scheduled is None else min(float(scheduled), now)
            await self._advance(record, now)
        return record

    # --- the state machine -----------------------------------------------------------

    def _lock(self, batch_id: str) -> asyncio.Lock:
        lock = self._locks.get(batch_id)
        if lock is None:
            lock = self._locks[batch_id] = asyncio.Lock()
        return lock

    async def _advance(self, record: Record, now: float) -> None:
        """:meth:`_step`, with an unexpected error failing this batch only."""
        try:
            await self._step(record, now)
            self._due[record["id"]] = self._next_due(record)
        except Exception as exc:  # a bug or a hostile input: this batch's problem alone
            self._crashed(record, exc)

    async def _step(self, record: Record, now: float) -> None:
        """Do every step of ``record`` that is due by ``now``."""
        batch_id = record["id"]
        timing = Timing.from_dict(record["_timing"])
        times = record["_t"]
        expires = times["created"] + record.get("_window", COMPLETION_WINDOW_SECONDS)
        cancel_at = record.get("_cancel_at")
        limit = expires if cancel_at is None else min(expires, float(cancel_at))
        cancel_first = cancel_at is not None and float(cancel_at) <= expires
        while True:
            status = record["status"]
            if status == "validating":
                due = times["created"] + timing.validation
                if due < limit and due <= now:
                    await self._validate(record, due)
                    continue
                if now >= limit:
                    if cancel_first:
                        self._begin_cancel(record, limit)
                        continue
                    await self._close(record, None, "expired", expires, "batch_expired")
                return
            if status == "in_progress":
                run = self._runs.get(batch_id)
                if run is None:
                    self._broken(record, now, "The batch's work files were lost.")
                    return
                self._drain(record, run)
                await self._dispatch(record, run, timing, min(now, limit))
                if len(run.done) == len(run.refs) and not run.inflight:
                    finished = max(run.last_finish, times["in_progress"])
                    times["finalizing"] = finished
                    record["finalizing_at"] = int(finished)
                    record["status"] = "finalizing"
                    self._persist(record, run)
                    continue
                if now >= limit:
                    if cancel_first:
                        self._begin_cancel(record, limit)
                        continue
                    await self._close(record, run, "expired", expires, "batch_expired")
                    return
                if run.dirty and time.monotonic() - run.last_persist >= self.persist_interval:
                    self._persist(record, run)
                return
            if status == "finalizing":
                due = times["finalizing"] + timing.finalizing
                if due <= now:
                    await self._close(record, self._runs.get(batch_id), "completed", due, None)
                return
            if status == "cancelling":
                due = times["cancelling"] + timing.cancelling
                if due <= now:
                    run = self._runs.get(batch_id)
                    await self._close(record, run, "cancelled", due, "batch_cancelled")
                return
            self._active.discard(batch_id)
            return

    def _broken(self, record: Record, at: float, message: str) -> None:
        """End a batch the server cannot carry on with (lost or unreadable work files)."""
        error = {"code": "server_error", "message": message, "param": None, "line": None}
        self._invalid(record, at, [error])

    def _crashed(self, record: Record, exc: Exception) -> None:
        """Fail a batch that raised an unexpected error (a bug or a hostile input)."""
        batch_id = record.get("id")
        log.error("batch %s failed: unexpected error", batch_id, exc_info=exc)
        message = f"The batch failed on an unexpected server error ({type(exc).__name__})."
        try:
            self._broken(record, self.now(), message)
        except Exception:  # not even that could be saved: stop touching it
            log.exception("batch %s: could not record the failure", batch_id)
            record["status"] = "failed"
            self._finish(str(batch_id))

    def _next_due(self, record: Record) -> float:
        """The simulated time of the batch's next step (so idle batches cost nothing)."""
        status = record["status"]
        timing = Timing.from_dict(record["_timing"])
        times = record["_t"]
        limit = times["created"] + record.get("_window", COMPLETION_WINDOW_SECONDS)
        if record.get("_cancel_at") is not None:
            limit = min(limit, float(record["_cancel_at"]))
        if status == "validating":
            return min(times["created"] + timing.validation, limit)
        if status == "in_progress":
            run = self._runs.get(record["id"])
            if run is None or run.results:
                return 0.0
            if run.next_pos < len(run.order) and (
                self.executor.inline or len(run.inflight) < self.max_inflight
            ):
                return min(limit, times["in_progress"] + (run.next_pos + 1) * timing.per_request)
            return limit
        if status == "finalizing":
            return float(times["finalizing"] + timing.finalizing)
        if status == "cancelling":
            return float(times["cancelling"] + timing.cancelling)
        return math.inf

    def _begin_cancel(self, record: Record, at: float) -> None:
        run = self._runs.get(record["id"])
        if run is not None:
            self._drain(record, run)
            run.cancel_inflight()
        record["_t"]["cancelling"] = at
        record["cancelling_at"] = int(at)
        record["status"] = "cancelling"
        self._persist(record, run)

    async def _validate(self, record: Record, at: float) -> None:
        batch_id = record["id"]
        work = self.store.work_dir(batch_id)
        loop = asyncio.get_running_loop()
        try:
            check = functools.partial(
                self.validate,
                work / "input.jsonl",
                record["endpoint"],
                count_tokens=bool(self.token_limits),
            )
            result = await loop.run_in_executor(None, check)
        except OSError as exc:
            self._broken(record, at, f"The input file could not be read: {exc}")
            return
        except Exception:
            problem = await loop.run_in_executor(None, first_unparsable_line, work / "input.jsonl")
            if problem is None:
                raise
            self._invalid(record, at, [problem])
            return
        record["model"] = result.model
        if not result.ok:
            self._invalid(record, at, result.errors)
            return
        if result.input_tokens is not None:
            record["_input_tokens"] = result.input_tokens
        over = self._over_token_limit(record)
        if over is not None:  # no await from the count to the status change: no race
            self._invalid(record, at, [over])
            return
        index = encode_index(result.lines)
        atomic_write(work / "index.json", index, sync=self.store.durable)
        record["_t"]["in_progress"] = at
        record["in_progress_at"] = int(at)
        record["request_counts"] = {"total": len(result.lines), "completed": 0, "failed": 0}
        record["status"] = "in_progress"
        self._runs[batch_id] = self._open_run(record)

    def enqueued_tokens(self, model: str) -> int:
        """The input tokens ``model``'s unfinished, validated batches hold now (as last
        refreshed; see :mod:`tui.localapi.token_limits`)."""
        active = (self.store.batches[i] for i in self._active if i in self.store.batches)
        return enqueued_tokens(active, model)

    def _over_token_limit(self, record: Record) -> dict[str, Any] | None:
        """The ``token_limit_exceeded`` error if the batch does not fit its model's limit."""
        model = record.get("model")
        if not isinstance(model, str) or model not in self.token_limits:
            return None
        limit = self.token_limits[model]
        if self.enqueued_tokens(model) + int(record.get("_input_tokens") or 0) <= limit:
            return None
        return limit_error(model, limit)

    def _invalid(self, record: Record, at: float, errors: list[dict[str, Any]]) -> None:
        record["errors"] = {"object": "list", "data": errors}
        record["status"] = "failed"
        record["failed_at"] = int(at)
        self.store.save_batch(record)
        self._finish(record["id"])

    async def _dispatch(self, record: Record, run: Run, timing: Timing, horizon: float) -> None:
        """Start (or, inline, run) every line due by ``horizon``."""
        start = record["_t"]["in_progress"]
        step = timing.per_request
        total = len(run.order)
        ran = 0
        while run.next_pos < total:
            due = start + (run.next_pos + 1) * step
            if due > horizon:
                break
            if not self.executor.inline and len(run.inflight) >= self.max_inflight:
                break
            index = run.order[run.next_pos]
            run.next_pos += 1
            if index in run.done:
                continue
            ref = run.refs[index]
            body = run.body(ref)
            seed = f"{record['id']}\x1f{ref.custom_id}"
            if self.executor.inline:
                result = await self._execute(record["endpoint"], body, seed, due)
                self._record_line(record, run, index, result, due)
                ran += 1
                if ran % 256 == 0:
                    await asyncio.sleep(0)
            else:
                task = asyncio.create_task(self._execute(record["endpoint"], body, seed, due))
                run.inflight[index] = task
                task.add_done_callback(
                    lambda t, i=index, d=due: self._landed(run, i, d, t)  # type: ignore[misc]
                )

    async def _execute(self, url: str, body: Any, seed: str, now: float) -> ExecResult:
        if not isinstance(body, dict):
            body = {}
        try:
            return await self.executor.execute(url, body, seed=seed, now=now)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an executor bug is a failed line, not a dead batch
            log.exception("executor failed")
            return ExecResult(
                None,
                None,
                derived_id("req_", "error", seed),
                {"code": "server_error", "message": f"{type(exc).__name__}: {exc}"[:500]},
            )

    def _landed(self, run: Run, index: int, due: float, task: asyncio.Task[ExecResult]) -> None:
        """A non-inline line finished: queue its result for the next refresh."""
        if task.cancelled() or run.inflight.get(index) is not task:
            return
        run.inflight.pop(index, None)
        result = task.result()
        run.results.append((index, result, max(due, self.now())))
        self._due[run.batch_id] = 0.0
        self.wake()

    def _drain(self, record: Record, run: Run) -> None:
        pending, run.results = run.results, []
        for index, result, at in pending:
            if index not in run.done:
                self._record_line(record, run, index, result, at)

    def _record_line(
        self, record: Record, run: Run, index: int, result: ExecResult, at: float
    ) -> None:
        tokens = run.write_line(index, result, at)
        counts = record["request_counts"]
        if result.ok:
            counts["completed"] += 1
            add_usage(record["usage"], tokens)
        else:
            counts["failed"] += 1

    async def _close(
        self, record: Record, run: Run | None, status: str, at: float, unfinished: str | None
    ) -> None:
        """Write the result files and end the batch in ``status`` at ``at``."""
        batch_id = record["id"]
        if run is not None:
            self._drain(record, run)
            run.cancel_inflight()
            if unfinished is not None:
                run.write_unfinished(unfinished)
            run.flush(self.store.durable)
            output_id = error_id = None
            if run.out_size:
                output_id = self._publish(record, run.work / "output.part", "output", at)
            if run.err_size:
                error_id = self._publish(record, run.work / "error.part", "error", at)
            record["output_file_id"] = output_id
            record["error_file_id"] = error_id
        record["status"] = status
        record[f"{status}_at"] = int(at)
        self.store.save_batch(record)
        self._finish(batch_id)

    def _publish(self, record: Record, part: Path, kind: str, at: float) -> str:
        """Make a work file a ``batch_output`` File (a hard link: no copy)."""
        file_id = derived_id("file-", record["id"], kind, length=22, alphabet=ALNUM)
        blob = self.store.blob_path(file_id)
        blob.unlink(missing_ok=True)
        link_or_copy(part, blob)
        created = int(at)
        expires_after = record.get("_output_expires_after")
        self.store.save_file(
            {
                "id": file_id,
                "object": "file",
                "bytes": blob.stat().st_size,
                "created_at": created,
                "expires_at": created + int(expires_after["seconds"]) if expires_after else None,
                "filename": f"{record['id']}_{kind}.jsonl",
                "purpose": "batch_output",
                "status": "processed",
                "status_details": None,
                "_seq": self.store.next_seq(),
                "_batch_id": record["id"],
            }
        )
        return file_id

    def _finish(self, batch_id: str) -> None:
        run = self._runs.pop(batch_id, None)
        if run is not None:
            run.close()
        self._active.discard(batch_id)
        self._due.pop(batch_id, None)
        shutil.rmtree(self.store.work_dir(batch_id), ignore_errors=True)

    # --- work files ------------------------------------------------------------------

    def _open_run(self, record: Record) -> Run:
        """Open a validated batch's work files; on a restart, resume its progress."""
        run = Run.open(record["id"], self.store.work_dir(record["id"]))
        counts, usage, last = run.replay(Checkpoint.of(record))
        record["request_counts"] = counts
        record["usage"] = usage
        step = Timing.from_dict(record["_timing"]).per_request
        run.last_finish = record["_t"].get("in_progress", 0.0) + (last + 1) * step
        if record["status"] == "finalizing" and len(run.done) < len(run.refs):
            record["status"], record["finalizing_at"] = "in_progress", None  # lines lost
        self._persist(record, run)  # a checkpoint that matches the parts as cut
        return run

    def _persist(self, record: Record, run: Run | None) -> None:
        if run is not None:
            run.flush(self.store.durable)
            record["_parts"] = [run.out_size, run.err_size]  # see workfiles.Checkpoint
            run.dirty = False
            run.last_persist = time.monotonic()
        self.store.save_batch(record)


__all__ = ["ACTIVE_STATUSES", "CANCELLABLE_STATUSES", "Engine"]
