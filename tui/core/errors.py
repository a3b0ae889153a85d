"""batchdeck's errors: one base for every error a user should read, and the few errors
the rest of batchdeck sees from a server, with plain messages.

Screens and commands catch :class:`BatchdeckError` once and show ``str(exc)``: every
error raised on purpose by core (a bad file, config, price table, record, request,
submission or server answer) derives from it and carries a message meant for people.

``BatchClient`` turns every SDK and transport error into one of these, so screens
and commands handle five cases instead of the SDK's dozen. Messages may quote the
server's own words: that is untrusted text, so control characters are escaped and
secrets (the API key a server may echo, bearer tokens, ``sk-...`` keys) cut out here,
once (:func:`tui.core.text.one_line` does both), and the UI still shows it literally
(never as markup).
"""

from __future__ import annotations


class BatchdeckError(Exception):
    """An error whose message is for the user: it says what went wrong, and where."""


class ApiError(BatchdeckError):
    """A call to the Batch API did not succeed."""

    kind = "error"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        from tui.core.text import one_line, scrub  # not at import: every module imports this

        message = one_line(message)  # escaped, and secrets scrubbed
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = scrub(code) if code else code  # the server's words too


class AuthError(ApiError):
    """The key is missing, wrong, or not allowed to do this (401/403)."""

    kind = "auth"


class NotFoundError(ApiError):
    """No such batch or file (404)."""

    kind = "not_found"


class RateLimitedError(ApiError):
    """Too many requests (429), still so after the retries."""

    kind = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object):
        super().__init__(message, status=429, code=kw.get("code"))  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServerError(ApiError):
    """The server failed (5xx), still so after the retries."""

    kind = "server"


class NetworkError(ApiError):
    """The server could not be reached, or the connection dropped or timed out."""

    kind = "network"


class RequestError(ApiError):
    """The server refused the request as invalid (400, 409, 422)."""

    kind = "request"
