"""``/v1/batches``: create, list (newest first, cursor pages), retrieve, cancel."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tui.core import jsonsafe
from tui.localapi.app import context
from tui.localapi.errors import (
    ApiError,
    conflict,
    invalid_request,
    missing_parameter,
    not_found,
)
from tui.localapi.params import expires_after_param, limit_param, metadata_param, unknown_param
from tui.localapi.store import Record, Store, json_bytes

CREATE_FIELDS = (
    "input_file_id",
    "endpoint",
    "completion_window",
    "metadata",
    "output_expires_after",
)
LIST_DEFAULT = 20
LIST_MAX = 100


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/batches", create)
    app.router.add_get("/v1/batches", list_batches)
    app.router.add_get("/v1/batches/{batch_id}", retrieve)
    app.router.add_post("/v1/batches/{batch_id}/cancel", cancel)


def _batch_response(request: web.Request, record: Record) -> web.Response:
    return json_body_response(context(request).store.batch_json(record))


def json_body_response(body: bytes) -> web.Response:
    """A 200 with ``body``, JSON already encoded (the headers of ``web.json_response``)."""
    return web.Response(body=body, content_type="application/json", charset="utf-8")


def _no_batch(batch_id: str) -> ApiError:
    return not_found(f"No batch found with id '{batch_id[:100]}'.", param="batch_id")


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body, or a 400 like the API's."""
    raw = await request.read()
    problem = "it is empty"
    try:
        body = jsonsafe.loads(raw) if raw else None
    except jsonsafe.JsonInputError as exc:
        body, problem = None, str(exc)
    if body is not None and not isinstance(body, dict):
        problem = "it is not a JSON object"
    if not isinstance(body, dict):
        raise invalid_request(
            f"We could not parse the JSON body of your request: {problem}. (HINT: This likely "
            "means you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
            "payload.)",
            code="invalid_json",
        )
    return body


async def create(request: web.Request) -> web.Response:
    ctx = context(request)
    body = await json_body(request)
    for name in body:
        if name not in CREATE_FIELDS:
            raise unknown_param(name)
    for name in ("input_file_id", "endpoint", "completion_window"):
        if body.get(name) in (None, ""):
            raise missing_parameter(name)
    window = body["completion_window"]
    window_seconds = ctx.dialect.window_seconds(window)  # 400 unless the dialect allows it
    endpoint = body["endpoint"]
    ctx.dialect.check_endpoint(endpoint)
    metadata = metadata_param(body.get("metadata"))
    output_expires_after = expires_after_param(
        body.get("output_expires_after"), "output_expires_after"
    )
    file_id = body["input_file_id"]
    if not isinstance(file_id, str):
        raise invalid_request(
            "Invalid type for 'input_file_id': expected a string.",
            param="input_file_id",
            code="invalid_type",
        )
    record = ctx.store.live_file(file_id, ctx.engine.now())
    if record is None or ctx.faults.file_missing(file_id, request.method, request.path):
        raise not_found(f"No such File object: {file_id[:100]}", param="input_file_id")
    if record["purpose"] != "batch":
        raise invalid_request(
            f"The input file must have purpose 'batch', but {file_id} has purpose "
            f"'{record['purpose']}'.",
            param="input_file_id",
            code="invalid_file_purpose",
        )
    batch = ctx.engine.create_batch(
        input_file_id=file_id,
        endpoint=endpoint,
        metadata=metadata,
        timing=ctx.timing(),
        output_expires_after=output_expires_after,
        completion_window=window,
        window_seconds=window_seconds,
    )
    return _batch_response(request, batch)


async def list_batches(request: web.Request) -> web.Response:
    ctx = context(request)
    limit = limit_param(request.query, default=LIST_DEFAULT, maximum=LIST_MAX)
    after = request.query.get("after", "")
    kept = ctx.store.batch_page(after, limit)
    if kept is not None:
        return json_body_response(kept)
    batches = ctx.store.list_batches()
    start = 0
    if after:
        position = next((i for i, r in enumerate(batches) if r["id"] == after), None)
        if position is None:
            raise invalid_request(f"No batch found with id '{after[:100]}'.", param="after")
        start = position + 1
    chosen = batches[start : start + limit]
    for record in chosen:
        if ctx.engine.is_active(record["id"]):
            await ctx.engine.refresh(record["id"])
    data = _list_json(ctx.store, chosen, has_more=start + limit < len(batches))
    ctx.store.keep_batch_page(after, limit, chosen, data)
    return json_body_response(data)


def _list_json(store: Store, chosen: list[Record], *, has_more: bool) -> bytes:
    """``{"object": "list", "data": [...], "has_more": ..., "first_id": ..., "last_id":
    ...}`` put together from each batch's JSON (see :meth:`Store.batch_json`)."""
    parts = [b'{"object":"list","data":[']
    for record in chosen:
        parts += (store.batch_json(record), b",")
    if chosen:
        parts.pop()  # the last comma
    parts.append(b'],"has_more":true' if has_more else b'],"has_more":false')
    if chosen:
        ends = json_bytes(chosen[0]["id"]), json_bytes(chosen[-1]["id"])
        parts.append(b',"first_id":%b,"last_id":%b' % ends)
    parts.append(b"}")
    return b"".join(parts)


async def retrieve(request: web.Request) -> web.Response:
    batch_id = request.match_info["batch_id"]
    record = await context(request).engine.refresh(batch_id)
    if record is None:
        raise _no_batch(batch_id)
    return _batch_response(request, record)


async def cancel(request: web.Request) -> web.Response:
    batch_id = request.match_info["batch_id"]
    try:
        record = await context(request).engine.cancel(batch_id)
    except ValueError as exc:
        raise conflict(f"Cannot cancel a batch with status '{exc}'.") from None
    if record is None:
        raise _no_batch(batch_id)
    return _batch_response(request, record)
