"""Palette commands from a screen's own bindings.

A screen that sets ``PALETTE_GROUP`` gets, when the command palette is opened on it,
each of its bindings that applies now (``check_action`` does not say False) as a
command titled ``<PALETTE_GROUP>: <tooltip or description>`` (see
:func:`tui.palette.deck_commands`), so keyboard and palette reach the same actions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from textual.actions import parse
from textual.binding import Binding
from textual.screen import Screen


def binding_commands(screen: Screen[Any]) -> Iterator[tuple[str, str, Callable[[], object]]]:
    """(title, help, callback) for each described binding of ``screen`` that applies."""
    group = getattr(screen, "PALETTE_GROUP", "") or type(screen).__name__
    for item in screen.BINDINGS:
        if not isinstance(item, Binding) or not item.description:
            continue
        _, name, params = parse(item.action)
        if screen.check_action(name, params) is False:
            continue
        method = getattr(screen, f"action_{name}", None)
        if method is None:
            continue
        title = f"{group}: {item.tooltip or item.description}"
        keys = item.key_display or item.key.split(",")[0]
        yield title, f"key: {keys}", _caller(method, params)


def _caller(method: Callable[..., object], params: tuple[object, ...]) -> Callable[[], object]:
    def call() -> object:
        return method(*params)

    return call
