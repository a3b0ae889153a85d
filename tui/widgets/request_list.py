"""RequestList: requests added one by one, each a ``custom_id`` and a body.

Adding a ``custom_id`` that is already in the list is refused unless it is the
request being edited, which it then replaces in place.
"""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from tui.core.compose import ComposeError
from tui.core.text import one_line


def summary(body: dict[str, Any]) -> str:
    """A short line about a body: its model and the start of its text."""
    text = json.dumps(
        {k: v for k, v in body.items() if k != "model"}, ensure_ascii=False, separators=(",", ":")
    )
    return f"{body.get('model', '?')}  {text}"


class RequestList(DataTable[Text]):
    """The requests composed one by one, in order."""

    DEFAULT_CSS = """
    RequestList { height: 1fr; min-height: 4; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def on_mount(self) -> None:
        self.add_columns("#", "custom_id", "Request")

    def put(self, custom_id: str, body: dict[str, Any], *, replacing: str | None = None) -> None:
        """Add a request, or replace ``replacing``; a duplicate id is a ComposeError."""
        if not custom_id:
            raise ComposeError("custom_id is empty")
        ids = [cid for cid, _ in self.requests]
        if custom_id in ids and custom_id != replacing:
            raise ComposeError(f"custom_id {custom_id!r} is already in the list")
        if replacing is not None and replacing in ids:
            self.requests[ids.index(replacing)] = (custom_id, body)
        else:
            self.requests.append((custom_id, body))
        self._redraw(select=custom_id)

    def drop(self, custom_id: str) -> None:
        """Take ``custom_id`` out of the list."""
        self.requests = [(cid, body) for cid, body in self.requests if cid != custom_id]
        self._redraw()

    def selected(self) -> tuple[str, dict[str, Any]] | None:
        """The request under the cursor."""
        if not self.requests or not 0 <= self.cursor_row < len(self.requests):
            return None
        return self.requests[self.cursor_row]

    def _redraw(self, select: str | None = None) -> None:
        self.clear()
        for number, (custom_id, body) in enumerate(self.requests, start=1):
            self.add_row(
                Text(str(number)),
                Text(one_line(custom_id, 40)),
                Text(one_line(summary(body), 200)),
                key=custom_id,
            )
        if select is not None:
            ids = [cid for cid, _ in self.requests]
            self.move_cursor(row=ids.index(select))

    def set_requests(self, requests: list[tuple[str, dict[str, Any]]]) -> None:
        """Replace the whole list (a reopened draft)."""
        self.requests = list(requests)
        self._redraw()
