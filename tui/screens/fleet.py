"""The fleet view: every profile's batches in one table, and each profile's health.

- A :class:`tui.core.fleet.Fleet` polls every profile of ``config.toml`` in one
  worker, each profile on its own schedule and backoff; it says what changed and the
  handler repaints (the table and the health strip) once per frame at most. It
  polls while the screen is on top and stops while another screen or a modal
  covers it.
- A batch opened here (Enter), its results (``v``) and a cancel (``c``) act on that
  batch's own profile: the inspector and the results screen are given a
  :class:`ProfileDeck`, the app's services with that profile and its client.
- A batch seen running that reaches a final state is announced and fires the
  ``[hooks]`` notifications (:mod:`tui.screens.batch_alerts`), and the registry's
  snapshots of its jobs are kept current (the cached view, spend), as on the batches
  screen. ``A`` goes back to the one-profile batches screen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable, Footer, Static

from tui.core import fleet, poll
from tui.core.text import one_line, plural
from tui.deck import styles_dir
from tui.dialogs.confirm import ConfirmDialog
from tui.screens.base import REPORTED, DeckScreen, reason
from tui.screens.batch_alerts import notify_batches
from tui.screens.batch_detail import BatchDetailScreen
from tui.widgets.fleet_health import FleetHealth
from tui.widgets.fleet_table import FleetTable
from tui.widgets.header import DeckHeader

if TYPE_CHECKING:
    from textual.app import App

    from tui.core.client import BatchClient
    from tui.core.config import Config, Profile
    from tui.core.models import Batch
    from tui.core.registry import Job, Registry
    from tui.deck import Deck

logger = logging.getLogger(__name__)

TIMES_EVERY = 15.0  # seconds between repaints of the relative times and "since"


class ProfileDeck:
    """The app's services with another profile and its client: what a screen opened
    from the fleet view acts through (``DeckScreen.deck_view``)."""

    def __init__(self, app: App[Any], profile: Profile, client: BatchClient) -> None:
        deck: Deck = app  # type: ignore[assignment]  # BatchDeckApp is the Deck
        self._app = app
        self._deck = deck
        self.profile = profile
        self.client = client
        self.config: Config = deck.config
        self.registry: Registry = deck.registry
        self.bell_enabled = deck.bell_enabled

    async def prepare_client(self) -> None:
        await self.client.prepare()

    async def first_frame(self) -> None:
        await self._deck.first_frame()

    def open_results(self, batch_id: str) -> None:
        from tui.screens.results import ResultsScreen  # imported when first opened

        screen = ResultsScreen(batch_id)
        screen.deck_view = self
        self._app.push_screen(screen)


class FleetScreen(DeckScreen):
    """Every profile's batches, newest first, with a Profile column and a health strip."""

    CSS_PATH = str(styles_dir() / "fleet.tcss")
    HELP_TITLE = "All profiles"
    PALETTE_GROUP = "All profiles"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("A", "close_fleet", "One profile", id="fleet.close"),
        Binding("v", "open_results", "Results", id="fleet.results"),
        Binding("c", "cancel_batch", "Cancel batch", id="fleet.cancel"),
        Binding("r", "refresh", "Refresh", id="fleet.refresh", show=False),
    ]

    @dataclass
    class Changed(Message):
        """A profile's rows or health changed."""

        profile: str

    @dataclass
    class JobsRead(Message):
        jobs: dict[str, Job]

    @dataclass
    class Cancelled(Message):
        profile: str
        batch: Batch

    def __init__(self, client_factory: fleet.ClientFactory = fleet.default_client) -> None:
        super().__init__()
        self._client_factory = client_factory
        self.fleet: fleet.Fleet | None = None
        self._views: dict[str, ProfileDeck] = {}
        self._watchers: dict[str, poll.Watcher] = {}  # per profile: ids may repeat
        self._recorded: dict[str, tuple[object, ...]] = {}  # by ref: what the registry has
        self._paint_due = False

    @property
    def table(self) -> FleetTable:
        return self.query_one(FleetTable)

    def compose(self) -> ComposeResult:
        yield DeckHeader()
        yield FleetHealth(id="fleet-health")
        yield Static("", id="fleet-status")
        yield FleetTable(id="fleet")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        profiles = list(self.deck.config.profiles.values())
        self.fleet = fleet.Fleet(
            profiles, client_factory=self._client_factory, changed=self._changed
        )
        self.sub_title = f"all {plural(len(profiles), 'profile')}"
        self.set_interval(TIMES_EVERY, self._paint)
        self.read_jobs()
        self._paint()
        self.poll_fleet()

    def on_screen_resume(self) -> None:
        """On top again: poll every profile now."""
        if self.fleet is not None:
            self.poll_fleet()

    def on_screen_suspend(self) -> None:
        """Covered by another screen or a modal: nothing is fetched meanwhile."""
        self.workers.cancel_group(self, "fleet-poll")

    async def on_unmount(self) -> None:
        """Stop polling, then close the profiles' clients (never one in use)."""
        workers = [w for w in self.workers if w.group == "fleet-poll" and w.node is self]
        for worker in workers:
            worker.cancel()
        for worker in workers:
            with contextlib.suppress(Exception):
                await worker.wait()
        if self.fleet is not None:
            await self.fleet.close()

    # -- polling -------------------------------------------------------------------

    @work(exclusive=True, group="fleet-poll", description="every profile's batches")
    async def poll_fleet(self) -> None:
        if self.fleet is None:
            return
        try:
            await self.fleet.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug, not a server: said once, the screen stays
            logger.exception("polling the profiles failed")
            self.post_message(self.Failed("Polling the profiles stopped", exc))

    def _changed(self, profile: str) -> None:
        self.post_message(self.Changed(profile))

    def on_fleet_screen_changed(self, message: Changed) -> None:
        if not self._paint_due:  # one repaint for every change of this frame
            self._paint_due = True
            self.call_after_refresh(self._paint)

    def _paint(self) -> None:
        self._paint_due = False
        if self.fleet is None:
            return
        rows = self.fleet.rows()
        healths = self.fleet.health()
        seen: frozenset[str] = frozenset().union(*(w.watching for w in self._watchers.values()))
        notify_batches(self, [row.batch for row in rows], self.table.jobs, seen)  # [hooks]
        for row in rows:
            watcher = self._watchers.setdefault(row.profile, poll.Watcher())
            if watcher.finished(row.batch, self.table.jobs.get(row.batch.id)):
                self._announce(row)
        self._record_changed(rows)
        self.table.show(rows)
        self.query_one(FleetHealth).show(healths)
        active = sum(h.active for h in healths)
        failing = sum(1 for h in healths if h.state not in (fleet.OK, fleet.WAITING))
        parts = [
            plural(len(rows), "batch", "batches"),
            plural(len(healths), "profile"),
            f"{active} active",
        ]
        if failing:
            parts.append(f"{failing} not answering")
        parts.append("A: one profile")
        self.query_one("#fleet-status", Static).update(Text(" · ".join(parts)))

    def _announce(self, row: fleet.FleetBatch) -> None:
        """A batch seen running in this session is final now (as the batches screen says)."""
        batch = row.batch
        self.notify(
            one_line(f"Batch {batch.id} of {row.profile} is {batch.status}.", 200),
            title="Batch finished",
            severity="information" if batch.status == "completed" else "warning",
        )
        if self.deck.bell_enabled:
            self.app.bell()

    def _record_changed(self, rows: list[fleet.FleetBatch]) -> None:
        """Keep the registry's snapshots of its jobs current (the cached view, spend),
        for every profile's batches; written off the UI thread."""
        due = []
        for row in rows:
            counts = row.batch.request_counts
            key = (row.batch.status, counts.total, counts.completed, counts.failed)
            if row.batch.id in self.table.jobs and self._recorded.get(row.ref) != key:
                self._recorded[row.ref] = key
                due.append(row.batch)
        if due:
            self.record_snapshots(due)

    @work(group="fleet-record", description="registry snapshots")
    async def record_snapshots(self, batches: list[Batch]) -> None:
        def record() -> None:
            for batch in batches:
                try:
                    self.deck.registry.record_snapshot(batch)
                except REPORTED:
                    continue  # a convenience: never fails the view

        await asyncio.to_thread(record)

    def action_refresh(self) -> None:
        if self.fleet is not None:
            self.fleet.refresh_now()

    @work(exclusive=True, group="fleet-jobs", description="registry jobs")
    async def read_jobs(self) -> None:
        """The registry's descriptions and tags (read in a thread)."""

        def read() -> dict[str, Job]:
            return {job.batch_id: job for job in self.deck.registry.load().values() if job.batch_id}

        try:
            self.post_message(self.JobsRead(await asyncio.to_thread(read)))
        except REPORTED as exc:
            logger.warning("registry unreadable: %s", exc)

    def on_fleet_screen_jobs_read(self, message: JobsRead) -> None:
        self.table.set_jobs(message.jobs)
        self._paint()

    # -- acting on a batch, through its own profile --------------------------------

    def view(self, profile: str) -> ProfileDeck | None:
        """The services of ``profile`` (its client), or None with a notification."""
        if profile not in self._views and self.fleet is not None:
            try:
                client = self.fleet.client(profile)
            except REPORTED as exc:
                self.notify(f"Profile {profile}: {reason(exc)}", severity="error")
                return None
            self._views[profile] = ProfileDeck(self.app, self.fleet.feeds[profile].profile, client)
        return self._views.get(profile)

    def _chosen(self) -> tuple[fleet.FleetBatch, ProfileDeck] | None:
        row = self.table.selected()
        if row is None:
            self.notify("No batch selected.", severity="warning")
            return None
        view = self.view(row.profile)
        return (row, view) if view is not None else None

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.open_batch()

    def open_batch(self) -> None:
        """The inspector of the highlighted batch, on its own profile."""
        if (chosen := self._chosen()) is None:
            return
        row, view = chosen
        screen = BatchDetailScreen(row.batch.id, row.batch)
        screen.deck_view = view
        self.app.push_screen(screen)

    def action_open_results(self) -> None:
        if (chosen := self._chosen()) is not None:
            row, view = chosen
            view.open_results(row.batch.id)

    def action_close_fleet(self) -> None:
        self.app.pop_screen()

    def action_cancel_batch(self) -> None:
        if (chosen := self._chosen()) is None:
            return
        row, view = chosen
        batch = row.batch
        if batch.is_final or batch.status == "cancelling":
            self.notify(f"Nothing to cancel: this batch is {batch.status}.", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.cancel_now(row.profile, view.client, batch.id)

        self.app.push_screen(
            ConfirmDialog(
                f"Cancel batch {one_line(batch.id)} of {one_line(row.profile)}?",
                "Requests already running finish; the rest are dropped. "
                "Partial results stay available.",
                yes="Cancel batch",
                no="Keep running",
            ),
            answered,
        )

    @work(exclusive=True, group="fleet-cancel", description="cancel a batch")
    async def cancel_now(self, profile: str, client: BatchClient, batch_id: str) -> None:
        try:
            batch = await client.cancel_batch(batch_id)
        except REPORTED as exc:
            self.post_message(self.Failed(f"Cancel {one_line(batch_id)} failed", exc))
            return
        self.post_message(self.Cancelled(profile, batch))

    def on_fleet_screen_cancelled(self, message: Cancelled) -> None:
        if self.fleet is not None:
            self.fleet.update(message.profile, message.batch)
        self.notify(f"Cancelling {message.batch.id} ({message.profile}).")
