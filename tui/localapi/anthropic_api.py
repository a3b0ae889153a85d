"""``/v1/messages/batches``: Anthropic's Message Batches API on the embedded server.

Create (requests inline), list (newest first; ``after_id``/``before_id``/``limit``),
retrieve, cancel, delete (ended batches only) and the results JSONL at each batch's
``results_url``. Requests authenticate with ``x-api-key`` or a bearer key (checked
by :func:`app.api_handler`) and must send ``anthropic-version``. Errors are
Anthropic's ``{"type": "error", "error": {"type", "message"}}``. A batch's state is a
function of simulated time (:mod:`tui.localapi.anthropic_shapes`); what is kept on
disk, under ``anthropic/`` in the server's data dir, is each batch's record and its
requests (so a restarted server keeps them).

With a queue limit (``LocalServer(anthropic_queue_limit=N)``), a create whose requests
plus those of the batches not ended yet exceed ``N`` is refused as Anthropic refuses
one over its limit of requests in the processing queue: a 429 ``rate_limit_error``
with ``retry-after`` (real seconds until the first of those batches ends; 0 on a
manual clock, where time moves only when a test moves it). Nothing is created.
"""

from __future__ import annotations

import functools
import math
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web

from tui.core import jsonsafe
from tui.core.fsutil import atomic_write
from tui.core.paths import ensure_private_dir
from tui.localapi.anthropic_shapes import (
    MAX_BODY_BYTES,
    MESSAGE_BATCHES,
    AnthropicApiError,
    Record,
    batch_json,
    check_requests,
    errored_indexes,
    result_line,
    state,
)
from tui.localapi.app import Context, Handler, context
from tui.localapi.clock import COMPLETION_WINDOW_SECONDS, ScaledClock, Timing

LIST_DEFAULT = 20
LIST_MAX = 1000
_encode = msgspec.json.Encoder()
_decode = msgspec.json.Decoder()


class MessageBatches:
    """The message batches of one server: records in memory, each saved as
    ``<id>.json`` with its requests in ``<id>.requests.jsonl``."""

    def __init__(self, root: Path, ctx: Context) -> None:
        self.root = root
        self.ctx = ctx
        self._records: dict[str, Record] | None = None
        self.queue_limit: Callable[[], int | None] = lambda: None
        """Requests allowed in the processing queue at once (None: no limit)."""
        self.real_seconds: Callable[[float], float] = lambda simulated: 0.0
        """Real seconds for a span of simulated time (for ``retry-after``)."""

    @property
    def records(self) -> dict[str, Record]:
        if self._records is None:
            self._records = self._load()
        return self._records

    def _load(self) -> dict[str, Record]:
        records: dict[str, Record] = {}
        if not self.root.is_dir():
            return records
        for path in sorted(self.root.glob("*.json")):
            try:
                record = jsonsafe.loads(path.read_bytes())
            except (OSError, jsonsafe.JsonInputError):
                continue  # a torn record: its batch was never answered
            if isinstance(record, dict) and isinstance(record.get("id"), str):
                records[record["id"]] = record
        return records

    def create(
        self,
        requests: list[dict[str, Any]],
        *,
        created: float | None = None,
        timing: Timing | None = None,
        cancel_at: float | None = None,
    ) -> Record:
        """A new batch of checked ``requests``; ``created``, ``timing`` and
        ``cancel_at`` (simulated seconds) are for seeding the demo."""
        ensure_private_dir(self.root)
        ids = self.ctx.store.ids
        while (batch_id := ids.make("msgbatch_", 24)) in self.records:
            pass
        record: Record = {
            "id": batch_id,
            "created": self.ctx.engine.now() if created is None else float(created),
            "total": len(requests),
            "timing": (timing or self.ctx.timing()).to_dict(),
            "cancel_at": cancel_at,
            "errored": errored_indexes(requests),
            "seq": max((int(r.get("seq", 0)) for r in self.records.values()), default=0) + 1,
        }
        lines = b"".join(_encode.encode(r) + b"\n" for r in requests)
        durable = self.ctx.store.durable
        atomic_write(self.root / f"{batch_id}.requests.jsonl", lines, sync=durable)
        self._save(record)
        self.records[batch_id] = record
        return record

    def check_queue_room(self, count: int) -> None:
        """An :class:`AnthropicApiError` 429 if ``count`` more requests do not fit the
        queue limit beside those of the batches not ended yet."""
        limit = self.queue_limit()
        if limit is None:
            return
        now = self.ctx.engine.now()
        ends: list[float] = []
        queued = 0
        for record in self.records.values():
            at = state(record, now)
            if at.processing_status != "ended":
                queued += int(record["total"])
                ends.append(_end_of(record))
        if queued + count <= limit:
            return
        wait = self.real_seconds(max(0.0, min(ends, default=now) - now))
        raise AnthropicApiError(
            429,
            f"Number of batch requests in the processing queue would exceed your limit of "
            f"{limit:,} ({queued:,} processing, {count:,} in this batch).",
            retry_after=math.ceil(wait) if wait > 0 else 0,
        )

    def _save(self, record: Record) -> None:
        path = self.root / f"{record['id']}.json"
        atomic_write(path, _encode.encode(record), sync=self.ctx.store.durable)

    def get(self, batch_id: str) -> Record:
        record = self.records.get(batch_id)
        if record is None:
            raise AnthropicApiError(404, f"Message Batch '{batch_id[:100]}' not found.")
        return record

    def newest_first(self) -> list[Record]:
        return sorted(self.records.values(), key=lambda r: (r["created"], r["seq"]), reverse=True)

    def cancel(self, record: Record) -> None:
        status = state(record, self.ctx.engine.now()).processing_status
        if status == "ended":
            raise AnthropicApiError(
                400, f"Message Batch {record['id']} has ended and can no longer be canceled."
            )
        if status == "in_progress":
            record["cancel_at"] = self.ctx.engine.now()
            self._save(record)

    def delete(self, record: Record) -> None:
        if state(record, self.ctx.engine.now()).processing_status != "ended":
            raise AnthropicApiError(
                400,
                f"Message Batch {record['id']} cannot be deleted while it is processing; "
                "cancel it first.",
            )
        self.records.pop(record["id"], None)
        for name in (f"{record['id']}.json", f"{record['id']}.requests.jsonl"):
            (self.root / name).unlink(missing_ok=True)

    def requests(self, record: Record) -> Iterator[dict[str, Any]]:
        with (self.root / f"{record['id']}.requests.jsonl").open("rb") as handle:
            for raw in handle:
                yield _decode.decode(raw)


BATCHES = web.AppKey("message_batches", MessageBatches)
_SERVED: weakref.WeakValueDictionary[Path, MessageBatches] = weakref.WeakValueDictionary()
"""Each running server's batches by data dir (gone with its app): for seeding."""


def serve(app: web.Application, ctx: Context) -> None:
    """Give ``app`` the message batches its routes serve (kept under the store's root)."""
    root = ctx.store.root / "anthropic"
    app[BATCHES] = _SERVED[root] = MessageBatches(root, ctx)


def add_routes(app: web.Application) -> None:
    app.router.add_post(MESSAGE_BATCHES, create)
    app.router.add_get(MESSAGE_BATCHES, list_batches)
    app.router.add_get(MESSAGE_BATCHES + "/{batch_id}", retrieve)
    app.router.add_delete(MESSAGE_BATCHES + "/{batch_id}", delete)
    app.router.add_post(MESSAGE_BATCHES + "/{batch_id}/cancel", cancel)
    app.router.add_get(MESSAGE_BATCHES + "/{batch_id}/results", results)


def limit_queue(app: web.Application, limit: Callable[[], int | None], clock: object) -> None:
    """Enforce ``limit()`` requests in the processing queue on ``app``'s message batches;
    ``clock`` (the server's) turns simulated seconds into the real ones of ``retry-after``."""
    scale = getattr(clock, "scale", None)
    batches = app[BATCHES]
    batches.queue_limit = limit
    if isinstance(clock, ScaledClock) and isinstance(scale, int | float) and scale > 0:
        batches.real_seconds = lambda simulated: simulated / scale


def served_batches(data_dir: Path) -> MessageBatches:
    """The message batches a running server with this data dir serves (KeyError if
    none): seeding and tests use it on the server's loop (``server.call``)."""
    return _SERVED[Path(data_dir) / "anthropic"]


def _end_of(record: Record) -> float:
    """When ``record`` ends if nothing cancels it (simulated seconds)."""
    timing = Timing.from_dict(record["timing"])
    created = float(record["created"])
    return min(
        created + int(record["total"]) * timing.per_request + timing.finalizing,
        created + COMPLETION_WINDOW_SECONDS,
    )


def _anthropic(handler: Handler) -> Handler:
    """Check ``anthropic-version``; answer an :class:`AnthropicApiError` in Anthropic's shape."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            if not request.headers.get("anthropic-version"):
                raise AnthropicApiError(400, "anthropic-version: header is required")
            return await handler(request)
        except AnthropicApiError as exc:
            headers = {}
            if exc.retry_after is not None:
                headers["retry-after"] = f"{exc.retry_after:g}"
            return web.json_response(exc.body(), status=exc.status, headers=headers)

    return wrapped


def _batches(request: web.Request) -> MessageBatches:
    return request.app[BATCHES]


def _answer(request: web.Request, record: Record) -> web.Response:
    now = context(request).engine.now()
    return web.json_response(batch_json(record, now, _origin(request)))


def _origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


@_anthropic
async def create(request: web.Request) -> web.StreamResponse:
    raw = await _read_body(request)
    try:
        body = jsonsafe.loads(raw) if raw else None
    except jsonsafe.JsonInputError as exc:
        raise AnthropicApiError(400, f"The request body is not valid JSON: {exc}.") from None
    if not isinstance(body, dict):
        raise AnthropicApiError(400, "The request body must be a JSON object.")
    for name in body:
        if name != "requests":
            raise AnthropicApiError(400, f"{name}: Extra inputs are not permitted.")
    requests = check_requests(body.get("requests"))
    batches = _batches(request)
    batches.check_queue_room(len(requests))
    return _answer(request, batches.create(requests))


async def _read_body(request: web.Request) -> bytes:
    """The body, up to 256 MB (read here: the app's own cap is for the OpenAI routes)."""
    too_large = AnthropicApiError(
        413, "The request exceeds the maximum size of 256 MB.", "request_too_large"
    )
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise too_large
    parts, size = [], 0
    async for part in request.content.iter_chunked(1024**2):
        size += len(part)
        if size > MAX_BODY_BYTES:
            raise too_large
        parts.append(part)
    return b"".join(parts)


def _query_int(request: web.Request, name: str, default: int, maximum: int) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise AnthropicApiError(400, f"{name}: expected an integer.") from None
    if not 1 <= value <= maximum:
        raise AnthropicApiError(400, f"{name}: must be between 1 and {maximum}.")
    return value


@_anthropic
async def list_batches(request: web.Request) -> web.StreamResponse:
    limit = _query_int(request, "limit", LIST_DEFAULT, LIST_MAX)
    after, before = request.query.get("after_id"), request.query.get("before_id")
    if after and before:
        raise AnthropicApiError(400, "after_id and before_id cannot both be given.")
    records = _batches(request).newest_first()
    ids = [r["id"] for r in records]
    cursor = after or before
    if cursor and cursor not in ids:
        raise AnthropicApiError(404, f"Message Batch '{cursor[:100]}' not found.")
    if before:
        end = ids.index(before)
        start = max(0, end - limit)
        has_more = start > 0
    else:
        start = ids.index(after) + 1 if after else 0
        end = start + limit
        has_more = end < len(records)
    chosen = records[start:end]
    now, origin = context(request).engine.now(), _origin(request)
    return web.json_response(
        {
            "data": [batch_json(r, now, origin) for r in chosen],
            "has_more": has_more,
            "first_id": chosen[0]["id"] if chosen else None,
            "last_id": chosen[-1]["id"] if chosen else None,
        }
    )


@_anthropic
async def retrieve(request: web.Request) -> web.StreamResponse:
    return _answer(request, _batches(request).get(request.match_info["batch_id"]))


@_anthropic
async def cancel(request: web.Request) -> web.StreamResponse:
    batches = _batches(request)
    record = batches.get(request.match_info["batch_id"])
    batches.cancel(record)
    return _answer(request, record)


@_anthropic
async def delete(request: web.Request) -> web.StreamResponse:
    batches = _batches(request)
    record = batches.get(request.match_info["batch_id"])
    batches.delete(record)
    return web.json_response({"id": record["id"], "type": "message_batch_deleted"})


@_anthropic
async def results(request: web.Request) -> web.StreamResponse:
    batches = _batches(request)
    record = batches.get(request.match_info["batch_id"])
    at = state(record, context(request).engine.now())
    if at.processing_status != "ended":
        raise AnthropicApiError(
            400, f"Message Batch {record['id']} has not ended yet; its results are not ready."
        )
    response = web.StreamResponse(headers={"Content-Type": "application/x-jsonl"})
    await response.prepare(request)
    chunk: list[bytes] = []
    for index, item in enumerate(batches.requests(record)):
        chunk.append(_encode.encode(result_line(record, index, item, at)) + b"\n")
        if len(chunk) >= 256:
            await response.write(b"".join(chunk))
            chunk.clear()
    await response.write(b"".join(chunk))
    await response.write_eof()
    return response


__all__ = ["BATCHES", "MessageBatches", "add_routes", "limit_queue", "serve", "served_batches"]
