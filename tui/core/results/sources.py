"""The data rows a batch was composed from, joined back to its results.

When the compose form builds a batch from the rows of a CSV, TSV, JSONL or text
file, :func:`record_source` keeps in the job (``extra["source"]``) the file's path
and the ``custom_id`` pattern. :func:`load_source` reads the file again and renders
the pattern for each row, exactly as compose did, so every ``custom_id`` finds its
row (also when the batch was split in parts, or numbered rows were skipped). The
export puts the row's columns beside the answer, as ``source.<column>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from tui.core.results.rows import NoResultsError

if TYPE_CHECKING:
    from tui.core.registry import Job, Registry
    from tui.core.submission import ComposeInputs


SOURCE_KEY = "source"
"""The key of the job's ``extra`` table that names its source file."""


class SourceTable(msgspec.Struct, frozen=True):
    """The rows of a source file by the ``custom_id`` compose gave each of them."""

    path: Path
    columns: tuple[str, ...]
    rows: dict[str, dict[str, str]]


def record_source(
    registry: Registry, jobs: Iterable[Job], rows_path: Path | None, id_pattern: str
) -> None:
    """Keep ``rows_path`` and ``id_pattern`` in each of ``jobs`` (the batches composed
    from its rows); nothing when the requests did not come from a rows file.

    Best effort: the batches are sent already, so a job that cannot be updated (gone
    from the registry, a disk error) is logged and left as it is; never raises."""
    if rows_path is None:
        return
    source = {"path": str(Path(rows_path).resolve()), "id_pattern": id_pattern}

    def with_source(job: Job) -> Job:
        from dataclasses import replace

        return replace(job, extra={**job.extra, SOURCE_KEY: source})

    for job in jobs:
        try:
            registry.modify(job.job_id, with_source)
        except (OSError, KeyError, ValueError) as exc:
            import logging  # here: logging costs ~5 ms at start-up, an index needs none

            logging.getLogger(__name__).warning(
                "could not record the source of job %s: %s", job.job_id, exc
            )


def record_compose_source(registry: Registry, jobs: Iterable[Job], inputs: ComposeInputs) -> None:
    """:func:`record_source` for the batches the compose form sent from ``inputs``."""
    rows_path = inputs.rows_path if inputs.source == "rows" else None
    record_source(registry, jobs, rows_path, inputs.id_pattern)


def source_of(job: Job | None) -> tuple[Path, str] | None:
    """The recorded source file and ``custom_id`` pattern of ``job``, if any."""
    source = job.extra.get(SOURCE_KEY) if job is not None else None
    if not isinstance(source, dict):
        return None
    path, pattern = source.get("path"), source.get("id_pattern")
    if not isinstance(path, str) or not isinstance(pattern, str) or not path or not pattern:
        return None
    return Path(path), pattern


def load_source(job: Job | None) -> SourceTable:
    """The rows of the file ``job`` was composed from, by ``custom_id``.

    :class:`NoResultsError` when the job records no source (it was not composed from
    a rows file, or before this was recorded) or the file cannot be read."""
    from tui.core.compose import ComposeError, Template, read_rows

    found = source_of(job)
    if found is None:
        batch = job.batch_id if job is not None else "this batch"
        raise NoResultsError(f"{batch} was not composed from a CSV or rows file here")
    path, pattern = found
    template = Template(pattern)
    rows: dict[str, dict[str, str]] = {}
    columns: dict[str, None] = {}
    try:
        for number, row in enumerate(read_rows(path), start=1):
            columns.update(dict.fromkeys(row))
            try:
                custom_id = template.render(row, number)
            except ComposeError:
                continue  # compose refused this row too: it has no request
            rows.setdefault(custom_id, row)
    except (OSError, ComposeError) as exc:
        raise NoResultsError(f"cannot read the source file {path}: {exc}") from exc
    return SourceTable(path, tuple(columns), rows)


def source_record(table: SourceTable, custom_id: str) -> dict[str, Any]:
    """``source.<column>`` of the row of ``custom_id`` (``None`` where it has none)."""
    row = table.rows.get(custom_id) or {}
    return {f"source.{name}": row.get(name) for name in table.columns}
