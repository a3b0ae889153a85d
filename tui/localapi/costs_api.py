"""``GET /v1/organization/costs``: a small fake of OpenAI's Costs API, for the tests
and the demo of ``batchdeck spend``.

Daily buckets from ``start_time`` (to ``end_time`` or now), each with one result per
``"<model>, batch"`` line item: the server's batches created that day, their usage
priced at the built-in table's Batch price. ``limit`` buckets a page (1-180, default
7), ``page`` the cursor of the next. Only ``bucket_width=1d`` is served.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tui.core.models import Batch
from tui.core.pricing import DEFAULT_PRICES, batch_cost
from tui.localapi.app import context
from tui.localapi.errors import invalid_request

DAY = 86_400
MAX_LIMIT = 180


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/organization/costs", costs)


async def costs(request: web.Request) -> web.Response:
    ctx = context(request)
    query = request.query
    start = _int(query, "start_time", None)
    end = _int(query, "end_time", int(ctx.engine.now()) + 1)
    limit = _int(query, "limit", 7)
    first = _int(query, "page", 0)
    if query.get("bucket_width", "1d") != "1d":
        raise invalid_request("Only bucket_width=1d is supported.", param="bucket_width")
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid_request(f"limit must be between 1 and {MAX_LIMIT}.", param="limit")
    for record in ctx.store.list_batches():
        if ctx.engine.is_active(record["id"]):
            await ctx.engine.refresh(record["id"])
    starts = list(range(start, end, DAY))
    chosen = starts[first : first + limit]
    batches = [Batch.from_dict(record) for record in ctx.store.list_batches()]
    data = [_bucket(day, min(day + DAY, end), batches) for day in chosen]
    more = first + limit < len(starts)
    return web.json_response(
        {
            "object": "page",
            "data": data,
            "has_more": more,
            "next_page": str(first + limit) if more else None,
        }
    )


def _bucket(start: int, end: int, batches: list[Batch]) -> dict[str, Any]:
    items: dict[str, float] = {}
    for batch in batches:
        if not start <= batch.created_at < end:
            continue
        cost = batch_cost(batch, DEFAULT_PRICES).cost
        if cost is not None:
            name = f"{batch.model or 'unknown'}, batch"
            items[name] = items.get(name, 0.0) + cost.batch
    results = [
        {
            "object": "organization.costs.result",
            "amount": {"value": value, "currency": "usd"},
            "line_item": name,
            "project_id": None,
        }
        for name, value in sorted(items.items())
    ]
    return {"object": "bucket", "start_time": start, "end_time": end, "results": results}


def _int(query: Any, name: str, default: int | None) -> int:
    raw = query.get(name)
    if raw is None:
        if default is None:
            raise invalid_request(f"Missing required parameter: '{name}'.", param=name)
        return default
    try:
        return int(raw)
    except ValueError:
        raise invalid_request(f"'{name}' must be an integer.", param=name) from None
