"""BatchDeckApp: the Textual application, built by :func:`make_app`.

The shell: a header with the active profile and its server, a footer with the keys
that apply now, F1 help built from the live bindings, the command palette (every
action, see :mod:`tui.palette`), a profile switcher and Textual's themes (the choice
is kept in ``config.toml`` when there is one). Only what the first frame needs is
imported at start-up: the other screens, the dialogs and the palette's commands are
imported when first used (together a few tenths of a second of imports); screens
never import this module (see :mod:`tui.deck`).

Start-up, in order: the batches screen is the app's first screen and paints the
registry's newest cached rows; then the SDK is imported in a thread while the
event loop stays idle (``prepare_client``), the first page is listed as soon as the
client exists, and only then does the rest start (the older cached rows, checking
unfinished submissions). ``batchdeck`` pauses the cyclic GC from launch until the
SDK is loaded (a tenth of the imports' time is collections that find nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from textual import events, work
from textual.actions import SkipAction
from textual.app import App
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.widgets import DataTable

from tui.core.anthropic_client import client_for
from tui.core.client import BatchClient
from tui.core.config import Config, Profile, save_config
from tui.core.errors import BatchdeckError
from tui.core.registry import Registry
from tui.core.text import printable
from tui.deck import styles_dir
from tui.keys import holding, letter_blocked, typing_target
from tui.list_keys import EDGE_BINDINGS, LETTER_BINDINGS
from tui.screens.base import reason
from tui.screens.batches import BatchesScreen
from tui.screens.queue_runner import QueueRunner

if TYPE_CHECKING:
    from collections.abc import Iterable

    from textual.app import SystemCommand
    from textual.screen import Screen
    from textual.theme import Theme


class BatchDeckApp(App[int]):
    """The batchdeck terminal app."""

    TITLE = "batchdeck"
    BINDINGS = [
        Binding("f1", "help", "Help", id="app.help"),
        Binding("f", "open_files", "Files", id="app.files"),
        Binding("u", "open_queue", "Queue", id="app.queue", show=False),
        Binding("n", "open_compose", "Compose", id="app.compose", show=False),
        Binding("dollar_sign", "open_spend", "Spend", id="app.spend", show=False, key_display="$"),
        Binding("p", "switch_profile", "Profile", id="app.profile", show=False),
        Binding("T", "cycle_theme", "Next theme", id="app.theme", show=False),
        Binding("b", "toggle_bell", "Bell on finish", id="app.bell", show=False),
        Binding("q", "quit", "Quit", id="quit"),
        *EDGE_BINDINGS,  # Home, End, g, G, j, k in every list (tui.list_keys)
        *LETTER_BINDINGS,
    ]

    def __init__(
        self, config: Config, client: BatchClient, registry: Registry, profile: Profile
    ) -> None:
        # The first screen's styles too: a screen's own CSS_PATH, read when it is
        # installed, makes Textual parse every style sheet again (~15 ms).
        super().__init__(css_path=[styles_dir() / "app.tcss", BatchesScreen.CSS_PATH])
        self.config = config
        self.client = client
        self.registry = registry
        self.profile = profile
        self.bell_enabled = bool(config.settings.get("bell", False))
        self._first_frame = asyncio.Event()  # set once the first frame is on the terminal
        self.queue_runner = QueueRunner(self)  # the queue, sent while the app is open
        self.sub_title = profile.label()
        saved = config.settings.get("theme")
        if isinstance(saved, str) and saved in self.available_themes:
            self.theme = saved

    def get_default_screen(self) -> Screen[Any]:
        """The first screen: the batches (the first frame shows the table). Textual's
        default screen, not a mode: a mode's first screen makes Textual parse every
        style sheet again and restyle the app (~15 ms), and its first render is
        dropped (updates are held back while the app mounts), after which only the
        changed regions were sent: the table reached the terminal a refresh later
        (``tests/ui/test_first_frame.py``)."""
        return BatchesScreen()

    async def prepare_client(self) -> None:
        """Load the SDK off the event loop, then freeze what exists by then (modules
        above all: the SDK, pydantic, Textual) out of the cyclic GC, once per
        process: they live as long as the app, and otherwise the next full
        collection walks them all, a pause of ~80 ms in the middle of the first
        listing. (A process-wide choice, so the app makes it, not the client.)
        The GC, paused by ``batchdeck`` at launch, runs again from here on.

        With cached rows to show, the import waits until they are on the terminal
        (it would hold them up); without, the first page is what the user waits for,
        so the import starts at once."""
        import gc

        try:
            batches = self.batches_screen()
            if batches is not None and batches.showing_cached:
                await self.first_frame()
            await self.client.prepare()
            if gc.get_freeze_count() == 0:
                gc.freeze()
        finally:
            gc.enable()

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

    def action_list_edge(self, key: str) -> None:
        """Home/End: a row table's cursor to its first/last row; any other widget
        keeps its own Home/End."""
        table = self.focused
        if not isinstance(table, DataTable) or table.cursor_type != "row":
            raise SkipAction()
        if key == "home":
            table.action_scroll_top()
        else:
            table.action_scroll_bottom()

    async def action_list_key(self, key: str) -> None:
        """``g``/``G``/``j``/``k``: what Home/End/Down/Up do in the focused list (run
        now, so that the next key sees the cursor moved)."""
        focused = self.focused
        if focused is None or typing_target(focused):
            raise SkipAction()
        if key in ("home", "end") and isinstance(focused, DataTable):
            with contextlib.suppress(SkipAction):
                self.action_list_edge(key)
                return
        for node in focused.ancestors_with_self:  # the nearest binding of the key
            for binding in node._bindings.key_to_bindings.get(key, ()):
                if not binding.priority and await self.run_action(binding.action, node):
                    return
            if node is self.screen:
                break
        raise SkipAction()

    def on_mount(self) -> None:
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self.call_after_refresh(self.reconcile_submissions)  # after the first frame
        self.call_after_refresh(self.queue_runner.start)

    async def first_frame(self) -> None:
        if self.is_running:
            await self._first_frame.wait()

    def on_ready(self) -> None:
        """Textual's Ready: the first frame is being displayed; once it is out, the
        SDK may load (:meth:`prepare_client`)."""
        self.call_after_refresh(self._first_frame.set)

    @work(exclusive=True, group="reconcile")
    async def reconcile_submissions(self) -> None:
        """Settle submits a crash or a lost connection left unfinished (once the SDK
        is loaded: the first listing goes first)."""
        await self.first_frame()  # importing the journal would hold that frame up
        from tui.core.anthropic_journal import journal_for

        try:
            await self.prepare_client()
            await asyncio.to_thread(self.registry.load)  # 10,000 jobs: not on the event loop
            settled = await journal_for(self.registry, self.client, self.profile).reconcile()
        except Exception as exc:  # the app goes on; an unexpected error is logged too
            if not isinstance(exc, BatchdeckError | OSError):
                logging.getLogger(__name__).exception("reconciling submissions failed")
            self.notify(
                f"Could not check unfinished submissions: {reason(exc)}", severity="warning"
            )
            return
        for item in settled:
            where = f" as {item.batch_id}" if item.batch_id else ""
            self.notify(
                f"Interrupted submission {item.job_id}: {item.outcome}{where} ({item.detail})",
                severity="error" if item.outcome in ("failed", "ambiguous") else "information",
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
        try:
            profile = self.config.profile(name)
            client = client_for(profile)
        except BatchdeckError as exc:
            self.notify(f"Cannot switch to {name}: {exc}", severity="error")
            return
        old, self.client, self.profile = self.client, client, profile
        self.sub_title = profile.label()
        self._close_client(old)
        batches = self.batches_screen()
        if batches is not None:
            batches.reload()
        self.notify(f"Profile {profile.name} ({profile.host()})")

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
        if self.config.settings.get(key) == value:
            return
        self.config.settings[key] = value
        path = self.config.path
        if path is not None and path.exists():
            try:
                save_config(self.config)
            except (BatchdeckError, OSError) as exc:
                self.notify(f"Could not save {path}: {exc}", severity="warning", markup=False)

    # -- other screens ---------------------------------------------------------------

    def batches_screen(self) -> BatchesScreen | None:
        """The batches screen (the bottom of the stack), wherever it is."""
        for screen in reversed(self.screen_stack):
            if isinstance(screen, BatchesScreen):
                return screen
        return None

    def action_open_files(self) -> None:
        from tui.screens.files import FilesScreen

        self.push_screen(FilesScreen())

    def action_open_queue(self) -> None:
        from tui.screens.queue import QueueScreen  # imported when first opened

        if not isinstance(self.screen, QueueScreen):
            self.push_screen(QueueScreen())

    def action_open_compose(self) -> None:
        from tui.screens.compose import ComposeScreen  # imported when first opened

        self.push_screen(ComposeScreen())

    def action_open_spend(self) -> None:
        from tui.screens.spend import SpendScreen  # imported when first opened

        self.push_screen(SpendScreen())

    def open_results(self, batch_id: str) -> None:
        from tui.screens.results import ResultsScreen  # imported when first opened

        self.push_screen(ResultsScreen(batch_id))

    def action_toggle_fleet(self) -> None:
        """``A`` (and the palette): the fleet view over the batches screen, or back."""
        from tui.screens.fleet import FleetScreen  # imported when first opened

        if isinstance(self.screen, FleetScreen):
            self.pop_screen()
            return
        while len(self.screen_stack) > 1 and not isinstance(self.screen, BatchesScreen):
            self.pop_screen()
        self.push_screen(FleetScreen())

    def action_open_selected(self) -> None:
        batches = self.batches_screen()
        if batches is not None:
            batches.open_batch()


def make_app(
    config: Config, client: BatchClient, registry: Registry, *, profile: Profile | None = None
) -> BatchDeckApp:
    """Build the app; the CLI and the tests both come through here."""
    return BatchDeckApp(config, client, registry, profile or config.profile())
