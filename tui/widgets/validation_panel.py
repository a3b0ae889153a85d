"""ValidationPanel: every problem of a batch file with its line, and the line itself.

The table lists :func:`tui.core.requests.validate`'s problems (line, code, message);
moving the cursor onto one jumps the viewer below to that line of the file, with a
line of context either side (read by byte offset, never the whole file). Everything
shown from the file is literal text.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from tui.core.requests import ValidationReport
from tui.core.text import one_line

SHOWN_BYTES = 400  # of each line in the viewer
CONTEXT = 1  # lines either side


def read_line(report: ValidationReport, line: int, limit: int = SHOWN_BYTES) -> str:
    """Line ``line`` of the report's file (cut at ``limit`` bytes), decoded leniently."""
    start, end = report.line_span(line)
    with open(Path(report.path), "rb") as handle:
        handle.seek(start)
        raw = handle.read(min(end - start, limit + 1))
    text = raw.rstrip(b"\r\n").decode("utf-8", "replace")
    return text[:limit] + ("…" if end - start > limit + 1 else "")


class ValidationPanel(Vertical):
    """The validation report of one file."""

    DEFAULT_CSS = """
    ValidationPanel { height: auto; }
    ValidationPanel #problems { height: auto; max-height: 12; }
    ValidationPanel #problem-line { height: auto; max-height: 8; padding: 0 1; }
    ValidationPanel #problems-summary { height: auto; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.report: ValidationReport | None = None
        self.row_note = ""

    def compose(self) -> ComposeResult:
        yield Static("Not checked yet (F5 checks).", id="problems-summary")
        table: DataTable[Text] = DataTable(id="problems", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("", id="problem-line")

    def on_mount(self) -> None:
        table = self.query_one("#problems", DataTable)
        table.add_columns("Line", "Code", "Problem")
        table.display = False

    def show(self, report: ValidationReport, *, rows_from: str = "") -> None:
        """Show ``report``; ``rows_from`` names the data file whose row N is line N."""
        self.report = report
        self.row_note = rows_from
        table: DataTable[Text] = self.query_one("#problems", DataTable)
        table.clear()
        for index, problem in enumerate(report.problems):
            line = "file" if problem.line is None else str(problem.line)
            table.add_row(
                Text(line),
                Text(one_line(problem.code)),
                Text(one_line(problem.message, 200)),
                key=str(index),
            )
        summary = Text()
        if report.ok:
            summary.append("✓ valid: ", style="bold green")
            summary.append(
                f"{report.request_count:,} requests, {report.bytes:,} bytes, "
                f"{one_line(report.endpoint or '')}, {one_line(report.model or '', 60)}"
            )
        else:
            style = "bold yellow" if report.only_limit_problems else "bold red"
            summary.append(f"{report.problem_count:,} problem(s)", style=style)
            summary.append(f" in {report.request_count:,} requests")
            if report.truncated:
                summary.append(f" (first {len(report.problems):,} listed)")
            if report.only_limit_problems:
                summary.append(" — over the limits: tick “split” to send it in parts")
        self.query_one("#problems-summary", Static).update(summary)
        self.query_one("#problem-line", Static).update("")
        table.display = bool(report.problems)
        if report.problems:
            self.jump_to_problem(0)

    def jump_to_problem(self, index: int) -> None:
        """Select problem ``index`` and show its line."""
        table: DataTable[Text] = self.query_one("#problems", DataTable)
        if 0 <= index < table.row_count:
            table.move_cursor(row=index)
            self._show_problem(index)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self._show_problem(int(event.row_key.value))

    def _show_problem(self, index: int) -> None:
        report = self.report
        if report is None or not 0 <= index < len(report.problems):
            return
        problem = report.problems[index]
        view = self.query_one("#problem-line", Static)
        if problem.line is None or problem.line > report.line_count:
            view.update(Text(one_line(str(problem), 500), style="dim"))
            return
        text = Text()
        note = f" (row {problem.line} of {self.row_note})" if self.row_note else ""
        text.append(f"line {problem.line}{note}\n", style="bold")
        first = max(1, problem.line - CONTEXT)
        last = min(report.line_count, problem.line + CONTEXT)
        for number in range(first, last + 1):
            style = "reverse" if number == problem.line else "dim"
            text.append(f"{number:>6} ", style="bold" if number == problem.line else "dim")
            text.append(one_line(read_line(report, number), SHOWN_BYTES), style=style)
            text.append("\n")
        view.update(text)
