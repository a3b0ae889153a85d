"""Dialog: the frame every batchdeck dialog shares (a centred box, buttons on the right).

A dialog composes one ``Vertical`` (the box) holding its content, with its buttons in
a ``Horizontal`` at the bottom; its own ``DEFAULT_CSS`` sets only what differs (a
width, a border colour), and wins over this frame's.
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual.binding import BindingType
from textual.screen import ModalScreen

from tui.list_keys import LETTER_BINDINGS

ResultType = TypeVar("ResultType")


class Dialog(ModalScreen[ResultType]):
    """A modal screen in batchdeck's dialog frame."""

    BINDINGS: ClassVar[list[BindingType]] = [*LETTER_BINDINGS]  # g G j k move its lists

    DEFAULT_CSS = """
    Dialog {
        align: center middle;
    }
    Dialog > Vertical {
        width: 64;
        max-width: 95%;
        height: auto;
        border: thick $primary;
        background: $surface;
        padding: 1 2;
    }
    Dialog > Vertical > Horizontal {
        height: auto;
        margin-top: 1;
        align-horizontal: right;
    }
    Dialog > Vertical > Horizontal > Button {
        margin-left: 2;
    }
    """
