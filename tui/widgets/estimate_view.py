"""EstimateView: requests, input tokens, the worst-case output and the cost of a batch."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.core.pricing import format_usd
from tui.core.text import one_line
from tui.core.tokens import Estimate


def estimate_text(estimate: Estimate) -> Text:
    """The estimate as literal text (the model name comes from the file)."""
    text = Text()
    text.append("Estimate ", style="bold")
    text.append(f"({estimate.encoding} tokenizer; chat overhead estimated)\n", style="dim")
    text.append(f"  requests       {estimate.requests:>14,}\n")
    text.append(f"  input tokens   {estimate.input_tokens:>14,}")
    if estimate.sampled is not None:
        text.append(f"  (estimated {estimate.sample_note()})", style="dim")
    text.append("\n")
    text.append(f"  output tokens  {'≤ ' + format(estimate.output_tokens_max, ','):>14}")
    if estimate.unbounded:
        text.append(f"  + {estimate.unbounded:,} with no max tokens (unbounded)", style="yellow")
    text.append("\n")
    cost, floor = estimate.cost, estimate.input_cost
    if cost is None or floor is None:
        text.append("  cost           no price for ", style="yellow")
        text.append(one_line(estimate.model or "?", 40), style="yellow")
        text.append(" (set one in prices.toml)\n", style="yellow")
        return text
    top = estimate.max_cost  # None: some request has no max tokens, so no upper bound
    batch, standard = (None, None) if top is None else (top.batch, top.standard)
    text.append("  cost, Batch    ")
    text.append(f"{format_usd(floor.batch)} – {_usd(batch)}", style="bold green")
    text.append("  (input only – every output at its limit)\n", style="dim")
    text.append("  cost, standard ")
    text.append(f"{format_usd(floor.standard)} – {_usd(standard)}")
    text.append("  (the same requests without the Batch discount)\n", style="dim")
    return text


def _usd(amount: float | None) -> str:
    return "no upper bound" if amount is None else format_usd(amount)


class EstimateView(Static):
    """Shows one :class:`~tui.core.tokens.Estimate` (or a hint before there is one)."""

    DEFAULT_CSS = """
    EstimateView { height: auto; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(self.NONE, id=id)

    NONE = "No estimate until the file is valid (or only over the size limits)."

    def show(self, estimate: Estimate | None) -> None:
        self.update(estimate_text(estimate) if estimate is not None else self.NONE)
