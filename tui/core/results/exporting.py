"""Writing what an index holds to new files, atomically: :func:`export` (CSV or
JSONL, one record per row) and :func:`write_retry_file` (the requests of the chosen
:data:`RETRY_GROUPS`, byte for byte)."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec

from tui.core.results.describe import describe_result
from tui.core.results.index import LineReader, ResultIndex
from tui.core.results.rows import ANSWERED, RETRYABLE, NoResultsError, Outcome, ResultRow
from tui.core.results.sources import SourceTable, source_record

EXPORT_FORMATS = {".csv": "csv", ".jsonl": "jsonl"}
EXPORT_COLUMNS = (
    "custom_id",
    "outcome",
    "status_code",
    "error_code",
    "error_message",
    "answer",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "batch_id",
    "note",
)


def export_format(path: Path | str) -> str:
    """``csv`` or ``jsonl`` from a file name's extension; ``ValueError`` otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in EXPORT_FORMATS:
        raise ValueError(
            f"cannot tell the export format from {str(path)!r}: use a name ending in .csv or .jsonl"
        )
    return EXPORT_FORMATS[suffix]


def _dig(value: Any, dotted: str) -> Any:
    """``value["a"]["b"][0]`` for ``"a.b.0"``; ``None`` where the path does not lead."""
    for part in dotted.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.lstrip("-").isdigit():
            position = int(part)
            value = value[position] if -len(value) <= position < len(value) else None
        else:
            return None
    return value


def export_records(
    index: ResultIndex,
    request_fields: Sequence[str] = (),
    source: SourceTable | None = None,
    rows: Sequence[ResultRow] | None = None,
) -> Iterator[dict[str, Any]]:
    """One dict per row, in the index's order: the columns of :data:`EXPORT_COLUMNS`
    plus ``request.<field>`` for each dotted path into the request line (e.g.
    ``body.model``, ``body.messages.0.content``), then ``source.<column>`` for each
    column of the rows the batch was composed from (``source``, joined by custom_id).
    ``rows`` (default: every row of the index) are the rows to write, e.g. those shown."""
    with LineReader(index) as reader:
        for row in index.rows if rows is None else rows:
            info = describe_result(reader.result(row)) if row.source >= 0 else None
            record: dict[str, Any] = {
                "custom_id": row.custom_id,
                "outcome": row.outcome.value,
                "status_code": row.status or None,
                "error_code": row.error_code or None,
                "error_message": (info.error_message if info else "") or None,
                "answer": info.answer if info and row.outcome in ANSWERED else None,
                "input_tokens": row.input_tokens,
                "output_tokens": row.output_tokens,
                "total_tokens": row.tokens,
                "batch_id": index.attempts[row.attempt].batch_id if row.source >= 0 else None,
                "note": row.note or None,
            }
            if request_fields:
                request = reader.request(row)
                for name in request_fields:
                    record[f"request.{name}"] = _dig(request, name)
            if source is not None:
                record.update(source_record(source, row.custom_id))
            yield record


def export(
    index: ResultIndex,
    destination: Path,
    request_fields: Sequence[str] = (),
    fmt: str = "",
    source: SourceTable | None = None,
    rows: Sequence[ResultRow] | None = None,
) -> int:
    """Write the joined rows to ``destination`` (CSV or JSONL, from its extension
    unless ``fmt`` says), atomically; returns the number of rows written. With
    ``source``, each row's source columns come after the answer's; ``rows`` picks the
    rows to write (see :func:`export_records`).

    In CSV, a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
    return gets a leading ``'``, so a spreadsheet shows model output such as
    ``=HYPERLINK(...)`` as text instead of running it as a formula (CSV injection).
    JSONL keeps every value exactly as it is."""
    import csv
    import io

    from tui.core.fsutil import atomic_file, export_mode

    fmt = fmt or export_format(destination)
    count = 0
    with atomic_file(Path(destination), export_mode()) as handle:
        if fmt == "jsonl":
            encoder = msgspec.json.Encoder()
            for record in export_records(index, request_fields, source, rows):
                handle.write(encoder.encode(record) + b"\n")
                count += 1
            return count
        text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
        writer = csv.writer(text)
        writer.writerow(
            [
                *EXPORT_COLUMNS,
                *(f"request.{name}" for name in request_fields),
                *(f"source.{name}" for name in (source.columns if source else ())),
            ]
        )
        for record in export_records(index, request_fields, source, rows):
            writer.writerow([_csv_cell(value) for value in record.values()])
            count += 1
        text.flush()
        text.detach()
    return count


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> str:
    """A CSV cell: text defused against formulas (see :func:`export`), other values as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return f"'{value}" if value.startswith(_FORMULA_STARTS) else value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False)


class RetryFile(msgspec.Struct, frozen=True):
    """A new input file of the requests to run again."""

    path: Path
    count: int
    custom_ids: tuple[str, ...]


class RetryGroup(msgspec.Struct, frozen=True):
    """A kind of failed request a retry may send again; ``default``: whether it can
    succeed unchanged, so a retry includes it unless told otherwise."""

    key: str
    label: str
    default: bool


RETRY_GROUPS = (
    RetryGroup("429", "HTTP 429 (rate limited)", True),
    RetryGroup("5xx", "HTTP 5xx (server errors)", True),
    RetryGroup("expired", "not run (expired)", True),
    RetryGroup("cancelled", "not run (cancelled)", True),
    RetryGroup("missing", "missing (no result line)", True),
    RetryGroup("request_error", "other request errors", True),
    RetryGroup("4xx", "HTTP 4xx (refused: unchanged, fails again)", False),
)
"""Every group, in the order a dialog lists them."""

DEFAULT_RETRY = frozenset(group.key for group in RETRY_GROUPS if group.default)
"""What a retry sends unless told otherwise: what can succeed unchanged."""

_NOT_RUN_GROUPS = {Outcome.NOT_RUN_EXPIRED: "expired", Outcome.NOT_RUN_CANCELLED: "cancelled"}


def retry_group(row: ResultRow) -> str | None:
    """The key of the :data:`RETRY_GROUPS` entry of ``row``; ``None`` for a row a retry
    cannot send (answered, invalid, a duplicate or not in the input)."""
    if row.outcome not in RETRYABLE or row.input_line <= 0 or row.note == "duplicate":
        return None
    if row.outcome is Outcome.HTTP_ERROR:
        return "429" if row.status == 429 else "5xx" if row.status >= 500 else "4xx"
    if row.outcome is Outcome.MISSING:
        return "missing"
    return _NOT_RUN_GROUPS.get(row.outcome, "request_error")


def retry_counts(index: ResultIndex) -> dict[str, int]:
    """How many rows each retry group holds (every group, in :data:`RETRY_GROUPS` order)."""
    counts = {group.key: 0 for group in RETRY_GROUPS}
    for row in index.rows:
        key = retry_group(row)
        if key is not None:
            counts[key] += 1
    return counts


def retry_rows(index: ResultIndex, groups: Collection[str] = DEFAULT_RETRY) -> list[ResultRow]:
    """Requests whose latest outcome falls in one of ``groups`` (keys of
    :data:`RETRY_GROUPS`; by default what can succeed unchanged)."""
    return [row for row in index.rows if retry_group(row) in groups]


def write_retry_file(
    index: ResultIndex, destination: Path, groups: Collection[str] = DEFAULT_RETRY
) -> RetryFile:
    """Write the requests of the chosen retry ``groups`` (by default what can succeed
    unchanged: 429, 5xx, expired, cancelled, missing), their original lines byte for
    byte (same custom_ids and bodies), to ``destination`` atomically."""
    from tui.core.fsutil import atomic_file

    if index.input is None:
        raise NoResultsError("the batch's input file is not available, so nothing can be retried")
    rows = retry_rows(index, groups)
    if not rows:
        raise NoResultsError("no request in the chosen groups: nothing to retry")
    with LineReader(index) as reader, atomic_file(Path(destination)) as handle:
        for row in rows:
            raw = reader.request_bytes(row)
            if raw is not None:
                handle.write(raw + b"\n")
    return RetryFile(Path(destination), len(rows), tuple(row.custom_id for row in rows))
