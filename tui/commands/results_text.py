"""``batchdeck results BATCH`` when stdout is not a terminal (``| head``, ``> file``)
or with ``--json``: the joined rows printed, never the full-screen app.

Text: a header, then one tab-separated line per request, in input order:
``CUSTOM_ID OUTCOME STATUS TOKENS ANSWER`` (for a request that did not succeed, what
went wrong in place of the answer), then ``request.<field>`` for each
``--field``. Every value is on one line with control characters, tabs and newlines
escaped (:func:`tui.core.text.one_line`). ``--json``: one JSON object per row, the
same records as ``--export FILE.jsonl`` (:func:`tui.core.results.export_records`).

Rows are written as they are made; a reader that goes away (``| head``) ends the
command quietly (the caller's ``guarded`` handles the broken pipe).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui.core.results import ResultIndex

TEXT_HEADERS = ("CUSTOM_ID", "OUTCOME", "STATUS", "TOKENS", "ANSWER")


def print_rows(index: ResultIndex, fields: Sequence[str] = (), *, json_lines: bool) -> int:
    """Write every row of ``index`` to stdout (text or JSON lines); the row count."""
    from tui.core.results import export_records

    out = sys.stdout.buffer
    count = 0
    if json_lines:
        import msgspec

        encoder = msgspec.json.Encoder()
        for record in export_records(index, fields):
            out.write(encoder.encode(record) + b"\n")
            count += 1
    else:
        out.write(_line([*TEXT_HEADERS, *(f"request.{name}" for name in fields)]))
        for record in export_records(index, fields):
            out.write(_line(_text_cells(record, fields)))
            count += 1
    out.flush()
    return count


def _text_cells(record: dict[str, Any], fields: Sequence[str]) -> list[str]:
    if record["answer"] is not None:
        answer = record["answer"]
    else:  # what went wrong: the message, else the code, else the index's note
        answer = record["error_message"] or record["error_code"] or record["note"]
    return [
        record["custom_id"],
        record["outcome"],
        _cell(record["status_code"]),
        _cell(record["total_tokens"]),
        _cell(answer),
        *(_cell(record[f"request.{name}"]) for name in fields),
    ]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, ensure_ascii=False)


def _line(cells: Sequence[str]) -> bytes:
    from tui.core.text import one_line

    return ("\t".join(one_line(cell) for cell in cells) + "\n").encode("utf-8", "replace")
