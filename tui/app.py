"""BatchDeckApp: the Textual application, built by :func:`make_app`.

The shell: a header with the active profile and its server, a footer with the keys
that apply now, F1 help built from the live bindings, the command palette (every
action, see :mod:`tui.palette`), a profile switcher and Textual's themes (the choice
is kept in ``config.toml`` when there is one). Screens other than the batches list
are imported when first opened.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, work
from textual.app import App
from textual.binding import Binding
from textual.notifications import SeverityLevel

from tui.core.client import BatchClient
from tui.core.config import Config, Profile
from tui.core.registry import Registry
from tui.core.text import printable
from tui.keys import holding, letter_blocked

if TYPE_CHECKING:
    from collections.abc import Iterable

    from textual.app import SystemCommand
    from textual.screen import Screen
    from textual.theme import Theme


def styles_dir() -> Path:
    """The ``.tcss`` files: inside the package when installed from a wheel,
    beside it (the repository's ``styles/``) in an editable install."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "styles", package.parent / "styles"):
        if (candidate / "app.tcss").is_file():
            return candidate
    raise FileNotFoundError(f"batchdeck's styles are missing (looked in {package})")


class BatchDeckApp(App[int]):
    """The batchdeck terminal app."""

    TITLE = "batchdeck"
    BINDINGS = [
        Binding("f1", "help", "Help", id="app.help"),
        Binding("f", "open_files", "Files", id="app.files"),
        Binding("n", "open_compose", "Compose", id="app.compose", show=False),
        Binding("p", "switch_profile", "Profile", id="app.profile", show=False),
        Binding("T", "cycle_theme", "Next theme", id="app.theme", show=False),
        Binding("b", "toggle_bell", "Bell on finish", id="app.bell", show=False),
        Binding("q", "quit", "Quit", id="quit"),
    ]

    def __init__(
        self, config: Config, client: BatchClient, registry: Registry, profile: Profile
    ) -> None:
        super().__init__(css_path=[styles_dir() / "app.tcss"])
        self.config = config
        self.client = client
        self.registry = registry
        self.profile = profile
        self.bell_enabled = bool(config.settings.get("bell", False))
        self.sub_title = f"{profile.name} · {profile.host()}"
        saved = config.settings.get("theme")
        if isinstance(saved, str) and saved in self.available_themes:
            self.theme = saved

    async def prepare_client(self) -> None:
        """Load the SDK off the event loop, then freeze what exists by then (modules
        above all: the SDK, pydantic, Textual) out of the cyclic GC, once per
        process: they live as long as the app, and otherwise the next full
        collection walks them all, a pause of ~80 ms in the middle of the first
        listing. (A process-wide choice, so the app makes it, not the client.)"""
        import gc

        await self.client.prepare()
        if gc.get_freeze_count() == 0:
            gc.freeze()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every notification is plain text with control characters escaped: they
        often quote servers, files or models. (``markup`` is accepted and ignored.)"""
        super().notify(
            printable(message),
            title=printable(title),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    async def on_event(self, event: events.Event) -> None:
        with holding(event):  # check_action sees the key in hand (tui.keys)
            await super().on_event(event)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not letter_blocked(self.focused)  # letters go to a focused field

    def on_mount(self) -> None:
        from tui.screens.batches import BatchesScreen

        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self.push_screen(BatchesScreen())
        self.call_after_refresh(self.reconcile_submissions)  # after the first frame

    @work(exclusive=True, group="reconcile")
    async def reconcile_submissions(self) -> None:
        """Settle submits a crash or a lost connection left unfinished."""
        import asyncio
        import logging

        from tui.core.errors import ApiError
        from tui.core.journal import Journal

        try:
            await asyncio.to_thread(self.registry.load)  # 10,000 jobs: not on the event loop
            settled = await Journal(self.registry, self.client, self.profile).reconcile()
        except ApiError as exc:
            self.notify(
                f"Could not check unfinished submissions: {exc.message}",
                severity="warning",
                markup=False,
            )
            return
        except Exception as exc:  # last resort (a registry or lock error): the app goes on
            logging.getLogger(__name__).exception("reconciling submissions failed")
            self.notify(
                f"Could not check unfinished submissions: {type(exc).__name__}: {exc}",
                severity="warning",
                markup=False,
            )
            return
        for item in settled:
            where = f" as {item.batch_id}" if item.batch_id else ""
            self.notify(
                f"Interrupted submission {item.job_id}: {item.outcome}{where} ({item.detail})",
                severity="error" if item.outcome == "failed" else "information",
                markup=False,
            )

    async def on_unmount(self) -> None:
        self.registry.save_cache()
        await self.client.close()

    # -- the command palette -------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        from tui.palette import deck_commands

        yield from super().get_system_commands(screen)
        yield from deck_commands(self, screen)

    # -- help, profiles, themes, bell ------------------------------------------------

    def action_help(self) -> None:
        """F1: the keys that apply now (focused widget, screen, app)."""
        from tui.dialogs.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.screen.active_bindings, self.screen))

    def action_switch_profile(self) -> None:
        from tui.dialogs.profiles import ProfilesScreen

        def chosen(name: str | None) -> None:
            if name:
                self.switch_profile(name)

        self.push_screen(ProfilesScreen(self.config, self.profile.name), chosen)

    def switch_profile(self, name: str) -> None:
        """Use profile ``name``: a new client, the header, and the batches reloaded."""
        from tui.core.errors import ApiError

        try:
            profile = self.config.profile(name)
            client = BatchClient(profile)
        except (ApiError, Exception) as exc:
            message = getattr(exc, "message", None) or str(exc)
            self.notify(f"Cannot switch to {name}: {message}", severity="error", markup=False)
            return
        old, self.client, self.profile = self.client, client, profile
        self.sub_title = f"{profile.name} · {profile.host()}"
        self._close_client(old)
        from tui.screens.batches import BatchesScreen

        for screen in self.screen_stack:
            if isinstance(screen, BatchesScreen):
                screen.reload()
        self.notify(f"Profile {profile.name} ({profile.host()})", markup=False)

    @work(group="close-client")
    async def _close_client(self, client: BatchClient) -> None:
        await client.close()

    def action_cycle_theme(self) -> None:
        names = sorted(self.available_themes)
        current = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(current + 1) % len(names)]
        self.notify(f"Theme: {self.theme}")

    def _theme_changed(self, theme: Theme) -> None:
        self._save_setting("theme", theme.name)

    def action_toggle_bell(self) -> None:
        self.bell_enabled = not self.bell_enabled
        self._save_setting("bell", self.bell_enabled)
        self.notify(f"Bell when a batch finishes: {'on' if self.bell_enabled else 'off'}")

    def _save_setting(self, key: str, value: object) -> None:
        """Remember a setting; written to ``config.toml`` only if that file exists."""
        from tui.core.config import ConfigError, save_config

        if self.config.settings.get(key) == value:
            return
        self.config.settings[key] = value
        path = self.config.path
        if path is not None and path.exists():
            try:
                save_config(self.config)
            except (OSError, ConfigError) as exc:
                self.notify(f"Could not save {path}: {exc}", severity="warning", markup=False)

    # -- other screens (imported when first opened) ----------------------------------

    def _push(self, module: str, name: str, *args: Any) -> None:
        try:
            screen_class = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            self.notify(f"{name} is not available in this version.", severity="warning")
            return
        self.push_screen(screen_class(*args))

    def selected_batch_id(self) -> str | None:
        """The batch under the cursor of the batches screen, if any."""
        from tui.screens.batches import BatchesScreen

        for screen in reversed(self.screen_stack):
            if isinstance(screen, BatchesScreen):
                return screen.table.selected_id()
        return None

    def action_open_files(self) -> None:
        self._push("tui.screens.files", "FilesScreen")

    def action_open_compose(self) -> None:
        self._push("tui.screens.compose", "ComposeScreen")

    def open_results(self, batch_id: str) -> None:
        self._push("tui.screens.results", "ResultsScreen", batch_id)

    def action_open_selected(self) -> None:
        from tui.screens.batches import BatchesScreen

        for screen in reversed(self.screen_stack):
            if isinstance(screen, BatchesScreen):
                screen.open_batch()
                return


def make_app(
    config: Config, client: BatchClient, registry: Registry, *, profile: Profile | None = None
) -> BatchDeckApp:
    """Build the app; the CLI and the tests both come through here."""
    return BatchDeckApp(config, client, registry, profile or config.profile())
