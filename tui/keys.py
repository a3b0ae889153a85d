"""Typed letters belong to the field that has focus.

While a text field (Input, TextArea) or a select (closed or open) has focus, no
single-character binding of the app or of a screen fires: ``q`` in a select does not
quit, ``p`` does not open the profiles. Keys with a modifier, function keys, Enter and
Escape still work, and the widgets' own keys (space opening a select) are untouched.

The app wraps each event in :func:`holding` so that ``check_action`` (which Textual
calls with the action only) can ask :func:`letter_blocked` about the key in hand.
The key lives in a context variable (other tasks, such as the footer's, never see
it) *and* counts only while its handling lasts: tasks started during the handling
(the widgets of a screen that ``n`` opened) copy the variable, and without the
check they would go on seeing ``n`` in hand for good (an empty footer).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from contextvars import ContextVar

from textual import events
from textual.widget import Widget
from textual.widgets import Input, Select

_key_in_hand: ContextVar[events.Key | None] = ContextVar("batchdeck_key_in_hand", default=None)
_handling: set[int] = set()  # ids of the key events whose handling has not ended


def typing_target(focused: Widget | None) -> bool:
    """True when ``focused`` takes typed characters: a text field, or a select or its
    open list."""
    if focused is None:
        return False
    return (
        isinstance(focused, Input)
        or _text_area(focused)
        or any(isinstance(node, Select) for node in focused.ancestors_with_self)
    )


def _text_area(widget: Widget) -> bool:
    """``isinstance(widget, TextArea)`` without importing TextArea (4 ms before the
    first frame, which has none): no TextArea exists before its module is loaded."""
    module = sys.modules.get("textual.widgets._text_area")
    return module is not None and isinstance(widget, module.TextArea)


def single_character(event: events.Key) -> bool:
    """A key that types one visible character (``q``, ``T``, ``/``), no modifier."""
    character = event.character
    return (
        character is not None
        and len(character) == 1
        and character.isprintable()
        and not character.isspace()
    )


@contextlib.contextmanager
def holding(event: events.Event) -> Iterator[None]:
    """While ``event`` (a key) is being handled, :func:`letter_blocked` can see it."""
    if not isinstance(event, events.Key):
        yield
        return
    token = _key_in_hand.set(event)
    _handling.add(id(event))
    try:
        yield
    finally:
        _handling.discard(id(event))
        _key_in_hand.reset(token)


def letter_blocked(focused: Widget | None) -> bool:
    """True when the key being handled types a character into the focused field, so
    an app or screen binding on it must not fire."""
    key = _key_in_hand.get()
    return (
        key is not None
        and id(key) in _handling
        and single_character(key)
        and typing_target(focused)
    )
