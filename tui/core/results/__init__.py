"""Batch results: output and error files joined to their requests by ``custom_id``.

None of these modules imports Textual; the index part loads no asyncio.

- :mod:`~tui.core.results.rows`: :class:`ResultRow`, one request and what became of
  it (:class:`Outcome`);
- :mod:`~tui.core.results.columns`: the index's rows kept in columns (a few bytes a
  row), a :class:`ResultRow` made when read;
- :mod:`~tui.core.results.decoding`: result and input lines decoded fast into rows;
- :mod:`~tui.core.results.index`: :class:`ResultIndex` (the files streamed once and
  joined), :class:`LineReader` (one line by its byte offsets) and :func:`search`;
- :mod:`~tui.core.results.pieces`: a file read in pieces of whole lines, and
  :class:`Source` (where each line is);
- :mod:`~tui.core.results.worker`: pieces decoded, a big file's tail by a worker
  process on the other core;
- :mod:`~tui.core.results.describe`: a result or request from its JSON, as the
  detail pane and the export show it;
- :mod:`~tui.core.results.exporting`: :func:`export` (CSV or JSONL) and
  :func:`write_retry_file`;
- :mod:`~tui.core.results.sources`: the rows a batch was composed from
  (:func:`record_source`, :func:`load_source`), for the export;
- :mod:`~tui.core.results.store`: the files downloaded once into the data dir
  (:func:`fetch_results`, :func:`load_local`, :func:`open_attempts`).

The public names are re-exported here: import them from ``tui.core.results``. Each is
loaded when first used, so a process that indexes does not load the export or the store.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any


def _import_msgspec() -> None:
    """Import msgspec, without ``typing_extensions`` if nothing has loaded that yet.

    msgspec imports ``typing_extensions`` when it is installed, for ``get_type_hints``,
    ``Required`` and ``NotRequired``, which on Python 3.11+ are ``typing``'s own (with
    the ``include_extras=True`` msgspec passes); without it msgspec takes them from
    ``typing``. Loading it (and the ``inspect`` it imports) was ~10 ms of a headless
    index's ~60 ms of imports. Only while no other thread runs: another thread's
    import of ``typing_extensions`` would fail in the meantime.
    """
    if "msgspec" in sys.modules or "typing_extensions" in sys.modules:
        return
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        importlib.import_module("msgspec")
        return
    sys.modules["typing_extensions"] = None  # type: ignore[assignment]  # "not installed"
    try:
        importlib.import_module("msgspec")
    finally:
        del sys.modules["typing_extensions"]


_import_msgspec()

if TYPE_CHECKING:
    from tui.core.results.decoding import parse_result_line
    from tui.core.results.describe import (
        ResponseView,
        ResultInfo,
        answer_text,
        cut_texts,
        describe_request,
        describe_response,
        describe_result,
    )
    from tui.core.results.exporting import (
        DEFAULT_RETRY,
        EXPORT_COLUMNS,
        EXPORT_FORMATS,
        RETRY_GROUPS,
        RetryFile,
        RetryGroup,
        export,
        export_format,
        export_records,
        retry_counts,
        retry_group,
        retry_rows,
        write_retry_file,
    )
    from tui.core.results.index import (
        Attempt,
        IndexProgress,
        LineReader,
        ResultIndex,
        Source,
        search,
    )
    from tui.core.results.rows import (
        ANSWERED,
        OUTCOME_LABELS,
        RETRYABLE,
        NoResultsError,
        Outcome,
        ResultRow,
    )
    from tui.core.results.sources import (
        SourceTable,
        load_source,
        record_compose_source,
        record_source,
        source_of,
    )
    from tui.core.results.store import (
        MANIFEST,
        DownloadProgress,
        LocalResults,
        Opened,
        RetryLinks,
        fetch_results,
        load_local,
        open_attempts,
        results_dir,
        retries_of,
        retry_links,
        retry_path,
    )

# Where each public name lives; imported when first asked for (PEP 562).
_HOMES = {
    "parse_result_line": "decoding",
    "ResponseView": "describe",
    "ResultInfo": "describe",
    "answer_text": "describe",
    "cut_texts": "describe",
    "describe_request": "describe",
    "describe_response": "describe",
    "describe_result": "describe",
    "DEFAULT_RETRY": "exporting",
    "EXPORT_COLUMNS": "exporting",
    "EXPORT_FORMATS": "exporting",
    "RETRY_GROUPS": "exporting",
    "RetryFile": "exporting",
    "RetryGroup": "exporting",
    "export": "exporting",
    "export_format": "exporting",
    "export_records": "exporting",
    "retry_counts": "exporting",
    "retry_group": "exporting",
    "retry_rows": "exporting",
    "write_retry_file": "exporting",
    "Attempt": "index",
    "IndexProgress": "index",
    "LineReader": "index",
    "ResultIndex": "index",
    "Source": "index",
    "search": "index",
    "ANSWERED": "rows",
    "OUTCOME_LABELS": "rows",
    "RETRYABLE": "rows",
    "NoResultsError": "rows",
    "Outcome": "rows",
    "ResultRow": "rows",
    "SourceTable": "sources",
    "load_source": "sources",
    "record_compose_source": "sources",
    "record_source": "sources",
    "source_of": "sources",
    "MANIFEST": "store",
    "DownloadProgress": "store",
    "LocalResults": "store",
    "Opened": "store",
    "RetryLinks": "store",
    "fetch_results": "store",
    "load_local": "store",
    "open_attempts": "store",
    "results_dir": "store",
    "retries_of": "store",
    "retry_links": "store",
    "retry_path": "store",
}


def __getattr__(name: str) -> Any:
    module = _HOMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ANSWERED",
    "DEFAULT_RETRY",
    "EXPORT_COLUMNS",
    "EXPORT_FORMATS",
    "MANIFEST",
    "OUTCOME_LABELS",
    "RETRYABLE",
    "RETRY_GROUPS",
    "Attempt",
    "DownloadProgress",
    "IndexProgress",
    "LineReader",
    "LocalResults",
    "NoResultsError",
    "Opened",
    "Outcome",
    "ResponseView",
    "ResultIndex",
    "ResultInfo",
    "ResultRow",
    "RetryFile",
    "RetryGroup",
    "RetryLinks",
    "Source",
    "SourceTable",
    "answer_text",
    "cut_texts",
    "describe_request",
    "describe_response",
    "describe_result",
    "export",
    "export_format",
    "export_records",
    "fetch_results",
    "load_local",
    "load_source",
    "open_attempts",
    "parse_result_line",
    "record_compose_source",
    "record_source",
    "results_dir",
    "retries_of",
    "retry_counts",
    "retry_group",
    "retry_links",
    "retry_path",
    "retry_rows",
    "search",
    "source_of",
    "write_retry_file",
]
