"""OpenAI webhooks for batches: verify a delivery, refuse replays, say what it means.

``batchdeck webhooks`` (``tui.commands.webhooks``) serves HTTP and calls
:meth:`Receiver.verify` for each POST. Verification is the SDK's own
(``client.webhooks.unwrap``: the standard-webhooks HMAC-SHA256 over
``{webhook-id}.{webhook-timestamp}.{body}`` with the endpoint's secret, and a
timestamp no more than :data:`TOLERANCE` seconds from now). Replays are refused two
ways: an old timestamp fails verification, and a ``webhook-id`` already received
within the tolerance window is refused by :class:`SeenIds`, which remembers ids
on disk (so a restart does not forget them) and only as long as they could be
replayed (so the file stays small).

    receiver = Receiver(secret, SeenIds(paths.data_dir() / "webhooks" / "seen.json"))
    delivery = receiver.verify(body, headers)    # WebhookRejected(status, message)
    ... act on delivery.batch_id / delivery.status ...
    receiver.seen.add(delivery.webhook_id, delivery.timestamp)   # after acting
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.core.errors import BatchdeckError
from tui.core.fsutil import atomic_write, make_private_dirs
from tui.core.jsonsafe import loads

if TYPE_CHECKING:
    from tui.core.models import Batch

SECRET_ENV = "OPENAI_WEBHOOK_SECRET"
TOLERANCE = 300  # seconds, as the SDK's default
MAX_SEEN = 100_000  # ids remembered at most (a burst beyond it forgets the oldest)
MAX_BODY = 1024 * 1024  # bytes; OpenAI's batch events are a few hundred
BATCH_EVENTS = {
    "batch.completed": "completed",
    "batch.failed": "failed",
    "batch.expired": "expired",
    "batch.cancelled": "cancelled",
}


class WebhookRejected(BatchdeckError):
    """A delivery that is not acted on; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SecretError(BatchdeckError):
    """The webhook secret is missing or unusable."""


@dataclass(frozen=True)
class Delivery:
    """A verified delivery. ``batch_id``/``status`` are set for the batch events
    (``status`` is the final state the event names); ``None`` for other events."""

    webhook_id: str
    timestamp: int
    event_type: str
    created_at: int
    batch_id: str | None
    status: str | None


def check_secret(secret: str | None) -> str:
    """The secret, if it can verify anything; :class:`SecretError` says why not."""
    if not secret:
        raise SecretError(
            f"{SECRET_ENV} is not set: batchdeck webhooks needs the endpoint's signing "
            "secret (whsec_..., shown when the endpoint was created in the OpenAI "
            "dashboard) to verify deliveries, and refuses to start without it"
        )
    if secret.startswith("whsec_"):
        try:
            base64.b64decode(secret[6:], validate=True)
        except (binascii.Error, ValueError):
            raise SecretError(f"{SECRET_ENV} is not a valid whsec_ secret (bad base64)") from None
    return secret


class SeenIds:
    """``webhook-id``s received within the replay window, kept in a JSON file (0600).

    An id is forgotten once its timestamp is older than twice the tolerance: a
    replay of it would fail verification anyway. At most :data:`MAX_SEEN` are kept.
    """

    def __init__(self, path: Path, tolerance: int = TOLERANCE) -> None:
        self.path = path
        self.tolerance = tolerance
        self._lock = threading.Lock()
        self._ids: dict[str, int] = self._read()

    def _read(self) -> dict[str, int]:
        try:
            raw = loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):  # unreadable: start afresh (verification still holds)
            return {}
        if not isinstance(raw, dict):
            return {}
        return {str(k): int(v) for k, v in raw.items() if isinstance(v, int)}

    def __contains__(self, webhook_id: object) -> bool:
        with self._lock:
            return webhook_id in self._ids

    def add(self, webhook_id: str, timestamp: int, now: float | None = None) -> None:
        """Remember ``webhook_id`` (and forget the ids too old to be replayed)."""
        now = time.time() if now is None else now
        with self._lock:
            self._ids[webhook_id] = timestamp
            oldest = now - 2 * self.tolerance
            kept = sorted(((t, i) for i, t in self._ids.items() if t >= oldest), reverse=True)[
                :MAX_SEEN
            ]
            self._ids = {i: t for t, i in kept}
            make_private_dirs(self.path.parent)
            atomic_write(self.path, json.dumps(self._ids).encode())

    def __len__(self) -> int:
        return len(self._ids)


class Receiver:
    """Verifies deliveries with the SDK and refuses replays (see the module)."""

    def __init__(self, secret: str, seen: SeenIds, tolerance: int = TOLERANCE) -> None:
        import openai

        self.secret = check_secret(secret)
        self.seen = seen
        self.tolerance = tolerance
        # Only its webhooks helper is used: no request is ever sent with this client.
        self._sdk = openai.OpenAI(api_key="unused-by-webhooks", base_url="http://127.0.0.1:9/")

    def verify(self, body: bytes, headers: Mapping[str, str]) -> Delivery:
        """The delivery ``body`` with ``headers`` is; :class:`WebhookRejected` with
        400 (malformed), 401 (forged or outside the time tolerance) or 409 (an id
        received before)."""
        import openai

        if len(body) > MAX_BODY:
            raise WebhookRejected(413, f"body larger than {MAX_BODY} bytes")
        plain = {key.lower(): value for key, value in headers.items()}
        missing = [
            h for h in ("webhook-id", "webhook-timestamp", "webhook-signature") if h not in plain
        ]
        if missing:
            raise WebhookRejected(400, f"missing header(s): {', '.join(missing)}")
        try:
            self._sdk.webhooks.verify_signature(
                body, plain, secret=self.secret, tolerance=self.tolerance
            )
        except openai.InvalidWebhookSignatureError as exc:
            raise WebhookRejected(401, f"refused: {exc}") from None
        except ValueError as exc:  # a malformed header or body
            raise WebhookRejected(400, f"malformed delivery: {exc}") from None
        webhook_id = plain["webhook-id"]
        if webhook_id in self.seen:
            raise WebhookRejected(409, f"refused: webhook-id {webhook_id!r} was received before")
        try:
            event = loads(body)
        except ValueError as exc:
            raise WebhookRejected(400, f"body is not JSON: {exc}") from None
        return _delivery(webhook_id, int(plain["webhook-timestamp"]), event)


def _delivery(webhook_id: str, timestamp: int, event: Any) -> Delivery:
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise WebhookRejected(400, "body is not an event (no type)")
    event_type = event["type"]
    created = event.get("created_at")
    created_at = created if isinstance(created, int) and not isinstance(created, bool) else 0
    status = BATCH_EVENTS.get(event_type)
    if status is None:
        return Delivery(webhook_id, timestamp, event_type, created_at, None, None)
    data = event.get("data")
    batch_id = data.get("id") if isinstance(data, dict) else None
    if not isinstance(batch_id, str) or not batch_id:
        raise WebhookRejected(400, f"{event_type} event without data.id")
    return Delivery(webhook_id, timestamp, event_type, created_at, batch_id, status)


def status_only(batch_id: str, status: str, created_at: int, known: dict[str, Any] | None) -> Batch:
    """A batch for ``batch_id`` when it cannot be retrieved: the last snapshot
    (``known``, if any) with the webhook's status and final time, else the bare
    facts the event carries."""
    from tui.core.models import Batch

    raw: dict[str, Any] = dict(known or {})
    raw.setdefault("id", batch_id)
    raw.setdefault("created_at", created_at)
    raw["status"] = status
    raw[f"{status}_at"] = created_at or int(time.time())
    return Batch.from_dict(raw)
