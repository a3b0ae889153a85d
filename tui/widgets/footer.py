"""DeckFooter: Textual's Footer, composed again only when what it shows changed.

Textual's Footer removes and mounts all its keys again each time its screen's
bindings *may* have changed (a mount, a focus change, a refresh of the bindings):
at start-up that is four times before the first frame, about 30 ms of styling and
layout of widgets that look the same each time. This footer compares the keys it
would show (key, label, action, enabled, tooltip) with those it shows and does
nothing when they are equal.
"""

from __future__ import annotations

from textual.widgets import Footer


class DeckFooter(Footer):
    """The keys that apply now, as in Textual's Footer."""

    _shown: tuple[object, ...] | None = None  # what the last compose showed

    def _keys_shown(self) -> tuple[object, ...]:
        app = self.app
        active = list(self.screen.active_bindings.values())
        keys = [
            (binding.key, app.get_key_display(binding), binding.description, binding.action)
            for _node, binding, _enabled, _tooltip in active
        ]
        states = [(binding.show, binding.group, on, tip) for _, binding, on, tip in active]
        return (self.show_command_palette and app.ENABLE_COMMAND_PALETTE, keys, states)

    async def recompose(self) -> None:
        if not self.is_attached:
            return
        shown = self._keys_shown() if self._bindings_ready else None
        if shown is not None and shown == self._shown:
            return
        self._shown = shown
        await super().recompose()
