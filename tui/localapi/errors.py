"""OpenAI-shaped API errors: ``{"error": {"message", "type", "param", "code"}}``.

Handlers raise :class:`ApiError`; :func:`app.api_handler` turns it into a JSON
response with the right status code and headers. The helpers below name the cases
the real API has, with its status codes and wording style.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


class ApiError(Exception):
    """An error the API returns as an ``{"error": {...}}`` body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return error_body(self.message, type=self.type, param=self.param, code=self.code)


def error_body(
    message: str,
    *,
    type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """The JSON body of an error response (also used inside batch error lines)."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def invalid_request(message: str, *, param: str | None = None, code: str | None = None) -> ApiError:
    """400: a bad parameter, body or value."""
    return ApiError(400, message, param=param, code=code)


def missing_parameter(param: str) -> ApiError:
    return invalid_request(
        f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
    )


def invalid_value(param: str, value: object, supported: tuple[str, ...]) -> ApiError:
    choices = ", ".join(f"'{s}'" for s in supported)
    return invalid_request(
        f"Invalid value: '{value}'. Supported values are: {choices}.",
        param=param,
        code="invalid_value",
    )


def not_found(message: str, *, param: str | None = None) -> ApiError:
    """404: an unknown object id or URL."""
    return ApiError(404, message, param=param)


def conflict(message: str) -> ApiError:
    """409: the object is in a state that does not allow the operation.

    ``x-should-retry: false`` stops the SDK from retrying (it retries 409 by default,
    taking it for a lock timeout), since waiting will not change a final state.
    """
    return ApiError(409, message, headers={"x-should-retry": "false"})


def unauthorized(message: str) -> ApiError:
    """401: missing or wrong API key."""
    return ApiError(401, message, code="invalid_api_key")


def rate_limited(retry_after: float | None = None) -> ApiError:
    """429 with ``Retry-After`` (whole seconds) and ``retry-after-ms`` (what the SDK prefers)."""
    return ApiError(
        429,
        "Rate limit reached for requests. Please try again later.",
        type="requests",
        code="rate_limit_exceeded",
        headers=retry_headers(retry_after),
    )


def server_error(status: int = 500, retry_after: float | None = None) -> ApiError:
    """5xx: the server had an error (the SDK retries these)."""
    message = {
        502: "Bad gateway.",
        503: "The server is overloaded or not ready yet.",
    }.get(status, "The server had an error while processing your request. Sorry about that!")
    return ApiError(status, message, type="server_error", headers=retry_headers(retry_after))


def retry_headers(retry_after: float | None) -> dict[str, str]:
    if retry_after is None:
        return {}
    seconds = max(0.0, float(retry_after))
    return {
        "Retry-After": str(max(1, math.ceil(seconds))),
        "retry-after-ms": str(round(seconds * 1000)),
    }
