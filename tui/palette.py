"""The command palette's batchdeck commands (Ctrl+P): every action of the app.

:func:`deck_commands` yields Textual ``SystemCommand`` entries; the app adds them to
Textual's own (themes, keys, screenshot, quit) in ``get_system_commands``. Commands
for a screen that is not on top still work: they act on the batches screen below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.app import SystemCommand

from tui.core import poll
from tui.dialogs.batch_id_prompt import BatchIdPrompt
from tui.screen_commands import binding_commands

if TYPE_CHECKING:
    from textual.screen import Screen

    from tui.app import BatchDeckApp
    from tui.screens.batches import BatchesScreen


def _on_batches(app: BatchDeckApp, action: Callable[[BatchesScreen], Any]) -> Callable[[], None]:
    """A callback that runs ``action`` on the batches screen (brought to the top)."""

    def run() -> None:
        screen = app.batches_screen()
        if screen is None:
            return
        while app.screen is not screen and len(app.screen_stack) > 1:
            app.pop_screen()
        action(screen)

    return run


def deck_commands(app: BatchDeckApp, screen: Screen[Any]) -> Iterable[SystemCommand]:
    """batchdeck's commands for the palette."""
    yield SystemCommand(
        "Refresh batches", "Fetch the batches now", _on_batches(app, lambda s: s.action_refresh())
    )
    yield SystemCommand(
        "Open selected batch",
        "The batch inspector for the highlighted batch",
        app.action_open_selected,
    )
    yield SystemCommand(
        "Open results of selected batch",
        "Browse the highlighted batch's results",
        _on_batches(app, lambda s: s.action_open_results()),
    )
    yield SystemCommand(
        "Open results of batch…",
        "Type a batch id and browse its results",
        partial(_ask_results, app),
    )
    yield SystemCommand("Files", "All files: download, delete, upload", app.action_open_files)
    yield SystemCommand(
        "Queue",
        "Parts waiting for room under the token limit, budgets, job groups (u)",
        app.action_open_queue,
    )
    yield SystemCommand(
        "Compose a new batch", "Build, check and submit a request file", app.action_open_compose
    )
    yield SystemCommand(
        "Spend", "What batches cost, per day, model, tag, profile", app.action_open_spend
    )
    yield SystemCommand(
        "Filter by text",
        "Type to filter batches",
        _on_batches(app, lambda s: s.action_filter_text()),
    )
    for status in poll.STATUS_FILTERS:
        title = "Show all batches" if status == "all" else f"Show only {status} batches"
        yield SystemCommand(
            title,
            "Filter the batches by status",
            _on_batches(app, partial(_set_status, status=status)),
        )
    yield SystemCommand(
        "Toggle only my registry",
        "Show only batches in the local registry, or all",
        _on_batches(app, lambda s: s.action_toggle_mine()),
    )
    yield SystemCommand(
        "Mark batch",
        "Mark or unmark the highlighted batch (space); cancel acts on the marked ones",
        _on_batches(app, lambda s: s.action_toggle_mark()),
    )
    yield SystemCommand(
        "Expand or fold job group",
        "The parts of the highlighted job group in rows of their own, or one row (+)",
        _on_batches(app, lambda s: s.table.action_toggle_group()),
    )
    yield SystemCommand(
        "Cancel batches",
        "Cancel the marked batches, or the highlighted one (c); asks once",
        _on_batches(app, lambda s: s.action_cancel_batches()),
    )
    yield SystemCommand(
        "Clear filters", "Show every batch", _on_batches(app, lambda s: s.action_clear_filters())
    )
    for column in poll.SORT_COLUMNS:
        yield SystemCommand(
            f"Sort by {column}",
            "Order the batches (again to reverse: Reverse sort)",
            _on_batches(app, partial(_sort, column=column)),
        )
    yield SystemCommand(
        "Reverse sort", "Flip the order", _on_batches(app, lambda s: s.action_reverse_sort())
    )
    yield SystemCommand(
        "Toggle exact times",
        "Created as relative or exact time",
        _on_batches(app, lambda s: s.action_toggle_times()),
    )
    yield SystemCommand(
        "Fleet view: all profiles",
        "Every profile's batches in one table, and each profile's health (A; again: back)",
        app.action_toggle_fleet,
    )
    yield SystemCommand(
        "Switch profile", "Use another profile from config.toml", app.action_switch_profile
    )
    yield SystemCommand("Next theme", "Cycle through the themes", app.action_cycle_theme)
    yield SystemCommand(
        "Toggle bell", "Ring the terminal bell when a batch finishes", app.action_toggle_bell
    )
    yield SystemCommand("Help", "The keys that apply now", app.action_help)
    if getattr(screen, "PALETTE_GROUP", None):  # the screen's own keys, as commands
        for title, help_text, callback in binding_commands(screen):
            yield SystemCommand(title, help_text, callback)
    screen_commands = getattr(screen, "palette_commands", None)
    if callable(screen_commands):  # commands a screen has beyond its keys (results)
        yield from screen_commands()


def _ask_results(app: BatchDeckApp) -> None:
    def chosen(batch_id: str | None) -> None:
        if batch_id:
            app.open_results(batch_id)

    app.push_screen(BatchIdPrompt(), chosen)


def _set_status(screen: BatchesScreen, *, status: str) -> None:
    screen.set_status_filter(status)


def _sort(screen: BatchesScreen, *, column: str) -> None:
    screen.sort_by(column)
