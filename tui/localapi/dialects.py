"""The provider dialects the embedded server speaks, for tests and demos.

One server, three ways in (``LocalServer(dialect=...)``, ``batchdeck serve --dialect``):

- ``openai`` (default): ``/v1/files``, ``/v1/batches``; ``Authorization: Bearer KEY``;
  50,000 requests and 200 MB per input file; completion window ``24h``. This is the
  server as it always was: nothing below changes its answers.
- ``azure``: the paths :class:`openai.AzureOpenAI` sends (``azure_endpoint`` = the
  server's URL): ``/openai/files``, ``/openai/batches``, ``/openai/files/{id}/content``,
  ..., and the model endpoints at ``/openai/deployments/{deployment}/chat/completions``;
  every request needs ``?api-version=`` (one of :data:`AZURE_API_VERSIONS`), else 404
  ``Resource not found`` as Azure answers. With a key set, requests need the
  ``api-key: KEY`` header (``Authorization: Bearer KEY`` stands in for an Entra ID
  token); a wrong or missing key is Azure's 401 body ``{"error": {"code": "401",
  "message": "Access denied due to ..."}}``. Batch ids are ``batch_<uuid>``, file ids
  ``file-<32 hex>``; 100,000 requests per file; ``model`` in a line is a deployment
  name (any non-empty name is accepted); a UTF-8 BOM fails validation (as on every
  dialect: the validator refuses it).
- ``groq``: base URL ``/openai/v1`` (``/openai/v1/files``, ``/openai/v1/batches``, ...);
  bearer auth; batches on ``/v1/chat/completions`` only (others: 400 with Groq's
  wording); ``completion_window`` from ``24h`` to ``7d`` (``<N>h`` or ``<N>d``; the
  batch expires that long after creation); input files up to 100 MB (checked at
  validation, ``file_too_large``).

``quirks`` (``--quirks``, any dialect) makes the batch objects in answers look like
the odd services a tolerant client must read (see :func:`shape_batch`):

- every ``*_at`` timestamp is an ISO 8601 string (``"2026-12-01T16:44:38Z"``), not
  Unix seconds;
- ``status`` is upper case (``"IN_PROGRESS"``), and during the first half of
  validation it is ``"queued"``, a status the OpenAI API does not have;
- ``request_counts`` is ``null`` until the batch is ``in_progress`` in single-batch
  answers, and missing altogether from the batches in list pages;
- two fields OpenAI does not send: ``"provider_note"`` (a string) and
  ``"quirk_details"`` (an object).

Routes are registered at the dialect's paths (not rewritten per request, so the
openai dialect pays nothing); handlers of fixed paths see the request at its OpenAI
path, so the model endpoints answer the same whichever way they were reached.
"""

from __future__ import annotations

import hmac
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from aiohttp import web
from yarl import URL

from tui.core.models import BATCH_ENDPOINTS, TIMESTAMP_FIELDS
from tui.core.requests import MAX_FILE_BYTES, MAX_REQUESTS
from tui.localapi.errors import ApiError, invalid_request, invalid_value, unauthorized
from tui.localapi.ids import HEX, IdFactory
from tui.localapi.validate import Validation, validate_input

Handler = Callable[[web.Request], Any]
DAY = 24 * 3600

AZURE_API_VERSIONS = (
    "2024-07-01-preview",
    "2024-08-01-preview",
    "2024-09-01-preview",
    "2024-10-01-preview",
    "2024-10-21",
    "2024-12-01-preview",
    "2025-01-01-preview",
    "2025-02-01-preview",
    "2025-03-01-preview",
    "2025-04-01-preview",
)
"""The ``api-version`` values the azure dialect accepts (GA and previews with batch)."""


class RawApiError(ApiError):
    """An error whose body is not OpenAI's shape (Azure's gateway answers)."""

    def __init__(self, status: int, raw_body: dict[str, Any]) -> None:
        super().__init__(status, str(raw_body.get("error", {}).get("message", "")))
        self.raw_body = raw_body

    def body(self) -> dict[str, Any]:
        return self.raw_body


def _check_bearer(request: web.Request, key: str) -> None:
    """OpenAI's rule: ``Authorization: Bearer <key>``."""
    header = request.headers.get("Authorization", "")
    if hmac.compare_digest(header.encode(), f"Bearer {key}".encode()):
        return  # the usual spelling (the rest is the rule in full, and why it failed)
    scheme, _, given = header.partition(" ")
    if not header:
        raise unauthorized(
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        )
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), key.encode()):
        raise unauthorized("Incorrect API key provided.")


@dataclass(frozen=True)
class Dialect:
    """How one provider's Batch API looks from outside (the openai one is the base)."""

    name: str = "openai"
    prefix: str = "/v1"
    """Where ``/v1/files`` and ``/v1/batches`` are served instead."""
    max_requests: int = MAX_REQUESTS
    max_bytes: int = MAX_FILE_BYTES
    endpoints: tuple[str, ...] = BATCH_ENDPOINTS

    # --- routes ----------------------------------------------------------------------

    def route_path(self, path: str) -> str:
        """The path this dialect serves OpenAI's ``path`` (``/v1/...``) at."""
        return self.prefix + path.removeprefix("/v1")

    # --- every request -------------------------------------------------------------

    def check_auth(self, request: web.Request, key: str | None) -> None:
        if key:
            _check_bearer(request, key)

    def check_query(self, request: web.Request) -> None:
        """Query rules every request must meet (Azure's ``api-version``)."""

    # --- creating a batch -----------------------------------------------------------

    def window_seconds(self, window: object) -> float:
        """The seconds ``completion_window`` allows, or the 400 this provider answers."""
        if window != "24h":
            raise invalid_value("completion_window", str(window)[:50], ("24h",))
        return DAY

    def check_endpoint(self, endpoint: object) -> None:
        if endpoint not in self.endpoints:
            raise invalid_value("endpoint", str(endpoint)[:100], self.endpoints)

    # --- ids and validation ---------------------------------------------------------

    def ids(self, seed: int | None) -> IdFactory:
        return IdFactory(seed)

    def validator(self) -> Callable[..., Validation]:
        """``validate_input`` with this provider's per-file limits."""
        if (self.max_requests, self.max_bytes) == (MAX_REQUESTS, MAX_FILE_BYTES):
            return validate_input
        return partial(validate_input, max_requests=self.max_requests, max_bytes=self.max_bytes)


class AzureIds(IdFactory):
    """Azure's ids: ``batch_<uuid>`` and ``file-<32 hex>``."""

    def batch_id(self) -> str:
        return "batch_" + str(uuid.UUID(hex=self.make("", 32, HEX), version=4))

    def file_id(self) -> str:
        return self.make("file-", 32, HEX)


AZURE_BAD_KEY = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
    "provide a valid key for an active subscription and use a correct regional API "
    "endpoint for your resource."
)
AZURE_NO_KEY = (
    "Access denied due to missing subscription key. Make sure to include subscription "
    "key when making requests to an API."
)
AZURE_BAD_TOKEN = (
    "Unauthorized. Access token is missing, invalid, audience is incorrect "
    "(https://cognitiveservices.azure.com), or have expired."
)


def _azure_error(status: int, message: str) -> RawApiError:
    return RawApiError(status, {"error": {"code": str(status), "message": message}})


@dataclass(frozen=True)
class Azure(Dialect):
    name: str = "azure"
    prefix: str = "/openai"
    max_requests: int = 100_000
    api_versions: tuple[str, ...] = field(default=AZURE_API_VERSIONS)

    def route_path(self, path: str) -> str:
        if path.startswith(("/v1/files", "/v1/batches")):
            return "/openai" + path.removeprefix("/v1")
        return "/openai/deployments/{deployment}" + path.removeprefix("/v1")

    def check_auth(self, request: web.Request, key: str | None) -> None:
        if not key:
            return
        given = request.headers.get("api-key")
        if given is not None:
            if not hmac.compare_digest(given.strip().encode(), key.encode()):
                raise _azure_error(401, AZURE_BAD_KEY)
            return
        header = request.headers.get("Authorization")
        if header is None:
            raise _azure_error(401, AZURE_NO_KEY)
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), key.encode()
        ):
            raise RawApiError(401, {"statusCode": 401, "message": AZURE_BAD_TOKEN})

    def check_query(self, request: web.Request) -> None:
        if request.query.get("api-version") not in self.api_versions:
            raise _azure_error(404, "Resource not found")

    def ids(self, seed: int | None) -> IdFactory:
        return AzureIds(seed)


_GROQ_WINDOW = re.compile(r"([0-9]{1,4})([hd])")


@dataclass(frozen=True)
class Groq(Dialect):
    name: str = "groq"
    prefix: str = "/openai/v1"
    max_bytes: int = 100_000_000
    endpoints: tuple[str, ...] = ("/v1/chat/completions",)
    min_window: int = DAY
    max_window: int = 7 * DAY

    def window_seconds(self, window: object) -> float:
        match = _GROQ_WINDOW.fullmatch(window) if isinstance(window, str) else None
        seconds = int(match[1]) * (3600 if match[2] == "h" else DAY) if match else 0
        if not self.min_window <= seconds <= self.max_window:
            raise invalid_request(
                f"completion_window must be between 24h and 7d (e.g. '24h', '48h', '7d'); "
                f"got {str(window)[:50]!r}",
                param="completion_window",
            )
        return seconds

    def check_endpoint(self, endpoint: object) -> None:
        if endpoint not in self.endpoints:
            raise invalid_request(
                f"endpoint {str(endpoint)[:100]!r} is not supported for batch processing; "
                "supported endpoints: /v1/chat/completions",
                param="endpoint",
            )


OPENAI = Dialect()
AZURE = Azure()
GROQ = Groq()
ANTHROPIC = Dialect(name="anthropic")
"""OpenAI's routes as they are; Anthropic's ``/v1/messages/batches`` (on every server:
:mod:`tui.localapi.anthropic_api`) is what a profile with ``provider = "anthropic"`` uses."""
DIALECTS: dict[str, Dialect] = {d.name: d for d in (OPENAI, AZURE, GROQ, ANTHROPIC)}


def dialect_named(name: str | Dialect) -> Dialect:
    """The dialect called ``name`` (a :class:`Dialect` passes through); ValueError else."""
    if isinstance(name, Dialect):
        return name
    try:
        return DIALECTS[name]
    except KeyError:
        raise ValueError(f"dialect must be one of {', '.join(DIALECTS)}, not {name!r}") from None


# --- routes ------------------------------------------------------------------------------


def dialect_routes(
    dialect: Dialect, adders: list[Callable[[web.Application], None]]
) -> list[tuple[str, str, Handler]]:
    """The routes ``adders`` put at OpenAI's paths, as (method, path, handler) at
    ``dialect``'s paths."""
    scratch = web.Application()
    for add in adders:
        add(scratch)
    own_paths = type(dialect) is Dialect and dialect.prefix == "/v1"  # OpenAI's
    routes = []
    for route in scratch.router.routes():
        assert route.resource is not None
        path, handler = route.resource.canonical, route.handler
        if not own_paths:
            if "{" not in path:  # a fixed path: the handler may read it (the model endpoints)
                handler = _at_openai_path(handler, path)
            path = dialect.route_path(path)
        routes.append((route.method, path, handler))
    return routes


def _at_openai_path(handler: Handler, path: str) -> Handler:
    async def at_openai_path(request: web.Request) -> Any:
        query = request.rel_url.raw_query_string
        url = URL.build(path=path, query_string=query, encoded=True)
        return await handler(request.clone(rel_url=url))

    return at_openai_path


# --- quirks ------------------------------------------------------------------------------


QUIRK_FIELDS: dict[str, Any] = {
    "provider_note": "fields OpenAI does not send",
    "quirk_details": {"region": "local", "tier": ["batch", 2]},
}


def iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def shape_batch(batch: dict[str, Any], queued: bool, *, listed: bool) -> dict[str, Any]:
    """``batch`` (a public batch object) as a quirky service answers it."""
    out = dict(batch)
    for name in TIMESTAMP_FIELDS:
        value = out.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            out[name] = iso(value)
    status = str(out.get("status", ""))
    out["status"] = "queued" if queued else status.upper()
    if listed:
        out.pop("request_counts", None)
    elif status == "validating":
        out["request_counts"] = None
    out.update(QUIRK_FIELDS)
    return out


def shape_answer(body: bytes, is_queued: Callable[[str], bool]) -> bytes | None:
    """A JSON answer's new bytes if it holds batch objects (else None: unchanged)."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    if data.get("object") == "batch":
        data = shape_batch(data, is_queued(str(data.get("id"))), listed=False)
    elif data.get("object") == "list" and any(
        isinstance(item, dict) and item.get("object") == "batch" for item in data.get("data", [])
    ):
        data["data"] = [
            shape_batch(item, is_queued(str(item.get("id"))), listed=True) for item in data["data"]
        ]
    else:
        return None
    return json.dumps(data, separators=(",", ":")).encode()
