"""The per-file limits of a request file (the API's by default): apart from the
rest of :mod:`tui.core.request_report` because every config read needs them (the
providers' presets), the app's start-up included.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_REQUESTS = 50_000
MAX_FILE_BYTES = 200_000_000
MAX_EMBEDDING_INPUTS = 50_000


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-file limits; the defaults are the API's. ``endpoints``: the batch endpoints
    the service offers (empty: every one of :data:`~tui.core.models.BATCH_ENDPOINTS`)."""

    max_requests: int = MAX_REQUESTS
    max_bytes: int = MAX_FILE_BYTES
    max_embedding_inputs: int = MAX_EMBEDDING_INPUTS
    endpoints: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("max_requests", "max_bytes", "max_embedding_inputs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


DEFAULT_LIMITS = Limits()
