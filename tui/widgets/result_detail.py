"""ResultDetail: one request beside its response.

The request (chat messages, responses input, prompt...) on the left; on the right
the answer rendered as Markdown (model text made printable first; Markdown links do
nothing when clicked), embeddings as dimensions and a preview, the error with its
code and message, or the full JSON of both lines on a toggle. Everything else is
``rich.text.Text``: nothing from a file is parsed as markup.
"""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Markdown, Static

from tui.core.results import ResultRow, describe_request, describe_response
from tui.core.text import one_line, printable

MAX_JSON_CHARS = 200_000  # a huge line (images) is cut when shown whole


def _pretty(value: Any, raw: bytes | None) -> str:
    """``value`` as indented JSON, or the raw line if it is not JSON; cut when huge."""
    if value is None:
        text = raw.decode("utf-8", "replace") if raw else "(none)"
    else:
        text = json.dumps(value, ensure_ascii=False, indent=2)
    if len(text) > MAX_JSON_CHARS:
        return text[:MAX_JSON_CHARS] + f"\n… ({len(text) - MAX_JSON_CHARS} more characters)"
    return text


def request_text(request: Any, raw: bytes | None, *, line: int) -> Text:
    """The request pane: each part under its heading, all literal."""
    out = Text()
    out.append(f"Request · input line {line}\n" if line else "Request\n", style="bold")
    if request is None:
        out.append(
            printable(_pretty(None, raw))
            if raw
            else "(not in the input file, or the input file is not available)",
            style="dim",
        )
        return out
    for heading, body in describe_request(request):
        out.append(f"\n{printable(heading)}\n", style="bold cyan")
        out.append(printable(body) + "\n")
    return out


class ResultDetail(Horizontal):
    """The detail pane; :meth:`show` fills it for one row."""

    DEFAULT_CSS = """
    ResultDetail > VerticalScroll { width: 1fr; padding: 0 1; }
    ResultDetail #detail-response-title { text-style: bold; }
    ResultDetail Markdown { padding: 0; margin: 0; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.show_json = False

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail-request"):
            yield Static(id="detail-request-text")
        with VerticalScroll(id="detail-response"):
            yield Static(id="detail-response-title")
            yield Markdown(id="detail-markdown", open_links=False)
            yield Static(id="detail-response-text")

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
        title = self.query_one("#detail-response-title", Static)
        markdown = self.query_one("#detail-markdown", Markdown)
        lines = self.query_one("#detail-response-text", Static)
        request_pane = self.query_one("#detail-request-text", Static)
        if self.show_json:
            request_pane.update(
                Text(printable(_pretty(request, request_raw)), no_wrap=False)
                if request_raw
                else Text("(no request line)", style="dim")
            )
            title.update(Text(f"Result · {one_line(where)}" if result_raw else "Result"))
            markdown.display = False
            lines.update(
                Text(printable(_pretty(result, result_raw)))
                if result_raw
                else Text("(no result line)", style="dim")
            )
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
            lines.update(Text(printable(result_raw.decode("utf-8", "replace")[:2000])))
            return
        view = describe_response(result)
        title.update(Text(f"{one_line(view.title)} · {one_line(where)}"))
        markdown.display = bool(view.markdown)
        if view.markdown:
            markdown.update(printable(view.markdown))
        lines.update(Text(printable("\n".join(view.lines))))

    def clear(self) -> None:
        self.query_one("#detail-request-text", Static).update("")
        self.query_one("#detail-response-title", Static).update("")
        self.query_one("#detail-markdown", Markdown).display = False
        self.query_one("#detail-response-text", Static).update("")
