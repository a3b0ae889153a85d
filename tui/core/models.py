"""Plain data the rest of batchdeck works with, independent of the SDK's types.

Other servers speak dialects (ids like ``batch-...``, statuses that never reach
``finalizing``, counts that stay 0 until the end), so nothing here assumes more
than the schema: statuses are strings, most fields may be missing.

``from_dict`` is the one place where what services send back is made uniform:
ISO 8601 timestamps become Unix seconds, upper-case statuses are lowered, null or
missing ``request_counts`` count 0, extra fields are ignored and an unknown status
is kept as it is (and is not final, so a watch goes on until a final one comes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui.core.registry_records import Job

TOKEN_METADATA_KEY = "batchdeck_token"
"""The metadata key of the client token batchdeck puts on the batches it submits."""
DESCRIPTION_METADATA_KEY = "description"
"""The metadata key other tools (the OpenAI dashboard) keep a batch's description in."""
_UPLOAD_PREFIX = r"bd-[0-9a-f]{6,64}--(?=.)"
"""The submission token batchdeck puts before an uploaded file's name (tui.core.journal);
compiled by its first use (re's cache): a launch shows no file."""
FINAL_STATUSES = frozenset({"completed", "failed", "expired", "cancelled"})
BATCH_STATUSES = (
    "validating",
    "in_progress",
    "finalizing",
    "completed",
    "failed",
    "expired",
    "cancelling",
    "cancelled",
)
BATCH_ENDPOINTS = (
    "/v1/responses",
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/completions",
    "/v1/moderations",
    "/v1/images/generations",
    "/v1/images/edits",
    "/v1/videos",
)
TIMESTAMP_FIELDS = (
    "created_at",
    "in_progress_at",
    "finalizing_at",
    "completed_at",
    "failed_at",
    "expired_at",
    "cancelling_at",
    "cancelled_at",
    "expires_at",
)
MAX_REQUESTS = 50_000  # the API's per-file limits (tui.core.request_report.Limits)
MAX_FILE_BYTES = 200_000_000
MAX_EMBEDDING_INPUTS = 50_000
METADATA_MAX_PAIRS = 16
"""The API's limits on a batch's metadata: pairs, characters per key, per value."""
METADATA_MAX_KEY = 64
METADATA_MAX_VALUE = 512


def seconds_of(value: Any) -> int | None:
    """A timestamp as Unix seconds: a number, a string of digits, or an ISO 8601
    date-time (``2026-12-01T16:00:00Z``; no zone: UTC); None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return int(value) if value == value and abs(value) < 1e13 else None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def status_of(value: Any) -> str:
    """A known status in any case, lowered (``IN_PROGRESS``: ``in_progress``); an
    unknown one as the server sent it; none: ``unknown``."""
    if value is None or value == "":
        return "unknown"
    text = str(value)
    lowered = text.strip().lower()
    return lowered if lowered in BATCH_STATUSES else text


def count_of(value: Any) -> int:
    """A count the server sent (a number or a string of digits); else 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, float) and value == value and abs(value) < 1e18:
        return max(int(value), 0)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return 0


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def batch_description(batch: Batch | None, job: Job | None) -> str:
    """A batch's description: the registry job's, else ``metadata.description``."""
    if job is not None and job.description:
        return job.description
    if batch is None:
        return ""
    return batch.metadata.get(DESCRIPTION_METADATA_KEY, "")


def shown_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """The metadata a user set: without batchdeck's submission token."""
    return {key: value for key, value in metadata.items() if key != TOKEN_METADATA_KEY}


def display_filename(filename: str) -> str:
    """An uploaded file's name as its user chose it: without the ``bd-<token>--``
    prefix batchdeck adds to find the upload again after a crash."""
    prefix = re.match(_UPLOAD_PREFIX, filename)
    return filename[prefix.end() :] if prefix else filename


@dataclass(frozen=True, slots=True)
class RequestCounts:
    """A batch's ``request_counts``."""

    total: int = 0
    completed: int = 0
    failed: int = 0

    @property
    def done(self) -> int:
        return self.completed + self.failed


@dataclass(frozen=True, slots=True)
class Usage:
    """A batch's token ``usage``, summed over its requests."""

    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True, slots=True)
class BatchErrorItem:
    """One entry of ``batch.errors.data`` (a validation error)."""

    code: str | None = None
    message: str | None = None
    param: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Batch:
    """One batch as the server last described it (:meth:`from_dict` makes odd answers uniform)."""

    id: str
    status: str
    endpoint: str
    input_file_id: str
    created_at: int
    completion_window: str = "24h"
    model: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    in_progress_at: int | None = None
    finalizing_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    expired_at: int | None = None
    cancelling_at: int | None = None
    cancelled_at: int | None = None
    expires_at: int | None = None
    request_counts: RequestCounts = field(default_factory=RequestCounts)
    usage: Usage | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    errors: tuple[BatchErrorItem, ...] = ()
    __hash__ = None  # type: ignore[assignment]  # its metadata, a dict, is unhashable:
    # a generated __hash__ would always raise, and costs its definition at launch

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    def timestamps(self) -> dict[str, int]:
        """Every timestamp the server set, by field name, in lifecycle order."""
        out: dict[str, int] = {}
        for name in TIMESTAMP_FIELDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready snapshot (the registry keeps one for offline viewing)."""
        from dataclasses import asdict

        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Batch:
        """Build from an API object (SDK ``model_dump()``) or from :meth:`to_dict`."""
        counts = _mapping(raw.get("request_counts"))
        usage_raw = _mapping(raw.get("usage"))
        usage = None
        if usage_raw:
            in_details = _mapping(usage_raw.get("input_tokens_details"))
            out_details = _mapping(usage_raw.get("output_tokens_details"))
            usage = Usage(
                input_tokens=count_of(usage_raw.get("input_tokens")),
                cached_tokens=count_of(
                    usage_raw.get("cached_tokens") or in_details.get("cached_tokens")
                ),
                output_tokens=count_of(usage_raw.get("output_tokens")),
                reasoning_tokens=count_of(
                    usage_raw.get("reasoning_tokens") or out_details.get("reasoning_tokens")
                ),
                total_tokens=count_of(usage_raw.get("total_tokens")),
            )
        errors_raw = raw.get("errors") or ()
        if isinstance(errors_raw, Mapping):
            errors_raw = errors_raw.get("data") or ()
        if not isinstance(errors_raw, list | tuple):
            errors_raw = ()
        errors = tuple(
            BatchErrorItem(
                code=_text(e.get("code")),
                message=_text(e.get("message")),
                param=_text(e.get("param")),
                line=e.get("line") if isinstance(e.get("line"), int) else None,
            )
            for e in errors_raw
            if isinstance(e, Mapping)
        )
        metadata = _mapping(raw.get("metadata"))
        times = {name: seconds_of(raw.get(name)) for name in TIMESTAMP_FIELDS}
        if times["created_at"] is None and raw.get("created_at") not in (None, ""):
            # Required by the schema: a value that is no time at all is no batch.
            raise ValueError(f"created_at {str(raw['created_at'])[:40]!r} is not a time")
        return cls(
            id=str(raw["id"]),
            status=status_of(raw.get("status")),
            endpoint=str(raw.get("endpoint") or ""),
            input_file_id=str(raw.get("input_file_id") or ""),
            created_at=times.pop("created_at") or 0,
            completion_window=str(raw.get("completion_window") or "24h"),
            model=_text(raw.get("model")),
            output_file_id=_text(raw.get("output_file_id")),
            error_file_id=_text(raw.get("error_file_id")),
            **times,
            request_counts=RequestCounts(
                total=count_of(counts.get("total")),
                completed=count_of(counts.get("completed")),
                failed=count_of(counts.get("failed")),
            ),
            usage=usage,
            metadata={str(k): str(v) for k, v in metadata.items()},
            errors=errors,
        )


def _text(value: Any) -> str | None:
    """A string field: None stays None, anything else becomes its text."""
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One file of the Files API."""

    id: str
    filename: str
    purpose: str
    bytes: int
    created_at: int
    expires_at: int | None = None
    status: str | None = None

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> FileInfo:
        return cls(
            id=str(raw["id"]),
            filename=str(raw.get("filename") or ""),
            purpose=str(raw.get("purpose") or ""),
            bytes=count_of(raw.get("bytes")),
            created_at=seconds_of(raw.get("created_at")) or 0,
            expires_at=seconds_of(raw.get("expires_at")),
            status=_text(raw.get("status")),
        )
