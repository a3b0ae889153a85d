"""The submission journal for Anthropic message batches.

Like :class:`tui.core.journal.Journal`, a submit is written to the registry before it
is sent (``creating``) and settled by :meth:`AnthropicJournal.reconcile` if the
answer never came. But a message batch has no metadata and no upload, so there is no
token to look it up by. What we chose, and why:

- the batch is matched by what the journal knows of it: **created at** (no earlier
  than the submit's start, less :data:`CLOCK_SKEW`) and **request count** (the
  requests sent), among the batches **no other job** of the registry owns;
- exactly one such batch: it is ours (``found``); none: the create never reached
  the server, so it is sent again from the request file (``created``) — the same
  risk the OpenAI journal takes with a server that commits a create very late;
- more than one: the journal cannot tell which is ours and does not guess. The
  submit stays unsettled and is reported ``ambiguous`` with the candidates' ids
  (headless), so a person decides: the app asks, ``registry forget`` drops it.
  A wrong guess would tie the job to someone else's batch; a duplicate create
  would double the bill. Neither is worth the convenience.

A part of the local queue (``tui.core.queue``) is recorded ``queued`` first
(:meth:`AnthropicJournal.enqueue`) and sent by :meth:`AnthropicJournal.send_queued`.
Anthropic refuses a create over its limit of requests waiting in the processing queue
with a 429 (``rate_limit_error``), and a 429 means no batch was made: the part goes
back to ``queued`` with ``not_before`` (now plus the answer's ``retry-after``) in its
queue table and :class:`QueueFullError` tells the runner. A queued part cut off with
no batch found is queued again too, never re-created behind the runner's back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from tui.core import errors
from tui.core.anthropic_client import AnthropicBatchClient, base_url_for
from tui.core.anthropic_lines import ENDPOINT, read_requests
from tui.core.client import BatchClient
from tui.core.config import Profile
from tui.core.journal import (
    CLOCK_SKEW,
    CREATE_ATTEMPTS,
    LOOKUP_WAITS,
    Journal,
    Settled,
    SubmitError,
    _hold,
    _retry_delay,
    new_token,
)
from tui.core.models import Batch
from tui.core.registry import Job, Registry
from tui.core.text import public_url

PROVIDER = "anthropic"
DEFAULT_RETRY_AFTER = 30.0  # seconds a refused part waits when the 429 says nothing


class QueueFullError(SubmitError):
    """The create was refused with a 429: the queued part waits for ``retry_after`` s."""

    def __init__(self, token: str, retry_after: float, message: str) -> None:
        super().__init__(f"{token}: refused ({message}); queued again for {retry_after:g} s")
        self.retry_after = retry_after


class AmbiguousBatchError(SubmitError):
    """Several batches could be the one a lost create made; nothing was guessed."""

    def __init__(self, token: str, candidates: list[str]) -> None:
        super().__init__(
            f"submission {token}: {len(candidates)} batches match its time and request "
            f"count ({', '.join(candidates)}); not guessing which is ours"
        )
        self.candidates = candidates


class AnthropicJournal:
    """Submits request files as message batches and settles interrupted submits."""

    def __init__(self, registry: Registry, client: AnthropicBatchClient, profile: Profile) -> None:
        self.registry = registry
        self.client = client
        self.profile = profile
        self.base_url = public_url(base_url_for(profile))

    async def submit(
        self,
        path: Path,
        description: str = "",
        *,
        tags: tuple[str, ...] = (),
        group_id: str | None = None,
        retry_of: str | None = None,
    ) -> Job:
        """Check ``path`` (``{custom_id, params}`` lines) and create its batch; the
        registry knows the submit before it is sent."""
        path = Path(path).resolve()
        requests = await asyncio.to_thread(read_requests, path)
        token = new_token()
        now = int(time.time())
        intent = Job(
            job_id=token,
            description=description,
            tags=tuple(tags),
            input_path=str(path),
            profile=self.profile.name,
            base_url=self.base_url,
            group_id=group_id,
            retry_of=retry_of,
            created_at=now,
            submission={
                "state": "creating",
                "token": token,
                "provider": PROVIDER,
                "endpoint": ENDPOINT,
                "requests": len(requests),
                "started_at": now,
            },
        )
        with _hold(self._lock_path(token), wait=True):
            await asyncio.to_thread(self.registry.add, intent)
            return await self._create(token, requests)

    def enqueue(
        self,
        path: Path,
        endpoint: str = ENDPOINT,
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
        """Record the checked part ``path`` as ``queued`` (nothing is sent until
        :meth:`send_queued`); ``queue`` is the queue's table. The OpenAI journal's
        signature; ``endpoint`` must be ``/v1/messages``, and Anthropic has no
        metadata, expiry or completion window."""
        if endpoint != ENDPOINT or metadata or output_expires_after or completion_window:
            raise SubmitError(
                "an Anthropic batch goes to /v1/messages, with no metadata, expiry or window"
            )
        token = new_token()
        now = int(time.time())
        job = Job(
            job_id=token,
            description=description,
            tags=tuple(tags),
            input_path=str(Path(path).resolve()),
            profile=self.profile.name,
            base_url=self.base_url,
            group_id=group_id,
            retry_of=retry_of,
            created_at=now,
            submission={
                "state": "queued",
                "token": token,
                "provider": PROVIDER,
                "endpoint": ENDPOINT,
                "requests": int(str(queue.get("requests", 0))),
                "started_at": now,
                "queue": dict(queue),
            },
        )
        return self.registry.add(job)

    async def send_queued(self, token: str) -> Job:
        """Create the batch of the ``queued`` part ``token``. A 429 puts it back to
        ``queued`` and raises :class:`QueueFullError`; :class:`SubmitError` if another
        process is sending it or it is not queued any more."""
        with _hold(self._lock_path(token), wait=False) as mine:
            if not mine:
                raise SubmitError(f"{token} is being submitted by another process")
            job = await asyncio.to_thread(self._job, token)
            state = (job.submission or {}).get("state")
            if state != "queued":
                raise SubmitError(f"{token} is not queued (it is {state})")
            path = Path(job.input_path or "")
            if not path.is_file():
                note = f"{path}: the part file is gone"
                await asyncio.to_thread(self._abandon, token, note)
                raise SubmitError(note)
            requests = await asyncio.to_thread(read_requests, path)
            await asyncio.to_thread(self._start, token, len(requests))
            return await self._create(token, requests)

    def _start(self, token: str, count: int) -> Job:
        def start(job: Job) -> Job:
            table = {k: v for k, v in (job.submission or {}).get("queue", {}).items()}
            table.pop("not_before", None)
            return job.with_submission(
                state="creating", requests=count, started_at=int(time.time()), queue=table
            )

        return self.registry.modify(token, start)

    def _back_to_queue(self, token: str, note: str, wait: float = 0.0) -> Job:
        def back(job: Job) -> Job:
            table = dict((job.submission or {}).get("queue", {}))
            if wait > 0:
                table["not_before"] = time.time() + wait
            return job.with_submission(state="queued", note=note, queue=table)

        return self.registry.modify(token, back)

    def _queued_part(self, token: str) -> bool:
        return "queue" in (self._job(token).submission or {})

    def _lock_path(self, token: str) -> Path:
        return self.registry.root / ".submitting" / f"{token}.lock"

    async def _create(self, token: str, requests: list[dict[str, object]]) -> Job:
        """Send the create once per attempt; after an unclear failure look for the
        batch (:meth:`_match`) before sending it again. A queue part refused with a
        429 goes back to the queue (:class:`QueueFullError`)."""
        for attempt in range(CREATE_ATTEMPTS):
            last = attempt == CREATE_ATTEMPTS - 1
            try:
                batch = await self.client.create_message_batch(requests, retry=False)
            except (errors.RequestError, errors.NotFoundError, errors.AuthError) as exc:
                if not isinstance(exc, errors.AuthError):
                    await asyncio.to_thread(self._abandon, token, f"refused: {exc.message}")
                raise
            except errors.RateLimitedError as exc:
                if await asyncio.to_thread(self._queued_part, token):
                    wait = exc.retry_after if exc.retry_after is not None else DEFAULT_RETRY_AFTER
                    note = f"refused with 429: {exc.message}"
                    await asyncio.to_thread(self._back_to_queue, token, note, wait)
                    raise QueueFullError(token, wait, exc.message) from exc
                if last:
                    raise
                await asyncio.sleep(_retry_delay(exc, attempt))
            except (errors.NetworkError, errors.ServerError):
                for wait in LOOKUP_WAITS:
                    await asyncio.sleep(wait)
                    found = await self._match(self._job(token))
                    if len(found) == 1:
                        return await asyncio.to_thread(self._created, token, found[0])
                    if len(found) > 1:
                        raise AmbiguousBatchError(token, [b.id for b in found]) from None
                if last:
                    raise
            else:
                return await asyncio.to_thread(self._created, token, batch)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _match(self, job: Job) -> list[Batch]:
        """The batches that could be ``job``'s: created since its start (less the
        clock skew), with its request count, owned by no job of the registry."""
        sub = job.submission or {}
        since = int(sub.get("started_at", 0)) - CLOCK_SKEW
        count = int(sub.get("requests", -1))
        owned = await asyncio.to_thread(self._owned_batch_ids)
        found = []
        async for page in self.client.iter_batch_pages():
            for batch in page:
                if (
                    batch.created_at >= since
                    and batch.request_counts.total == count
                    and batch.id not in owned
                ):
                    found.append(batch)
            if page[-1].created_at < since:
                break
        return found

    def _owned_batch_ids(self) -> set[str]:
        return {job.batch_id for job in self.registry.load().values() if job.batch_id}

    def _created(self, token: str, batch: Batch) -> Job:
        def record(job: Job) -> Job:
            done = job.with_submission(state="created", batch_id=batch.id, note=None)
            return replace(done, batch_id=batch.id, snapshot=batch.to_dict())

        return self.registry.modify(token, record)

    def _abandon(self, token: str, note: str) -> Job:
        return self.registry.modify(
            token, lambda job: job.with_submission(state="abandoned", note=note)
        )

    def _job(self, token: str) -> Job:
        job = self.registry.get(token)
        if job is None:
            raise SubmitError(f"the registry lost submission {token}")
        return job

    def unsettled(self) -> list[Job]:
        """This profile's Anthropic submits that did not reach ``created``."""
        return [
            job
            for job in self.registry.load().values()
            if job.submission
            and job.submission.get("provider") == PROVIDER
            and job.submission.get("state") == "creating"
            and job.base_url == self.base_url
        ]

    async def reconcile(self) -> list[Settled]:
        """Settle every unfinished submit of this profile (see the module docstring):
        ``found``, ``created``, ``abandoned``, ``failed`` or ``ambiguous``."""
        results: list[Settled] = []
        for job in await asyncio.to_thread(self.unsettled):
            with _hold(self._lock_path(job.job_id), wait=False) as mine:
                if mine:
                    results.append(await self._settle(job.job_id))
        return results

    async def _settle(self, token: str) -> Settled:
        job = self._job(token)  # reread under the lock
        if (job.submission or {}).get("state") != "creating":
            return Settled(token, "found", job.batch_id, "settled by another process")
        try:
            found = await self._match(job)
            if len(found) > 1:
                ids = ", ".join(b.id for b in found)
                note = f"ambiguous: {len(found)} batches match its time and request count"
                await asyncio.to_thread(
                    self.registry.modify, token, lambda j: j.with_submission(note=note)
                )
                return Settled(token, "ambiguous", None, f"{note}: {ids}")
            if found:
                await asyncio.to_thread(self._created, token, found[0])
                return Settled(token, "found", found[0].id, "the batch exists")
            if "queue" in (job.submission or {}):  # a queue part: the runner sends it
                await asyncio.to_thread(self._back_to_queue, token, "interrupted; no batch made")
                return Settled(token, "requeued", None, "no batch had been made")
            if not job.input_path or not Path(job.input_path).is_file():
                await asyncio.to_thread(self._abandon, token, "its request file is gone")
                return Settled(token, "abandoned", None, "no batch and no request file")
            requests = await asyncio.to_thread(read_requests, Path(job.input_path))
            done = await self._create(token, requests)
            return Settled(token, "created", done.batch_id, "finished the submit")
        except Exception as exc:  # one bad submit must not stop the others
            state = (self._job(token).submission or {}).get("state")
            outcome = "abandoned" if state == "abandoned" else "failed"
            return Settled(token, outcome, None, str(exc))


def journal_for(
    registry: Registry, client: BatchClient, profile: Profile
) -> Journal | AnthropicJournal:
    """The journal for ``client``'s API: Anthropic's for an :class:`AnthropicBatchClient`
    (submits matched by time and count), else the token journal."""
    if isinstance(client, AnthropicBatchClient):
        return AnthropicJournal(registry, client, profile)
    return Journal(registry, client, profile)


def anthropic_lines_of(path: Path) -> None:
    """Rewrite a retry file written from an Anthropic batch's results index (input lines
    ``{custom_id, method, url, body}``, see :mod:`tui.core.anthropic_results`) as the
    ``{custom_id, params}`` lines Anthropic takes, atomically."""
    import msgspec

    from tui.core import jsonsafe
    from tui.core.fsutil import atomic_file

    encode = msgspec.json.Encoder().encode
    with path.open("rb") as source, atomic_file(path) as out:
        for raw in source:
            if not raw.strip():
                continue
            line = jsonsafe.loads(raw)
            if not isinstance(line, dict):
                raise SubmitError(f"{path}: a retry line is not a request")
            params = line.get("params", line.get("body"))
            out.write(encode({"custom_id": line.get("custom_id"), "params": params}) + b"\n")


async def submit_retry(journal: AnthropicJournal, path: Path, batch_id: str, count: int) -> Job:
    """Submit the retry file ``path`` (from :func:`write_retry_file`) of ``batch_id``
    as a new message batch whose job has ``retry_of`` = ``batch_id``."""
    from tui.core.text import plural

    await asyncio.to_thread(anthropic_lines_of, path)
    description = f"retry of {batch_id} ({plural(count, 'request')})"
    return await journal.submit(path, description, retry_of=batch_id)
