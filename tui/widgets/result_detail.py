"""ResultDetail: one request beside its response.

The request (chat messages, responses input, prompt...) on the left; on the right
the answer rendered as Markdown (model text made printable first; Markdown links do
nothing when clicked), embeddings as dimensions and a preview, the error with its
code and message, or the JSON of both lines on a toggle. Everything else is
``rich.text.Text``: nothing from a file is parsed as markup.

Each side shows at most :data:`PANE_CHARS` characters at once, and only the first
:data:`MARKDOWN_LINES` lines of an answer become Markdown, the rest plain text (a
10 MB answer parsed as Markdown froze the app for seconds and took hundreds of MB:
Textual makes a widget of each block); a note says what was cut. ``v`` (with the
pane focused) writes everything, uncut, to a private file in a worker thread and
opens it in the pager (``$PAGER``, else ``less`` or ``more``) with the app
suspended; where the app cannot be suspended, a notification gives the file's path.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Markdown, Static

from tui.core.results import ResultRow, cut_texts, describe_request, describe_response
from tui.core.text import one_line, printable

PANE_CHARS = 16_384  # of each side rendered at once (wrapping text costs ~10 µs a character)
MARKDOWN_LINES = 60  # of an answer rendered as Markdown (a widget per block, ~10 ms each)
PRETTY_BYTES = 1 << 20  # a longer line is shown as it is in the file, not re-indented
NOTE_STYLE = "bold yellow"


class Shown(NamedTuple):
    """The row the pane shows and its lines (kept for the uncut view)."""

    row: ResultRow
    request: Any
    request_raw: bytes | None
    result: Any
    result_raw: bytes | None
    where: str


def cut_note(shown: int, total: int, unit: str = "characters") -> str:
    return f"Showing the first {shown:,} of {total:,} {unit}: press v to read it all in a pager."


def split_lines(text: str, count: int) -> tuple[str, str]:
    """The first ``count`` lines of ``text`` and the rest."""
    end = -1
    for _ in range(count):
        end = text.find("\n", end + 1)
        if end < 0:
            return text, ""
    return text[: end + 1], text[end + 1 :]


def full_json(value: Any, raw: bytes | None) -> str:
    """``value`` as indented JSON, or the raw line if it is not JSON."""
    if value is None:
        return raw.decode("utf-8", "replace") if raw else "(none)"
    return json.dumps(value, ensure_ascii=False, indent=2)


def _pretty(value: Any, raw: bytes | None) -> tuple[str, str]:
    """:func:`full_json` cut to :data:`PANE_CHARS`, and a note if it was cut. A line
    over :data:`PRETTY_BYTES` is not re-indented: its start is shown as it is."""
    if raw is not None and len(raw) > PRETTY_BYTES:
        text = raw[: PANE_CHARS * 4].decode("utf-8", "replace")[:PANE_CHARS]
        shown = len(text.encode())
        return text, cut_note(shown, len(raw), "bytes of the line, as it is in the file")
    text = full_json(value, raw)
    if len(text) > PANE_CHARS:
        return text[:PANE_CHARS], cut_note(PANE_CHARS, len(text))
    return text, ""


def request_text(request: Any, raw: bytes | None, *, line: int, whole: bool = False) -> Text:
    """The request pane: each part under its heading, all literal; at most
    :data:`PANE_CHARS` characters of it unless ``whole``."""
    out = Text()
    out.append(f"Request · input line {line}\n" if line else "Request\n", style="bold")
    if request is None:
        if not raw:
            out.append("(not in the input file, or the input file is not available)", style="dim")
            return out
        text, note = (full_json(None, raw), "") if whole else _pretty(None, raw)
        if note:
            out.append(note + "\n", style=NOTE_STYLE)
        out.append(printable(text), style="dim")
        return out
    parts = describe_request(request)
    bodies = [body for _, body in parts]
    if not whole:
        bodies, total = cut_texts(bodies, PANE_CHARS)
        if total > PANE_CHARS:
            out.append(cut_note(PANE_CHARS, total) + "\n", style=NOTE_STYLE)
    for (heading, _), body in zip(parts, bodies, strict=False):
        out.append(f"\n{printable(heading)}\n", style="bold cyan")
        out.append(printable(body) + "\n")
    return out


def all_text(shown: Shown, *, as_json: bool) -> str:
    """Both lines of ``shown`` uncut, as plain printable text (what the pager shows)."""
    if as_json:
        request = full_json(shown.request, shown.request_raw) if shown.request_raw else "(none)"
        result = full_json(shown.result, shown.result_raw) if shown.result_raw else "(none)"
        return printable(f"Request\n{request}\n\nResult · {shown.where}\n{result}\n")
    request = request_text(
        shown.request, shown.request_raw, line=shown.row.input_line, whole=True
    ).plain
    if shown.result_raw is None:
        response = f"{shown.row.label}: no result line in any file"
    elif shown.result is None:
        response = full_json(None, shown.result_raw)
    else:
        view = describe_response(shown.result)
        response = "\n\n".join(part for part in (view.markdown, "\n".join(view.lines)) if part)
        response = f"{view.title}\n\n{response}"
    return f"{request}\n\nResult · {printable(shown.where)}\n{printable(response)}\n"


def open_in_pager(app: App[Any], path: Path) -> bool:
    """Show ``path`` in the user's pager, the app suspended meanwhile; False where
    that cannot be done (no pager, or a terminal the app cannot hand over)."""
    import shlex
    import subprocess

    from textual.app import SuspendNotSupported

    try:
        command = shlex.split(os.environ.get("PAGER", ""))
    except ValueError:
        command = []
    if not command:
        found = shutil.which("less") or shutil.which("more")
        if found is None:
            return False
        command = [found]
    try:
        with app.suspend():
            subprocess.run([*command, str(path)], check=False)
    except (SuspendNotSupported, OSError, RuntimeError):
        return False
    return True


def write_private_text(text: str) -> Path:
    """``text`` in a new file only its owner can read; returns its path."""
    fd, name = tempfile.mkstemp(prefix="batchdeck-result-", suffix=".txt")
    with open(fd, "w", encoding="utf-8", errors="replace") as handle:
        handle.write(text)
    return Path(name)


class ResultDetail(Horizontal):
    """The detail pane; :meth:`show` fills it for one row."""

    DEFAULT_CSS = """
    ResultDetail > VerticalScroll { width: 1fr; padding: 0 1; }
    ResultDetail #detail-response-title { text-style: bold; }
    ResultDetail #detail-response-note { color: $warning; }
    ResultDetail Markdown { padding: 0; margin: 0; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("v", "view_all", "View all", id="results.view_all", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.show_json = False
        self._preparing = False  # v's text is being written
        self.shown: Shown | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail-request"):
            yield Static(id="detail-request-text")
        with VerticalScroll(id="detail-response"):
            yield Static(id="detail-response-title")
            yield Static(id="detail-response-note")
            yield Markdown(id="detail-markdown", open_links=False)
            yield Static(id="detail-response-text")

    def on_mount(self) -> None:
        self.query_one("#detail-response-note", Static).display = False

    def show(
        self,
        row: ResultRow,
        request: Any,
        request_raw: bytes | None,
        result: Any,
        result_raw: bytes | None,
        where: str,
    ) -> None:
        """Fill both panes for ``row`` (its lines already read and decoded)."""
        self.shown = Shown(row, request, request_raw, result, result_raw, where)
        title = self.query_one("#detail-response-title", Static)
        markdown = self.query_one("#detail-markdown", Markdown)
        lines = self.query_one("#detail-response-text", Static)
        request_pane = self.query_one("#detail-request-text", Static)
        self._note("")
        if self.show_json:
            if request_raw:
                text, note = _pretty(request, request_raw)
                pane = Text()
                if note:
                    pane.append(note + "\n", style=NOTE_STYLE)
                pane.append(printable(text))
                request_pane.update(pane)
            else:
                request_pane.update(Text("(no request line)", style="dim"))
            title.update(Text(f"Result · {one_line(where)}" if result_raw else "Result"))
            markdown.display = False
            if result_raw:
                text, note = _pretty(result, result_raw)
                self._note(note)
                lines.update(Text(printable(text)))
            else:
                lines.update(Text("(no result line)", style="dim"))
            return
        request_pane.update(request_text(request, request_raw, line=row.input_line))
        if result_raw is None:
            title.update(
                Text(f"{one_line(row.label)}: no result line in any file", style="bold yellow")
            )
            markdown.display = False
            lines.update(Text("The request was never answered (missing).", style="dim"))
            return
        if result is None:
            title.update(Text(f"{one_line(where)}: not valid JSON", style="bold red"))
            markdown.display = False
            text, note = _pretty(None, result_raw)
            self._note(note)
            lines.update(Text(printable(text)))
            return
        view = describe_response(result, limit=PANE_CHARS)
        title.update(Text(f"{one_line(view.title)} · {one_line(where)}"))
        head, rest = split_lines(view.markdown, MARKDOWN_LINES)
        notes = [cut_note(PANE_CHARS, view.full_chars)] if view.full_chars else []
        if rest:
            notes.append(
                f"The first {MARKDOWN_LINES} lines are shown as Markdown, the rest as text."
            )
        self._note("\n".join(notes))
        markdown.display = bool(head)
        if head:
            markdown.update(printable(head))
        lines.update(Text(printable("\n".join([rest, *view.lines] if rest else view.lines))))

    def _note(self, note: str) -> None:
        widget = self.query_one("#detail-response-note", Static)
        widget.update(Text(note))
        widget.display = bool(note)

    def clear(self) -> None:
        self.shown = None
        self.query_one("#detail-request-text", Static).update("")
        self.query_one("#detail-response-title", Static).update("")
        self._note("")
        self.query_one("#detail-markdown", Markdown).display = False
        self.query_one("#detail-response-text", Static).update("")

    # -- everything, uncut ----------------------------------------------------------

    def action_view_all(self) -> None:
        """Both lines of the shown row, uncut, in the pager (prepared off the event loop)."""
        if self.shown is None:
            self.notify("Choose a row first.", markup=False)
            return
        if self._preparing:
            return  # the text is being written: the pager opens when it is
        self._preparing = True
        self._write_all(self.shown, self.show_json)

    @dataclass
    class Written(Message, bubble=False):
        """The shown row's text is in ``path``, ready for the pager."""

        path: Path

    @dataclass
    class WriteFailed(Message, bubble=False):
        """The shown row's text could not be written."""

        error: OSError

    @work(group="result-detail-all")
    async def _write_all(self, shown: Shown, as_json: bool) -> None:
        """Write the text in a thread; the handlers page it or say why not."""

        def write() -> Path:
            return write_private_text(all_text(shown, as_json=as_json))

        try:
            path = await asyncio.to_thread(write)
        except OSError as exc:
            self.post_message(self.WriteFailed(exc))
            return
        finally:
            self._preparing = False
        if not self.post_message(self.Written(path)):  # the pane went meanwhile: no pager
            path.unlink(missing_ok=True)

    def on_result_detail_written(self, message: Written) -> None:
        self._page(message.path)

    def on_result_detail_write_failed(self, message: WriteFailed) -> None:
        self.notify(f"Cannot write the text: {message.error}", severity="error", markup=False)

    def _page(self, path: Path) -> None:
        if open_in_pager(self.app, path):
            path.unlink(missing_ok=True)
            return
        self.notify(f"No pager can run here; the full text is in {path}", timeout=30, markup=False)
