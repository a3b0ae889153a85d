"""Tolerant reading of what services send back: one boundary, Batch.from_dict."""

from __future__ import annotations

from typing import Any

import pytest

from tui.core.models import Batch, FileInfo, count_of, seconds_of, status_of


def raw(**fields: Any) -> dict[str, Any]:
    return {"id": "batch_0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0", "status": "validating", **fields}


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (1704067200, 1704067200),
        (1704067200.7, 1704067200),
        ("1704067200", 1704067200),
        ("2024-01-01T00:00:00Z", 1704067200),
        ("2024-01-01T01:00:00+01:00", 1704067200),
        ("2024-01-01T00:00:00.123456Z", 1704067200),
        ("2024-01-01T00:00:00", 1704067200),  # no zone: UTC
        ("yesterday", None),
        ("", None),
        (None, None),
        (True, None),
        (float("nan"), None),
        ({"at": 1}, None),
    ],
)
def test_timestamps_become_seconds(value: Any, seconds: int | None) -> None:
    assert seconds_of(value) == seconds


def test_iso_timestamps_in_a_batch() -> None:
    batch = Batch.from_dict(
        raw(created_at="2024-01-01T00:00:00Z", completed_at="2024-01-01T00:10:00Z", expires_at="x")
    )
    assert batch.created_at == 1704067200
    assert batch.completed_at == 1704067800
    assert batch.expires_at is None
    assert batch.timestamps() == {"created_at": 1704067200, "completed_at": 1704067800}


@pytest.mark.parametrize(
    ("sent", "read", "final"),
    [
        ("COMPLETED", "completed", True),
        ("In_Progress", "in_progress", False),
        (" cancelled ", "cancelled", True),
        ("queued", "queued", False),  # unknown: as it is, not final
        ("PAUSED", "PAUSED", False),
        (None, "unknown", False),
        (7, "7", False),
    ],
)
def test_statuses_lowered_unknown_kept_and_not_final(sent: Any, read: str, final: bool) -> None:
    assert status_of(sent) == read
    batch = Batch.from_dict(raw(status=sent))
    assert batch.status == read
    assert batch.is_final is final


@pytest.mark.parametrize(
    "counts",
    [None, {}, {"total": None, "completed": None, "failed": None}, "n/a", {"total": "lots"}],
)
def test_null_missing_or_odd_request_counts_count_zero(counts: Any) -> None:
    batch = Batch.from_dict(raw(request_counts=counts))
    assert (batch.request_counts.total, batch.request_counts.done) == (0, 0)


def test_counts_as_strings_and_extra_fields_ignored() -> None:
    batch = Batch.from_dict(
        raw(
            request_counts={"total": "10", "completed": 4.0, "failed": -1},
            usage={"input_tokens": "5", "output_tokens": None, "total_tokens": 5},
            metadata=None,
            errors={"data": "none"},
            model=None,
            content_filter_results={"hate": "safe"},  # Azure's extra fields
            object="batch",
        )
    )
    assert batch.request_counts.total == 10
    assert batch.request_counts.completed == 4
    assert batch.request_counts.failed == 0
    assert batch.usage is not None and batch.usage.input_tokens == 5
    assert batch.metadata == {}
    assert batch.errors == ()
    assert batch.model is None


def test_snapshot_round_trip_unchanged() -> None:
    batch = Batch.from_dict(raw(status="COMPLETED", created_at="2024-01-01T00:00:00Z"))
    assert Batch.from_dict(batch.to_dict()) == batch


def test_count_of() -> None:
    assert [count_of(v) for v in (3, "3", None, True, "x", 2.5, float("inf"))] == [
        3,
        3,
        0,
        0,
        0,
        2,
        0,
    ]


def test_file_info_iso_dates() -> None:
    info = FileInfo.from_dict(
        {"id": "file-1", "created_at": "2024-01-01T00:00:00Z", "bytes": "12", "status": None}
    )
    assert (info.created_at, info.bytes, info.status) == (1704067200, 12, None)


def test_a_created_at_that_is_no_time_is_no_batch() -> None:
    """Optional timestamps that make no sense are dropped; the required one refuses
    the object (the client reports it as not a valid API object)."""
    with pytest.raises(ValueError, match="created_at 'soon' is not a time"):
        Batch.from_dict(raw(created_at="soon"))
    assert Batch.from_dict(raw(created_at=None)).created_at == 0
