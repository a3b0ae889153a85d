"""PriceDialog: set one model's price (USD per million tokens) in ``prices.toml``."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from tui.core.pricing import Price, PriceError, save_price
from tui.core.text import one_line
from tui.dialogs.base import Dialog


def parse_rate(text: str, *, required: bool) -> float | None:
    """A price from an input: a number >= 0 (``$`` allowed); None if blank and optional."""
    cleaned = text.strip().lstrip("$").strip()
    if not cleaned:
        if required:
            raise ValueError("a price is needed")
        return None
    try:
        value = float(cleaned)
    except ValueError:
        raise ValueError(f"{cleaned!r} is not a number") from None
    if value < 0 or value != value or value == float("inf"):
        raise ValueError("a price must be a number >= 0")
    return value


def _shown(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


class PriceDialog(Dialog[Price | None]):
    """Edit the standard (non-batch) price of ``model``; Save writes ``prices.toml``
    through :func:`tui.core.pricing.save_price` and returns the new price."""

    DEFAULT_CSS = """
    PriceDialog #price-error {
        color: $error;
        height: auto;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="price.cancel"),
        Binding("ctrl+s", "save", "Save", id="price.save"),
    ]

    def __init__(self, model: str, current: Price | None = None) -> None:
        super().__init__()
        self.model = model
        self.current = current

    def compose(self) -> ComposeResult:
        current = self.current
        with Vertical():
            yield Static(Text(f"Price of {one_line(self.model)}", style="bold"))
            yield Static(
                Text("USD per million tokens at the standard rate; the Batch API bills half.")
            )
            yield Label("Input")
            yield Input(_shown(current.input if current else None), id="price-input")
            yield Label("Cached input (blank: same as input)")
            yield Input(_shown(current.cached_input if current else None), id="price-cached")
            yield Label("Output")
            yield Input(_shown(current.output if current else None), id="price-output")
            yield Static("", id="price-error")
            with Horizontal():
                yield Button("Cancel", id="price-cancel")
                yield Button("Save", variant="primary", id="price-save")

    def on_mount(self) -> None:
        self.query_one("#price-input", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "price-save":
            self.action_save()
        else:
            self.action_cancel()

    def _value(self, widget_id: str, *, required: bool) -> float | None:
        return parse_rate(self.query_one(widget_id, Input).value, required=required)

    def action_save(self) -> None:
        error = self.query_one("#price-error", Static)
        try:
            price = Price(
                input=self._value("#price-input", required=True) or 0.0,
                output=self._value("#price-output", required=False) or 0.0,
                cached_input=self._value("#price-cached", required=False),
            )
            save_price(self.model, price)
        except (ValueError, PriceError, OSError) as exc:
            error.update(Text(one_line(str(exc))))
            return
        self.dismiss(price)

    def action_cancel(self) -> None:
        self.dismiss(None)
