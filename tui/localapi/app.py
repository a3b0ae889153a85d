"""The aiohttp application: the route table, every handler wrapped by :func:`api_handler`
(request id, faults, auth, URL text, errors), and a last route answering unknown URLs.

Routes live in :mod:`files_api` (``/v1/files``), :mod:`batches_api` (``/v1/batches``)
and :mod:`sync_api` (the synchronous model endpoints, answered by echo), served at the
paths of the context's :mod:`~tui.localapi.dialects` dialect (OpenAI's by default), which
also decides the auth header and, with ``quirks``, reshapes batch answers. Every
response carries an ``x-request-id``; every error is an OpenAI error body (or the
dialect's own, e.g. Azure's gateway errors).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from aiohttp import web

from tui.localapi.anthropic_shapes import MESSAGE_BATCHES, check_anthropic_key
from tui.localapi.clock import Timing
from tui.localapi.dialects import OPENAI, Dialect, dialect_routes, shape_answer
from tui.localapi.errors import (
    ApiError,
    error_body,
    invalid_request,
    not_found,
    server_error,
)
from tui.localapi.faults import CONTENT_KINDS, Fault, Faults, content_fault
from tui.localapi.ids import IdFactory
from tui.localapi.lifecycle import Engine
from tui.localapi.params import text_param
from tui.localapi.store import Store

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Context:
    """What the handlers share: the store, the engine and the server's settings."""

    store: Store
    engine: Engine
    faults: Faults
    api_key: str | None
    timing: Callable[[], Timing]
    request_ids: IdFactory
    dialect: Dialect = OPENAI
    quirks: bool = False


CONTEXT = web.AppKey("context", Context)


def context(request: web.Request) -> Context:
    return request.app[CONTEXT]


def api_handler(handler: Handler, ctx: Context) -> Handler:
    """``handler`` with what every request gets, in this order: an ``x-request-id``;
    the fault plan; the API key; UTF-8 path and query. ApiError and aiohttp's HTTP
    errors become OpenAI error bodies.

    (Wrapped into each route, not an aiohttp middleware: a middleware adds two
    coroutine layers to every request, aiohttp's own among them.)
    """

    async def handle(request: web.Request) -> web.StreamResponse:
        request_id = ctx.request_ids.request_id()
        try:
            delay, fault = ctx.faults.pick(request.method, request.path)
            if delay or fault is not None:
                response = await _with_faults(request, handler, ctx, delay, fault)
            else:
                _check_request(request, ctx)
                response = await handler(request)
        except ApiError as exc:
            response = web.json_response(exc.body(), status=exc.status, headers=exc.headers)
        except web.HTTPException as exc:
            if exc.status in (404, 405):
                response = _unknown_url_response(request)
            elif exc.status == 413:
                body = error_body("The request body is too large.", code="request_too_large")
                response = web.json_response(body, status=413)
            else:
                response = web.json_response(error_body(exc.reason), status=exc.status)
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception:
            log.exception("%s %s failed", request.method, request.path)
            err = server_error()
            response = web.json_response(err.body(), status=err.status)
        if ctx.quirks and isinstance(response, web.Response) and isinstance(response.body, bytes):
            _quirky(response, ctx)
        if not response.prepared:
            response.headers["x-request-id"] = request_id
        return response

    return handle


async def unknown_url(request: web.Request) -> web.StreamResponse:
    """The last route: any method at a path no other route serves with it."""
    return _unknown_url_response(request)


def _unknown_url_response(request: web.Request) -> web.Response:
    body = error_body(f"Invalid URL ({request.method} {request.path})", code="unknown_url")
    return web.json_response(body, status=404)


def _quirky(response: web.Response, ctx: Context) -> None:
    """Reshape the batch objects of a JSON answer (see :func:`dialects.shape_batch`)."""
    if response.content_type != "application/json" or not isinstance(response.body, bytes):
        return

    def queued(batch_id: str) -> bool:
        """The first half of validation shows as ``queued``."""
        record = ctx.store.batches.get(batch_id)
        if record is None or record["status"] != "validating":
            return False
        half = float(record["_timing"]["validation"]) / 2
        return ctx.engine.now() < float(record["_t"]["created"]) + half

    shaped = shape_answer(response.body, queued)
    if shaped is not None:
        response.body = shaped


async def _with_faults(
    request: web.Request, handler: Handler, ctx: Context, delay: float, fault: Fault | None
) -> web.StreamResponse:
    """Apply what the fault plan picked (see :mod:`tui.localapi.faults`): ``delay``
    seconds, then ``fault``; the key and URL checks where a handler runs."""
    if delay:
        await asyncio.sleep(delay)
    if fault is None:
        _check_request(request, ctx)
        return await handler(request)
    if fault.kind in CONTENT_KINDS:
        _check_request(request, ctx)
        return await content_fault(request, handler, fault)
    if fault.kind == "drop":
        _drop(request)
    if fault.kind == "drop_after":
        _check_request(request, ctx)
        await handler(request)
        _drop(request)
    status = fault.status or 500
    if status == 429:
        from tui.localapi.errors import rate_limited

        raise rate_limited(fault.retry_after)
    if status >= 500:
        raise server_error(status, fault.retry_after)
    raise ApiError(status, f"Injected fault: HTTP {status}.", code="injected_fault")


def _drop(request: web.Request) -> None:
    """Close the connection without a response (the client sees a dropped connection)."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise asyncio.CancelledError


def _check_request(request: web.Request, ctx: Context) -> None:
    """The key (the dialect's header), the dialect's query rules, UTF-8 path and query."""
    if request.path.startswith(MESSAGE_BATCHES):
        check_anthropic_key(request, ctx.api_key)
    else:
        ctx.dialect.check_auth(request, ctx.api_key)
    ctx.dialect.check_query(request)
    _check_url_text(request)


def _check_url_text(request: web.Request) -> None:
    """Path and query must be UTF-8 once percent-decoded (yarl would quietly turn a bad
    byte into U+FFFD): a 400 names the problem instead of an id or filter nobody sent."""
    url = request.rel_url
    raw_path, raw_query = url.raw_path, url.raw_query_string
    if raw_path.isascii() and raw_query.isascii() and "%" not in raw_path + raw_query:
        return  # plain ASCII: nothing to decode, no lone surrogate possible
    for part, raw in (("path", raw_path), ("query", raw_query)):
        try:
            unquote_to_bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise invalid_request(
                f"Invalid URL {part}: once percent-decoded it is not UTF-8 text.",
                code="invalid_value",
            ) from None
    for name, value in request.query.items():
        text_param(name, name)
        text_param(value, name)


def make_app(ctx: Context) -> web.Application:
    from tui.localapi import anthropic_api, batches_api, costs_api, files_api, sync_api

    routes = dialect_routes(
        ctx.dialect,
        [files_api.add_routes, batches_api.add_routes, sync_api.add_routes, costs_api.add_routes],
    )
    routes += dialect_routes(OPENAI, [anthropic_api.add_routes])  # at their own paths
    app = web.Application(client_max_size=1024**2 * 64)
    app[CONTEXT] = ctx
    anthropic_api.serve(app, ctx)
    for method, path, handler in routes:
        app.router.add_route(method, path, api_handler(handler, ctx))
    app.router.add_route("*", "/{path:.*}", api_handler(unknown_url, ctx))
    return app


__all__ = ["CONTEXT", "Context", "context", "make_app", "not_found"]
