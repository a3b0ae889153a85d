"""Plain data the rest of batchdeck works with, independent of the SDK's types.

Other servers speak dialects (ids like ``batch-...``, statuses that never reach
``finalizing``, counts that stay 0 until the end), so nothing here assumes more
than the schema: statuses are strings, most fields may be missing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui.core.registry_records import Job

TOKEN_METADATA_KEY = "batchdeck_token"
"""The metadata key of the client token batchdeck puts on the batches it submits."""
DESCRIPTION_METADATA_KEY = "description"
"""The metadata key other tools (the OpenAI dashboard) keep a batch's description in."""
_UPLOAD_PREFIX = re.compile(r"bd-[0-9a-f]{6,64}--(?=.)")
"""The submission token batchdeck puts before an uploaded file's name (tui.core.journal)."""
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
METADATA_MAX_PAIRS = 16
"""The API's limits on a batch's metadata: pairs, characters per key, per value."""
METADATA_MAX_KEY = 64
METADATA_MAX_VALUE = 512


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
    prefix = _UPLOAD_PREFIX.match(filename)
    return filename[prefix.end() :] if prefix else filename


@dataclass(frozen=True, slots=True)
class RequestCounts:
    total: int = 0
    completed: int = 0
    failed: int = 0

    @property
    def done(self) -> int:
        return self.completed + self.failed


@dataclass(frozen=True, slots=True)
class Usage:
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
        counts = raw.get("request_counts") or {}
        usage_raw = raw.get("usage")
        usage = None
        if usage_raw:
            in_details = usage_raw.get("input_tokens_details") or {}
            out_details = usage_raw.get("output_tokens_details") or {}
            usage = Usage(
                input_tokens=int(usage_raw.get("input_tokens") or 0),
                cached_tokens=int(
                    usage_raw.get("cached_tokens") or in_details.get("cached_tokens") or 0
                ),
                output_tokens=int(usage_raw.get("output_tokens") or 0),
                reasoning_tokens=int(
                    usage_raw.get("reasoning_tokens") or out_details.get("reasoning_tokens") or 0
                ),
                total_tokens=int(usage_raw.get("total_tokens") or 0),
            )
        errors_raw = raw.get("errors") or ()
        if isinstance(errors_raw, dict):
            errors_raw = errors_raw.get("data") or ()
        errors = tuple(
            BatchErrorItem(
                code=e.get("code"),
                message=e.get("message"),
                param=e.get("param"),
                line=e.get("line"),
            )
            for e in errors_raw
            if isinstance(e, dict)
        )
        metadata = raw.get("metadata") or {}
        return cls(
            id=str(raw["id"]),
            status=str(raw.get("status") or "unknown"),
            endpoint=str(raw.get("endpoint") or ""),
            input_file_id=str(raw.get("input_file_id") or ""),
            created_at=int(raw.get("created_at") or 0),
            completion_window=str(raw.get("completion_window") or "24h"),
            model=raw.get("model"),
            output_file_id=raw.get("output_file_id"),
            error_file_id=raw.get("error_file_id"),
            in_progress_at=raw.get("in_progress_at"),
            finalizing_at=raw.get("finalizing_at"),
            completed_at=raw.get("completed_at"),
            failed_at=raw.get("failed_at"),
            expired_at=raw.get("expired_at"),
            cancelling_at=raw.get("cancelling_at"),
            cancelled_at=raw.get("cancelled_at"),
            expires_at=raw.get("expires_at"),
            request_counts=RequestCounts(
                total=int(counts.get("total") or 0),
                completed=int(counts.get("completed") or 0),
                failed=int(counts.get("failed") or 0),
            ),
            usage=usage,
            metadata={str(k): str(v) for k, v in metadata.items()},
            errors=errors,
        )


@dataclass(frozen=True, slots=True)
class FileInfo:
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
            bytes=int(raw.get("bytes") or 0),
            created_at=int(raw.get("created_at") or 0),
            expires_at=raw.get("expires_at"),
            status=raw.get("status"),
        )
