"""TransferProgress: a label and a progress bar for one upload or download.

Progress callbacks may come often (every chunk) and from any thread: they only
store numbers, and a timer paints them a few times a second. A worker starts and
ends a transfer by posting :class:`TransferProgress.Began` and
:class:`TransferProgress.Ended` to its screen, whose handlers call :meth:`begin`
and :meth:`end` (a worker never touches the widget after an ``await``).
"""

from __future__ import annotations

from dataclasses import dataclass
from time import monotonic

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import ProgressBar, Static

from tui.core.downloads import rate_line
from tui.core.text import one_line
from tui.core.throughput import Pace

PAINT_SECONDS = 0.1


class TransferProgress(Horizontal):
    """Hidden until :meth:`begin`; :meth:`report` is the client's progress callback."""

    DEFAULT_CSS = """
    TransferProgress {
        height: 1;
        display: none;
        padding: 0 1;
    }
    TransferProgress.-active {
        display: block;
    }
    TransferProgress #transfer-label {
        width: 1fr;
        height: 1;
    }
    TransferProgress ProgressBar {
        width: auto;
    }
    """

    @dataclass
    class Began(Message):
        """A transfer called ``label`` of ``total`` bytes (None: unknown) started."""

        label: str
        total: int | None

    @dataclass
    class Ended(Message):
        """The transfer is over (done, failed or given up)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._done = 0
        self._total: int | None = None
        self._label = ""
        self._pace = Pace()

    def compose(self) -> ComposeResult:
        yield Static("", id="transfer-label")
        yield ProgressBar(total=None, show_eta=False, id="transfer-bar")

    def on_mount(self) -> None:
        self.set_interval(PAINT_SECONDS, self._paint)

    @property
    def active(self) -> bool:
        return self.has_class("-active")

    def begin(self, label: str, total: int | None = None) -> None:
        """Show the bar for a new transfer called ``label`` (shown literally)."""
        self._label = one_line(label, 80)
        self._done, self._total = 0, total
        self._pace = Pace()
        self.add_class("-active")
        self._paint()

    def report(self, done: int, total: int | None) -> None:
        """Progress callback: ``done`` bytes of ``total`` (None if unknown)."""
        self._done, self._total = done, total
        self._pace.add(monotonic(), done)

    def end(self) -> None:
        """Hide the bar."""
        self.remove_class("-active")

    def _paint(self) -> None:
        if not self.active:
            return
        rate = rate_line(self._pace, self._done, self._total)
        label = f"{self._label} · {rate}" if rate else self._label
        self.query_one("#transfer-label", Static).update(Text(label))
        bar = self.query_one(ProgressBar)
        bar.update(total=self._total, progress=self._done)
