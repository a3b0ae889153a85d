"""The Spend screen: what the batches batchdeck knows cost, from the registry's
snapshots and the price table (:mod:`tui.core.spend`).

A sparkline of the daily spend over the window, then one row per group (day,
model, tag or profile: ``s`` cycles) with its batches, tokens, the standard price,
the Batch price, the money the discount saved and a bar of its share; ``w`` cycles
the window (7, 30, 90, 365 days). Batches without usage yet are counted as "not
priced yet" and listed, never shown as zero. With ``OPENAI_ADMIN_KEY`` set, the
Costs API's billed batch spend is shown beside batchdeck's figure, with the
difference. Everything is computed by a worker; the handlers paint.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable, Footer, Sparkline, Static

from tui.core import timefmt
from tui.core.pricing import format_usd, load_prices
from tui.core.spend import (
    ADMIN_KEY_ENV,
    GROUPINGS,
    Billed,
    Spend,
    compute_spend,
    daily_amounts,
    fetch_billed,
    signed_usd,
)
from tui.core.text import one_line, plural
from tui.screens.base import REPORTED, DeckScreen
from tui.widgets.header import DeckHeader

WINDOWS = (7, 30, 90, 365)  # days
BAR_WIDTH = 20
BLOCKS = " ▏▎▍▌▋▊▉█"
COLUMNS = ("Group", "Batches", "Input", "Output", "Standard", "Batch", "Saved", "Share")


def bar(amount: float, largest: float, width: int = BAR_WIDTH) -> Text:
    """A horizontal bar of ``amount``'s share of ``largest`` in eighths of a cell."""
    eighths = round(8 * width * amount / largest) if largest > 0 else 0
    full, rest = divmod(eighths, 8)
    return Text("█" * full + (BLOCKS[rest] if rest else ""), style="green")


class SpendScreen(DeckScreen):
    """Spend per day, model, tag or profile, with a chart."""

    DEFAULT_CSS = """
    SpendScreen #spend-title { height: 1; padding: 0 1; text-style: bold; }
    SpendScreen #spend-chart { height: 3; margin: 0 1; }
    SpendScreen #spend-table { height: 1fr; }
    SpendScreen #spend-summary { height: auto; padding: 0 1; }
    SpendScreen #spend-billed { height: auto; padding: 0 1; color: $text-muted; }
    SpendScreen #spend-unpriced { height: auto; max-height: 6; padding: 0 1; color: $warning; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="spend.back", tooltip="Back to the batches"),
        Binding(
            "s", "cycle_grouping", "Group by", id="spend.group", tooltip="Day, model, tag, profile"
        ),
        Binding("w", "cycle_window", "Window", id="spend.window", tooltip="7, 30, 90 or 365 days"),
        Binding("r", "reload", "Reload", id="spend.reload", tooltip="Read the registry again"),
    ]

    @dataclass
    class Computed(Message):
        spend: Spend
        daily: list[tuple[str, float]]

    @dataclass
    class Fetched(Message):
        billed: Billed

    def __init__(self, by: str = "day", days: int = 30) -> None:
        super().__init__()
        self.by = by
        self.days = days
        self.spend: Spend | None = None
        self.billed: Billed | None = None

    def compose(self) -> ComposeResult:
        yield DeckHeader()
        yield Static("", id="spend-title")
        yield Sparkline([], id="spend-chart")
        yield DataTable(id="spend-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="spend-summary")
        yield Static("", id="spend-billed")
        yield Static("", id="spend-unpriced")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label in COLUMNS:
            table.add_column(label, key=label.lower())
        self.action_reload()

    # -- actions ----------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_cycle_grouping(self) -> None:
        self.by = GROUPINGS[(GROUPINGS.index(self.by) + 1) % len(GROUPINGS)]
        self.action_reload()

    def action_cycle_window(self) -> None:
        position = WINDOWS.index(self.days) if self.days in WINDOWS else -1
        self.days = WINDOWS[(position + 1) % len(WINDOWS)]
        self.action_reload()

    def action_reload(self) -> None:
        self.query_one("#spend-title", Static).update(
            f"Spend: last {self.days} days, by {self.by}…"
        )
        self.compute(self.by, self.days)
        admin_key = os.environ.get(ADMIN_KEY_ENV)
        if admin_key:
            self.query_one("#spend-billed", Static).update("Asking the Costs API…")
            self.fetch_billed(admin_key, self.days)

    # -- workers ----------------------------------------------------------------------

    @work(exclusive=True, group="spend-compute")
    async def compute(self, by: str, days: int) -> None:
        registry = self.deck.registry
        now = timefmt.now()

        def work_out() -> tuple[Spend, list[tuple[str, float]]]:
            prices = load_prices()
            jobs = list(registry.load().values())
            since = now - days * 86_400
            aliases = self.deck.config.deployments()  # Azure deployments as their models
            spend = compute_spend(jobs, since=since, by=by, prices=prices, deployments=aliases)
            by_day = (
                spend
                if by == "day"
                else compute_spend(jobs, since=since, prices=prices, deployments=aliases)
            )
            return spend, daily_amounts(by_day, now)

        try:
            spend, daily = await asyncio.to_thread(work_out)
        except REPORTED as exc:
            self.post_message(self.Failed("Spend not computed", exc))
        else:
            self.post_message(self.Computed(spend, daily))

    @work(exclusive=True, group="spend-billed")
    async def fetch_billed(self, admin_key: str, days: int) -> None:
        base_url = self.deck.profile.resolved_base_url()
        try:
            billed = await fetch_billed(base_url, admin_key, timefmt.now() - days * 86_400)
        except REPORTED as exc:
            self.post_message(self.Failed("Costs API", exc))
        else:
            self.post_message(self.Fetched(billed))

    # -- painting ---------------------------------------------------------------------

    def on_spend_screen_computed(self, message: Computed) -> None:
        spend = self.spend = message.spend
        self.query_one("#spend-title", Static).update(
            f"Spend since {spend.since_day} (UTC), by {spend.by} · s: group by · w: window"
        )
        self.query_one(Sparkline).data = [amount for _, amount in message.daily]
        table = self.query_one(DataTable)
        table.clear()
        largest = max((group.billed for group in spend.groups), default=0.0)
        for group in spend.groups:
            batches = str(group.batches)
            if group.not_priced:
                batches += f" ({group.not_priced} not priced)"
            table.add_row(
                Text(one_line(group.key, 40)),
                batches,
                f"{group.input_tokens:,}",
                f"{group.output_tokens:,}",
                format_usd(group.standard),
                format_usd(group.billed),
                format_usd(group.saved),
                bar(group.billed, largest),
            )
        total = spend.total
        batches = plural(total.batches, "batch", "batches")
        summary = (
            f"Total {format_usd(total.billed)} at Batch prices for {batches}"
            f" · {format_usd(total.standard)} at standard prices · saved {format_usd(total.saved)}"
        )
        if not spend.groups:
            summary = "No batch in the registry was created in this window."
        self.query_one("#spend-summary", Static).update(Text(summary))
        self._paint_billed()
        unpriced = self.query_one("#spend-unpriced", Static)
        if spend.unpriced:
            lines = [f"Not priced yet: {plural(len(spend.unpriced), 'batch', 'batches')}"]
            lines += [
                f"  {one_line(u.batch_id)} ({one_line(u.status)}): {one_line(u.reason)}"
                for u in spend.unpriced
            ]
            unpriced.update(Text("\n".join(lines)))
        else:
            unpriced.update("")

    def on_spend_screen_fetched(self, message: Fetched) -> None:
        self.billed = message.billed
        self._paint_billed()

    def _paint_billed(self) -> None:
        if self.billed is None or self.spend is None:
            return
        ours, billed = self.spend.total.billed, self.billed.amount
        self.query_one("#spend-billed", Static).update(
            Text(
                f"Billed (Costs API, batch line items): {format_usd(billed)} · "
                f"batchdeck: {format_usd(ours)} · difference: {signed_usd(billed - ours)}"
            )
        )
