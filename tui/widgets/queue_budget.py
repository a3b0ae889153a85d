"""BudgetBar: one lane of the queue (a profile and a model) as two lines: the model,
its limit and where the limit comes from, then a bar of the estimated input tokens in
flight against it (requests, on an Anthropic profile, whose limit counts those)."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from tui.core.queue_view import Lane
from tui.core.text import one_line, plural

BAR_MIN = 10  # cells of the bar at the least
LIMIT_WORDS = {
    "configured": "configured",
    "learned": "learned from a token_limit_exceeded failure",
    "unknown": "unknown: learned from the first failure",
}


def lane_title(lane: Lane) -> Text:
    """``gpt-4o-mini · profile demo · limit 2,000,000 (configured...) · 3 parts waiting``."""
    limit = lane.limit
    shown = f"{limit.tokens:,}" if limit.tokens is not None else "?"
    text = Text()
    text.append(one_line(lane.model, 40), style="bold")
    text.append(f" · {one_line(lane.profile, 20)} · limit {shown} ", style="")
    text.append(f"({LIMIT_WORDS.get(limit.source, limit.source)})", style="dim")
    text.append(f" · {plural(len(lane.waiting), 'part')} waiting")
    return text


def budget_bar(lane: Lane, width: int) -> Text:
    """``[█████░░░░░]  1,234 / 4,000 tokens in flight  31%`` in ``width`` cells
    (requests instead of tokens on an Anthropic lane)."""
    limit = lane.limit.tokens
    unit = lane.unit  # tokens, or requests on an Anthropic lane
    figures = (
        f"  {lane.in_flight:,} / {limit:,} {unit} in flight"
        if limit is not None
        else f"  {lane.in_flight:,} {unit} in flight, limit unknown"
    )
    share = lane.in_flight / limit if limit else 0.0
    if limit:
        figures += f"  {share:.0%}"
    cells = max(BAR_MIN, width - len(figures) - 2)
    filled = min(cells, round(share * cells))
    style = "green" if share < 0.75 else ("yellow" if share <= 1.0 else "red")
    bar = Text("[")
    bar.append("█" * filled, style=style)
    bar.append("░" * (cells - filled), style="dim")
    bar.append("]")
    bar.append(figures)
    return bar


class BudgetBar(Widget):
    """A lane's limit and its tokens in flight, painted at the widget's width."""

    DEFAULT_CSS = """
    BudgetBar {
        height: 2;
        padding: 0 1;
    }
    """

    lane: reactive[Lane | None] = reactive(None, layout=False)

    def __init__(self, lane: Lane, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.set_reactive(BudgetBar.lane, lane)

    def render(self) -> Text:
        lane = self.lane
        if lane is None:
            return Text("")
        width = max(self.content_size.width, BAR_MIN + 2)
        title = lane_title(lane)
        title.truncate(width, overflow="ellipsis")
        return Text("\n").join([title, budget_bar(lane, width)])
