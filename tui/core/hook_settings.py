"""The ``[hooks]`` table of ``config.toml``: what :mod:`tui.core.hooks` does when a
batch calls for a notification. Apart from the rest of the hooks (the events, the
delivery and their imports) because every config read needs it, the app's start-up
included.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui.core.poll import EXPIRY_WARNING, FINALIZING_LIMIT, VALIDATING_LIMIT

DEFAULT_TIMEOUT = 30.0
TERMINAL_CHOICES = ("osc9", "osc777")


@dataclass(frozen=True)
class HookSettings:
    """The ``[hooks]`` table. Every way is off by default."""

    on_final: tuple[str, ...] = ()  # argv of the command run for every event
    on_alert: tuple[str, ...] | None = None  # for stuck/expiry alerts; None: on_final
    timeout: float = DEFAULT_TIMEOUT
    terminal: tuple[str, ...] = ()  # of TERMINAL_CHOICES
    desktop: bool = False
    # The same thresholds as the batches screen's flags (tui.core.poll.flags):
    stuck_validating: float = VALIDATING_LIMIT  # alert when validating longer than this
    stuck_finalizing: float = FINALIZING_LIMIT  # ... finalizing longer than this
    expiry_warning: float = EXPIRY_WARNING  # ... not final this close to expires_at
    final_within: float = 86400.0  # a batch final for longer than this is old news

    @property
    def active(self) -> bool:
        """Whether any way of notifying is on."""
        return bool(self.on_final or self.on_alert or self.terminal or self.desktop)

    def command_for(self, kind: str) -> tuple[str, ...]:
        if kind != "final" and self.on_alert is not None:
            return self.on_alert
        return self.on_final
