"""textual-serve's server with a per-run token and an Origin check, for ``batchdeck web``.

Without them, any web page the user happens to open could run
``new WebSocket("ws://127.0.0.1:8080/ws")`` and drive the app with the user's key;
loopback alone does not stop a browser. So, as Jupyter does:

- every run makes a random token, printed in the address to open
  (``http://127.0.0.1:8080/?token=...``); the page answers only with it, and then
  sets a cookie (``HttpOnly``, ``SameSite=Strict``, one per port) that the page's
  websocket and downloads present; anything else is ``403``;
- a request whose ``Origin`` is not the served address's origin is ``403``, and a
  websocket upgrade must carry the served origin (browsers always send one).

The static assets (textual-serve's JavaScript and CSS, nothing private) need no token.
Imported only when ``batchdeck web`` runs (it pulls in aiohttp and textual-serve).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from textual_serve.server import Server

TOKEN_PARAM = "token"
STATIC_PREFIX = "/static/"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, as browsers write an ``Origin`` header."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class TokenServer(Server):
    """:class:`textual_serve.server.Server` that answers only its own page, with its token."""

    def __init__(self, *args: Any, token: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.token = token or secrets.token_urlsafe(32)
        self.origin = origin_of(self.public_url)
        self.cookie = f"batchdeck_token_{self.port}"

    @property
    def login_url(self) -> str:
        """The address to open: the served URL with this run's token."""
        return f"{self.public_url.rstrip('/')}/?{TOKEN_PARAM}={self.token}"

    def is_token(self, value: str | None) -> bool:
        return value is not None and hmac.compare_digest(value.encode(), self.token.encode())

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()

        @web.middleware
        async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
            return await self.guard(request, handler)

        app.middlewares.append(guard)
        return app

    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Refuse foreign origins and requests without the token (query or cookie)."""
        origin = request.headers.get("Origin")
        upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        if (origin is not None or upgrade) and (origin or "").lower() != self.origin:
            raise web.HTTPForbidden(text=f"batchdeck web: only {self.origin} may connect\n")
        if request.path.startswith(STATIC_PREFIX):
            return await handler(request)
        in_query = self.is_token(request.query.get(TOKEN_PARAM))
        if not (in_query or self.is_token(request.cookies.get(self.cookie))):
            raise web.HTTPForbidden(
                text="batchdeck web: open the address with ?token=... that batchdeck web "
                "printed when it started\n"
            )
        response = await handler(request)
        if in_query and not response.prepared:
            response.set_cookie(
                self.cookie,
                self.token,
                httponly=True,
                samesite="Strict",
                secure=self.origin.startswith("https:"),
                path="/",
            )
        return response

    async def on_startup(self, app: web.Application) -> None:
        """Say where to point the browser (with the token) instead of textual-serve's banner."""
        import sys

        print(f"batchdeck web: open {self.login_url}", file=sys.stderr, flush=True)
        print("  (the token in it is this run's login; Ctrl+C stops)", file=sys.stderr, flush=True)
