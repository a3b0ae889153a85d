"""What the embedded server's Anthropic Message Batches answer with: the request rules,
a batch's state as a function of simulated time, and the result lines.

A message batch is simpler than an OpenAI batch: the requests come inline, nothing is
validated after ``create``, ``request_counts`` stay at ``processing`` until the batch
``ended``, and results exist only then. So its state needs no engine: request ``i``
(0-based, input order) finishes ``(i + 1) * timing.per_request`` after creation, the
batch ends ``timing.finalizing`` after its last request, a cancel ends it
``timing.cancelling`` after it was asked for (requests not finished by then are
``canceled``), and the 24 h window ends it with the rest ``expired``. Which requests
error is known at ``create`` (echo's ``[fail:NNN]`` markers and ``fail-NNN`` models),
so counts and results are a function of (record, now).
"""

from __future__ import annotations

import bisect
import hmac
import math
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tui.localapi import echo
from tui.localapi.clock import COMPLETION_WINDOW_SECONDS, Timing
from tui.localapi.dialects import RawApiError
from tui.localapi.ids import ALNUM, derived_id

Record = dict[str, Any]
MESSAGE_BATCHES = "/v1/messages/batches"

MAX_REQUESTS = 100_000
MAX_BODY_BYTES = 256 * 1024**2
CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}


class AnthropicApiError(Exception):
    """An error answered as Anthropic does: ``{"type": "error", "error": {type, message}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        kind: str | None = None,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind or error_type(status)
        self.retry_after = retry_after  # seconds, sent as ``retry-after`` with a 429

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        return error_response(self.kind, self.message, request_id)


def error_type(status: int) -> str:
    """Anthropic's error ``type`` for an HTTP status."""
    if status in ERROR_TYPES:
        return ERROR_TYPES[status]
    return "invalid_request_error" if status < 500 else "api_error"


def error_response(kind: str, message: str, request_id: str | None = None) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id}


def check_anthropic_key(request: web.Request, key: str | None) -> None:
    """With a key set, Anthropic's routes need ``x-api-key: <key>`` or ``Authorization:
    Bearer <key>`` (what the ``anthropic`` SDK 2.x sends); else a 401 in Anthropic's shape."""
    if not key:
        return
    given = request.headers.get("x-api-key")
    if given is None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        given = token if scheme.lower() == "bearer" else None
    if given is None or not hmac.compare_digest(given.strip().encode(), key.encode()):
        message = "x-api-key header is required" if given is None else "invalid x-api-key"
        raise RawApiError(401, error_response("authentication_error", message))


def iso(seconds: float | None) -> str | None:
    """RFC 3339 in UTC with a ``Z``, as the API writes times (None stays None)."""
    if seconds is None:
        return None
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


# --- the requests ------------------------------------------------------------------


def check_requests(requests: Any) -> list[dict[str, Any]]:
    """The ``requests`` of a create body, or an :class:`AnthropicApiError` (400) that
    names the request and field (``requests[3].params.max_tokens``)."""
    if not isinstance(requests, list) or not requests:
        raise AnthropicApiError(400, "requests: expected a non-empty array of requests.")
    if len(requests) > MAX_REQUESTS:
        raise AnthropicApiError(
            400, f"requests: at most {MAX_REQUESTS:,} requests per batch, got {len(requests):,}."
        )
    seen: set[str] = set()
    for index, request in enumerate(requests):
        where = f"requests[{index}]"
        if not isinstance(request, dict):
            raise AnthropicApiError(400, f"{where}: expected an object.")
        for name in request:
            if name not in ("custom_id", "params"):
                raise AnthropicApiError(400, f"{where}.{name}: Extra inputs are not permitted.")
        custom_id = request.get("custom_id")
        if not isinstance(custom_id, str) or not CUSTOM_ID.match(custom_id):
            raise AnthropicApiError(
                400,
                f"{where}.custom_id: must be 1 to 64 characters of letters, digits, '_' and '-'.",
            )
        if custom_id in seen:
            raise AnthropicApiError(
                400, f"{where}.custom_id: '{custom_id}' is used by an earlier request."
            )
        seen.add(custom_id)
        _check_params(request.get("params"), f"{where}.params")
    return requests


def _check_params(params: Any, where: str) -> None:
    if not isinstance(params, dict):
        raise AnthropicApiError(400, f"{where}: Field required (an object).")
    model = params.get("model")
    if not isinstance(model, str) or not model:
        raise AnthropicApiError(400, f"{where}.model: Field required.")
    max_tokens = params.get("max_tokens")
    if max_tokens is None:
        raise AnthropicApiError(400, f"{where}.max_tokens: Field required.")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise AnthropicApiError(400, f"{where}.max_tokens: must be an integer >= 1.")
    messages = params.get("messages")
    if not isinstance(messages, list) or not messages:
        raise AnthropicApiError(400, f"{where}.messages: Field required (a non-empty array).")
    if params.get("stream"):
        raise AnthropicApiError(400, f"{where}.stream: streaming is not supported in a batch.")


def errored_indexes(requests: list[dict[str, Any]]) -> list[int]:
    """The (sorted) indexes of the requests echo fails, by marker or ``fail-NNN`` model."""
    return [i for i, r in enumerate(requests) if _fail_status(r["params"]) is not None]


def _fail_status(params: dict[str, Any]) -> int | None:
    status = echo.fail_status(params)
    return status if status is not None and 400 <= status <= 599 else None


# --- the state over time -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class State:
    """A batch as of some moment."""

    processing_status: str  # in_progress, canceling, ended
    ended_at: float | None
    cancel_initiated_at: float | None
    done: int
    """How many requests (the first ``done`` in input order) ran."""
    unfinished: str  # what the others became: "canceled" or "expired"


def state(record: Record, now: float) -> State:
    """The batch ``record`` as of ``now`` (simulated seconds)."""
    timing = Timing.from_dict(record["timing"])
    created, total = float(record["created"]), int(record["total"])
    expires = created + COMPLETION_WINDOW_SECONDS
    last_done = created + total * timing.per_request
    natural_end = last_done + timing.finalizing
    cancel_at = record.get("cancel_at")

    def done_by(moment: float) -> int:
        if timing.per_request <= 0:
            return total
        return max(0, min(total, math.floor((moment - created) / timing.per_request + 1e-9)))

    if cancel_at is not None and float(cancel_at) < min(natural_end, expires):
        cancel = float(cancel_at)
        done = done_by(cancel)
        end = cancel + timing.cancelling
        if done == total:  # every request had run: it ends no later than it would have
            end = min(end, natural_end)
        if now >= end:
            return State("ended", end, cancel, done, "canceled")
        return State("canceling", None, cancel, done, "canceled")
    if natural_end > expires:
        done = done_by(expires)
        if now >= expires:
            return State("ended", expires, None, done, "expired")
        return State("in_progress", None, None, done, "expired")
    if now >= natural_end:
        return State("ended", natural_end, None, total, "expired")
    return State("in_progress", None, None, done_by(now), "expired")


def batch_json(record: Record, now: float, base_url: str) -> dict[str, Any]:
    """The ``MessageBatch`` object as of ``now``; ``base_url`` is ``http://host:port``."""
    at = state(record, now)
    total = int(record["total"])
    counts = {"processing": total, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
    results_url = None
    if at.processing_status == "ended":
        errored = bisect.bisect_left(record["errored"], at.done)
        counts.update(processing=0, succeeded=at.done - errored, errored=errored)
        counts[at.unfinished] = total - at.done
        results_url = f"{base_url}/v1/messages/batches/{record['id']}/results"
    created = float(record["created"])
    return {
        "id": record["id"],
        "type": "message_batch",
        "processing_status": at.processing_status,
        "request_counts": counts,
        "ended_at": iso(at.ended_at),
        "created_at": iso(created),
        "expires_at": iso(created + COMPLETION_WINDOW_SECONDS),
        "archived_at": None,
        "cancel_initiated_at": iso(at.cancel_initiated_at),
        "results_url": results_url,
    }


# --- results -----------------------------------------------------------------------


def result_line(record: Record, index: int, request: dict[str, Any], at: State) -> dict[str, Any]:
    """The results-file line of request ``index`` of an ended batch."""
    custom_id = request.get("custom_id")
    if index >= at.done:
        return {"custom_id": custom_id, "result": {"type": at.unfinished}}
    params = request.get("params") if isinstance(request.get("params"), dict) else {}
    assert isinstance(params, dict)
    status = _fail_status(params)
    if status is not None:
        kind = error_type(status)
        said = f"Echo failure {status} (asked for by the request)."
        request_id = derived_id("req_", record["id"], str(custom_id), length=24, alphabet=ALNUM)
        error = error_response(kind, said, request_id)
        return {"custom_id": custom_id, "result": {"type": "errored", "error": error}}
    answer = message(params, f"{record['id']}\x1f{custom_id}")
    return {"custom_id": custom_id, "result": {"type": "succeeded", "message": answer}}


def message(params: dict[str, Any], seed: str) -> dict[str, Any]:
    """Echo's answer in the Messages API's shape (quotes the last user message)."""
    texts: list[str] = list(echo._texts(params.get("system")))
    last_user = ""
    for item in params.get("messages") or []:
        if isinstance(item, dict):
            said = echo._texts(item.get("content"))
            texts += said
            if item.get("role") == "user" and said:
                last_user = "\n".join(said)
    input_tokens = 3 + sum(4 + echo.count_tokens(t) for t in texts)
    limit = params.get("max_tokens")
    reply = echo._reply(last_user, False)
    text, cut = echo._truncate(reply, limit if isinstance(limit, int) else None)
    rng = random.Random(seed)
    return {
        "id": "msg_" + "".join(rng.choice(ALNUM) for _ in range(24)),
        "type": "message",
        "role": "assistant",
        "model": str(params.get("model")),
        "content": [{"type": "text", "text": text}],
        "stop_reason": "max_tokens" if cut else "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": echo.count_tokens(text),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "service_tier": "batch",
        },
    }
