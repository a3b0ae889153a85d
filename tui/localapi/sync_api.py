"""The synchronous model endpoints (``POST /v1/chat/completions`` and the other batch
endpoints), answered by the echo model, so one server can be another's upstream.

Bodies are JSON; ``/v1/images/edits`` also takes the SDK's multipart form (text
fields become body fields, image parts count as input images).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tui.core.models import BATCH_ENDPOINTS
from tui.localapi import echo
from tui.localapi.app import context
from tui.localapi.batches_api import json_body
from tui.localapi.errors import invalid_request
from tui.localapi.params import text_param


def add_routes(app: web.Application) -> None:
    for endpoint in BATCH_ENDPOINTS:
        app.router.add_post(endpoint, answer)


async def answer(request: web.Request) -> web.Response:
    if request.content_type.startswith("multipart/"):
        body = await _form_body(request)
    else:
        body = await json_body(request)
    now = context(request).engine.now()
    status, out = echo.respond(request.path, body, seed="", now=now)
    return web.json_response(out, status=status)


async def _form_body(request: web.Request) -> dict[str, Any]:
    try:
        form = await request.post()
    except (UnicodeDecodeError, ValueError) as exc:
        raise invalid_request(
            f"Could not read the multipart form: {str(exc)[:200]}", code="invalid_form"
        ) from None
    body: dict[str, Any] = {}
    images: list[dict[str, str]] = []
    for key, value in form.items():
        text_param(key, key)
        if isinstance(value, str):
            name = key.removesuffix("[]")
            text_param(value, name)
            body[name] = int(value) if name == "n" and value.isdigit() else value
        else:
            images.append({"type": "input_image"})
    if images:
        body["images"] = images
    return body
