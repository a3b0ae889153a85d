"""The submission journal: submit a batch so that a crash at any step loses nothing
and a retry never makes a second batch.

A submit writes its intent to the registry before each remote step:

    intent ──upload──▶ uploaded ──create──▶ created
                                            (or abandoned, if nothing was sent)

and marks its work with a client token, kept in three places: the job id in the
registry, the uploaded file's name (``<token>--<name>``) and the batch's metadata
(``batchdeck_token``). :meth:`Journal.reconcile`, run at the next start, settles
every unfinished submit by looking for that token on the server:

- a batch with the token exists: the submit succeeded; record it.
- the file was uploaded but no batch has the token: finish the submit (create it).
- nothing was uploaded: the intent is abandoned, and says so; a part of the queue
  (``tui.core.queue``) goes back to ``queued`` instead, to be sent again later.

A queued submit starts one step earlier: :meth:`Journal.enqueue` records it as
``queued`` (nothing sent), and :meth:`Journal.send_queued` takes it from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tui.core import errors, paths
from tui.core.client import BatchClient, Progress
from tui.core.config import Profile
from tui.core.errors import BatchdeckError
from tui.core.models import BATCH_ENDPOINTS, TOKEN_METADATA_KEY, Batch, FileInfo
from tui.core.models import METADATA_MAX_KEY as MAX_METADATA_KEY
from tui.core.models import METADATA_MAX_PAIRS as MAX_METADATA_PAIRS
from tui.core.models import METADATA_MAX_VALUE as MAX_METADATA_VALUE
from tui.core.registry import Job, Registry

TOKEN_KEY = TOKEN_METADATA_KEY
UNSETTLED = ("intent", "uploaded", "creating")
CLOCK_SKEW = 600  # seconds of slack when searching for a batch by creation time
CREATE_ATTEMPTS = 5
LOOKUP_WAITS = (0.5, 1.0, 2.0)  # after an unclear create failure, look for the batch again
MAX_RETRY_WAIT = 30.0
FILE_404_WAITS = (0.5, 1.0, 2.0)  # a file just uploaded may answer 404 for a moment


class SubmitError(BatchdeckError):
    """The submission cannot start; nothing was sent."""


@dataclass(frozen=True)
class Settled:
    """What :meth:`Journal.reconcile` did with one unfinished submit."""

    job_id: str
    outcome: str  # "found", "created", "requeued", "abandoned", "failed"
    batch_id: str | None
    detail: str


def _retry_delay(exc: Exception, attempt: int) -> float:
    after = getattr(exc, "retry_after", None)
    wait = float(after) if after is not None else 0.5 * 2**attempt
    return min(wait, MAX_RETRY_WAIT)


def new_token() -> str:
    return "bd-" + secrets.token_hex(8)


def check_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """The API's metadata rules, leaving room for the token; a clear error otherwise."""
    if len(metadata) > MAX_METADATA_PAIRS - 1:
        raise SubmitError(
            f"metadata has {len(metadata)} pairs; at most {MAX_METADATA_PAIRS - 1} "
            f"(batchdeck uses one of the API's {MAX_METADATA_PAIRS} for its token)"
        )
    out: dict[str, str] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise SubmitError(f"metadata {key!r}: keys and values must be strings")
        if key == TOKEN_KEY:
            raise SubmitError(f"metadata key {TOKEN_KEY!r} is reserved for batchdeck")
        if not key or len(key) > MAX_METADATA_KEY:
            raise SubmitError(f"metadata key {key!r}: 1 to {MAX_METADATA_KEY} characters")
        if len(value) > MAX_METADATA_VALUE:
            raise SubmitError(
                f"metadata {key!r}: value has {len(value)} characters, at most {MAX_METADATA_VALUE}"
            )
        out[key] = value
    return out


def _sub(job: Job) -> dict[str, Any]:
    return job.submission or {}


def upload_name(token: str, path: Path) -> str:
    return f"{token}--{path.name}"


@contextlib.contextmanager
def _hold(lock_path: Path, *, wait: bool) -> Iterator[bool]:
    """Hold an exclusive lock on ``lock_path``; yields False if ``wait`` is off and
    another process holds it. The lock dies with its process, so a crashed submit
    never blocks the reconcile that settles it. The holder removes the file when
    done; a process that locked a file just removed tries again on the new one."""
    paths.ensure_private_dir(lock_path.parent)
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            yield False
            return
        try:
            current = os.stat(lock_path).st_ino
        except FileNotFoundError:
            current = None
        if current == os.fstat(fd).st_ino:
            break
        os.close(fd)  # removed or replaced while we waited: lock the current file
    try:
        yield True
    finally:
        lock_path.unlink(missing_ok=True)
        os.close(fd)


class Journal:
    """Submits batches through the registry, and settles interrupted submits.

    A submit in progress holds a lock named by its token, so a reconcile running in
    a second batchdeck at the same moment leaves it alone.
    """

    def __init__(self, registry: Registry, client: BatchClient, profile: Profile) -> None:
        self.registry = registry
        self.client = client
        self.profile = profile

    async def submit(
        self,
        path: Path,
        endpoint: str,
        metadata: Mapping[str, str] | None = None,
        description: str = "",
        *,
        tags: tuple[str, ...] = (),
        output_expires_after: int | None = None,
        group_id: str | None = None,
        retry_of: str | None = None,
        progress: Progress | None = None,
        completion_window: str | None = None,
    ) -> Job:
        """Upload ``path`` and create its batch; the registry knows each step first."""
        path = Path(path).resolve()
        clean = check_metadata(metadata or {})
        if endpoint not in BATCH_ENDPOINTS:
            raise SubmitError(
                f"endpoint {endpoint!r} is not a batch endpoint ({', '.join(BATCH_ENDPOINTS)})"
            )
        if not path.is_file():
            raise SubmitError(f"{path}: no such file")
        token = new_token()
        intent = self._record(
            token,
            path,
            endpoint,
            clean,
            description,
            "intent",
            tags=tags,
            output_expires_after=output_expires_after,
            group_id=group_id,
            retry_of=retry_of,
            completion_window=completion_window,
        )
        with _hold(self._lock_path(token), wait=True):
            await asyncio.to_thread(self.registry.add, intent)
            return await self._upload_and_create(token, path, progress)

    def enqueue(
        self,
        path: Path,
        endpoint: str,
        metadata: Mapping[str, str] | None = None,
        description: str = "",
        *,
        queue: Mapping[str, object],
        tags: tuple[str, ...] = (),
        output_expires_after: int | None = None,
        group_id: str | None = None,
        retry_of: str | None = None,
        completion_window: str | None = None,
    ) -> Job:
        """Record ``path`` as ``queued``: nothing is sent until :meth:`send_queued`.
        ``queue`` is the queue's table (order, tokens, model...; ``tui.core.queue``)."""
        path = Path(path).resolve()
        clean = check_metadata(metadata or {})
        if endpoint not in BATCH_ENDPOINTS:
            raise SubmitError(
                f"endpoint {endpoint!r} is not a batch endpoint ({', '.join(BATCH_ENDPOINTS)})"
            )
        job = self._record(
            new_token(),
            path,
            endpoint,
            clean,
            description,
            "queued",
            tags=tags,
            output_expires_after=output_expires_after,
            group_id=group_id,
            retry_of=retry_of,
            completion_window=completion_window,
        )
        return self.registry.add(job.with_submission(queue=dict(queue)))

    async def send_queued(self, token: str, progress: Progress | None = None) -> Job:
        """Submit the ``queued`` job ``token`` (its record moves on from ``intent``, as
        any submit's). :class:`SubmitError` if another process is sending it or it is
        not queued any more."""
        with _hold(self._lock_path(token), wait=False) as mine:
            if not mine:
                raise SubmitError(f"{token} is being submitted by another process")
            job = await asyncio.to_thread(self._job, token)
            if _sub(job).get("state") != "queued":
                raise SubmitError(f"{token} is not queued (it is {_sub(job).get('state')})")
            path = Path(job.input_path or "")
            if not path.is_file():
                note = f"{path}: the part file is gone"
                await self._advance_off_loop(token, "abandoned", note=note)
                raise SubmitError(note)
            await self._advance_off_loop(token, "intent", started_at=int(time.time()))
            return await self._upload_and_create(token, path, progress)

    def _record(
        self,
        token: str,
        path: Path,
        endpoint: str,
        metadata: dict[str, str],
        description: str,
        state: str,
        *,
        tags: tuple[str, ...],
        output_expires_after: int | None,
        group_id: str | None,
        retry_of: str | None,
        completion_window: str | None = None,
    ) -> Job:
        submission: dict[str, object] = {
            "state": state,
            "token": token,
            "endpoint": endpoint,
            "metadata": metadata,
            "started_at": int(time.time()),
        }
        if output_expires_after is not None:
            submission["output_expires_after"] = int(output_expires_after)
        if completion_window is not None:
            submission["completion_window"] = completion_window
        return Job(
            job_id=token,
            description=description,
            tags=tuple(tags),
            input_path=str(path),
            profile=self.profile.name,
            base_url=self.profile.public_base_url(),
            group_id=group_id,
            retry_of=retry_of,
            created_at=int(time.time()),
            submission=submission,
        )

    async def _upload_and_create(self, token: str, path: Path, progress: Progress | None) -> Job:
        uploaded = await self.client.upload_file(
            path, filename=upload_name(token, path), progress=progress
        )
        await self._advance_off_loop(token, "uploaded", input_file_id=uploaded.id)
        return await self._create(token)

    async def submit_file(self, file_id: str, endpoint: str, description: str = "") -> Job:
        """Create a batch of an input file already on the server (``file_id``); the
        registry knows it from the start, as ``uploaded``, like any submit."""
        if endpoint not in BATCH_ENDPOINTS:
            raise SubmitError(
                f"endpoint {endpoint!r} is not a batch endpoint ({', '.join(BATCH_ENDPOINTS)})"
            )
        token = new_token()
        submission: dict[str, object] = {
            "state": "uploaded",
            "token": token,
            "endpoint": endpoint,
            "metadata": {},
            "input_file_id": file_id,
            "started_at": int(time.time()),
        }
        intent = Job(
            job_id=token,
            description=description,
            profile=self.profile.name,
            base_url=self.profile.public_base_url(),
            created_at=int(time.time()),
            submission=submission,
        )
        with _hold(self._lock_path(token), wait=True):
            await asyncio.to_thread(self.registry.add, intent)
            return await self._create(token)

    def _lock_path(self, token: str) -> Path:
        return self.registry.root / ".submitting" / f"{token}.lock"

    async def _create(self, token: str) -> Job:
        """Create the batch, sent once per attempt.

        A refusal (400) settles the submit as abandoned: nothing was created. A 404
        (the API sometimes does not know a file for a moment after its upload) is
        tried again after each of :data:`FILE_404_WAITS`, then abandoned likewise.
        A rate limit is retried after its wait. An unclear failure (connection lost,
        timeout, 5xx) may hide a batch the server did make, so the batch is looked
        for by its token, a few times over a few seconds, before the create is sent
        again. A server that commits a create later than that can still end up with
        two batches; both carry the token, and the journal records the first found.
        """
        sub = _sub(await self._advance_off_loop(token, "creating"))
        since = int(sub["started_at"]) - CLOCK_SKEW
        attempt = missing = 0
        while True:
            last = attempt == CREATE_ATTEMPTS - 1
            try:
                batch = await self.client.create_batch(
                    sub["input_file_id"],
                    sub["endpoint"],
                    metadata={**sub.get("metadata", {}), TOKEN_KEY: token},
                    output_expires_after=sub.get("output_expires_after"),
                    completion_window=sub.get("completion_window"),
                    retry=False,
                )
            except errors.NotFoundError as exc:
                if missing < len(FILE_404_WAITS):  # the file may not be visible yet
                    await asyncio.sleep(FILE_404_WAITS[missing])
                    missing += 1
                    continue
                waited = f"{missing} retries over {sum(FILE_404_WAITS):g} s"
                note = f"refused: {exc.message} (still not found after {waited})"
                await self._advance_off_loop(token, "abandoned", note=note)
                raise
            except (errors.RequestError, errors.AuthError) as exc:
                if not isinstance(exc, errors.AuthError):
                    note = f"refused: {exc.message}"
                    await self._advance_off_loop(token, "abandoned", note=note)
                raise
            except errors.RateLimitedError as exc:
                if last:
                    raise
                await asyncio.sleep(_retry_delay(exc, attempt))
            except (errors.NetworkError, errors.ServerError):
                found = await self._look_for(token, since)
                if found is not None:
                    return await asyncio.to_thread(self._created, token, found)
                if last:
                    raise
            else:
                return await asyncio.to_thread(self._created, token, batch)
            attempt += 1

    async def _look_for(self, token: str, since: int) -> Batch | None:
        for wait in LOOKUP_WAITS:
            await asyncio.sleep(wait)
            found = await self._batches_with_tokens(since=since)
            if token in found:
                return found[token]
        return None

    def _created(self, token: str, batch: Batch) -> Job:
        def record(job: Job) -> Job:
            done = job.with_submission(state="created", batch_id=batch.id)
            return replace(done, batch_id=batch.id, snapshot=batch.to_dict())

        return self.registry.modify(token, record)

    def _advance(self, token: str, state: str, **fields: object) -> Job:
        return self.registry.modify(token, lambda job: job.with_submission(**fields, state=state))

    async def _advance_off_loop(self, token: str, state: str, **fields: object) -> Job:
        """:meth:`_advance` in a thread: the registry write (fsync) never blocks the loop."""
        return await asyncio.to_thread(self._advance, token, state, **fields)

    def _job(self, token: str) -> Job:
        job = self.registry.get(token)
        if job is None:
            raise SubmitError(f"the registry lost submission {token}")
        return job

    def unsettled(self) -> list[Job]:
        """Submits of this profile's server that did not reach ``created``."""
        base_url = self.profile.public_base_url()
        return [
            job
            for job in self.registry.load().values()
            if job.submission
            and _sub(job).get("state") in UNSETTLED
            and job.base_url == base_url
            and _sub(job).get("provider") != "anthropic"  # tui.core.anthropic_journal's
        ]

    async def reconcile(self) -> list[Settled]:
        """Settle every unfinished submit of this profile (see the module docstring)."""
        pending = await asyncio.to_thread(self.unsettled)
        if not pending:
            return []
        earliest = min(int(_sub(j).get("started_at", 0)) for j in pending) - CLOCK_SKEW
        by_token = await self._batches_with_tokens(since=earliest)
        files_cache: dict[str, dict[str, FileInfo]] = {}
        results: list[Settled] = []
        for job in pending:
            token = _sub(job)["token"]
            with _hold(self._lock_path(token), wait=False) as mine:
                if mine:
                    results.append(await self._settle(job, by_token, files_cache))
        return results

    async def _settle(
        self, job: Job, by_token: dict[str, Batch], files_cache: dict[str, dict[str, FileInfo]]
    ) -> Settled:
        token = _sub(job)["token"]
        job = self._job(token)  # reread under the lock
        if _sub(job).get("state") not in UNSETTLED:
            return Settled(token, "found", job.batch_id, "settled by another process")
        try:
            if token in by_token:
                self._created(token, by_token[token])
                return Settled(token, "found", by_token[token].id, "the batch exists")
            if not _sub(job).get("input_file_id"):
                if "files" not in files_cache:
                    files_cache["files"] = await self._uploads_by_token()
                found = files_cache["files"].get(token)
                if found is None and "queue" in _sub(job):  # nothing sent: wait again
                    self._advance(token, "queued", note="interrupted before upload")
                    return Settled(token, "requeued", None, "nothing had been uploaded")
                if found is None:
                    self._advance(token, "abandoned", note="interrupted before upload")
                    return Settled(token, "abandoned", None, "nothing had been uploaded")
                self._advance(token, "uploaded", input_file_id=found.id)
            done = await self._create(token)
            return Settled(token, "created", done.batch_id, "finished the submit")
        except Exception as exc:  # one bad submit must not stop the others
            state = _sub(self._job(token)).get("state")
            outcome = "abandoned" if state == "abandoned" else "failed"
            return Settled(token, outcome, None, str(exc))

    async def _batches_with_tokens(self, *, since: int) -> dict[str, Batch]:
        found: dict[str, Batch] = {}
        async for page in self.client.iter_batch_pages():
            for batch in page:
                token = batch.metadata.get(TOKEN_KEY)
                if token:
                    found.setdefault(token, batch)
            if page[-1].created_at < since:
                break
        return found

    async def _uploads_by_token(self) -> dict[str, FileInfo]:
        found: dict[str, FileInfo] = {}
        async for page in self.client.iter_file_pages(purpose="batch"):
            for info in page:
                token, sep, _ = info.filename.partition("--")
                if sep and token.startswith("bd-"):
                    found.setdefault(token, info)
        return found
