"""Cost from token usage: an editable price table with the Batch API discount.

Prices are USD per million tokens at the standard (synchronous) rate; the Batch API
bills half of that. The built-in table covers common models and is only a
starting point: ``prices.toml`` in the config directory overrides or extends it,
and the app edits that file (never the built-in table)::

    [models."gpt-4o-mini"]
    input = 0.15
    cached_input = 0.075
    output = 0.60

A model id matches its exact entry, else the longest entry it starts with, so the
dated snapshot ``gpt-4o-2024-08-06`` is priced as ``gpt-4o``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui.core import paths
from tui.core.errors import BatchdeckError
from tui.core.models import Batch, Usage

BATCH_DISCOUNT = 0.5  # the Batch API costs half the synchronous price
PER = 1_000_000


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens at the standard rate."""

    input: float
    output: float = 0.0
    cached_input: float | None = None  # None: cached tokens cost the input price


DEFAULT_PRICES: dict[str, Price] = {
    "gpt-5": Price(1.25, 10.0, 0.125),
    "gpt-5-mini": Price(0.25, 2.0, 0.025),
    "gpt-5-nano": Price(0.05, 0.40, 0.005),
    "gpt-4.1": Price(2.0, 8.0, 0.50),
    "gpt-4.1-mini": Price(0.40, 1.60, 0.10),
    "gpt-4.1-nano": Price(0.10, 0.40, 0.025),
    "gpt-4o": Price(2.50, 10.0, 1.25),
    "gpt-4o-mini": Price(0.15, 0.60, 0.075),
    "o3": Price(2.0, 8.0, 0.50),
    "o4-mini": Price(1.10, 4.40, 0.275),
    "gpt-3.5-turbo": Price(0.50, 1.50),
    "text-embedding-3-small": Price(0.02),
    "text-embedding-3-large": Price(0.13),
    "text-embedding-ada-002": Price(0.10),
    "omni-moderation-latest": Price(0.0),
    # Anthropic's Claude (cached_input: the prompt-cache read price); the Message
    # Batches API bills half of these too.
    "claude-opus-4-5": Price(5.0, 25.0, 0.50),
    "claude-opus-4-1": Price(15.0, 75.0, 1.50),
    "claude-opus-4": Price(15.0, 75.0, 1.50),
    "claude-sonnet-4-5": Price(3.0, 15.0, 0.30),
    "claude-sonnet-4": Price(3.0, 15.0, 0.30),
    "claude-3-7-sonnet": Price(3.0, 15.0, 0.30),
    "claude-haiku-4-5": Price(1.0, 5.0, 0.10),
    "claude-3-5-haiku": Price(0.80, 4.0, 0.08),
    "claude-3-haiku": Price(0.25, 1.25, 0.03),
}


class PriceError(BatchdeckError, ValueError):
    """``prices.toml`` cannot be used; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class Cost:
    """What some usage costs, in USD, at the standard rate and with the discount."""

    input: float
    cached_input: float
    output: float

    @property
    def standard(self) -> float:
        return self.input + self.cached_input + self.output

    @property
    def batch(self) -> float:
        return self.standard * BATCH_DISCOUNT


def prices_file() -> Path:
    return paths.config_dir() / "prices.toml"


def load_prices(path: Path | None = None) -> dict[str, Price]:
    """The built-in table with ``prices.toml`` laid over it."""
    path = path or prices_file()
    table = dict(DEFAULT_PRICES)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return table
    except (OSError, UnicodeDecodeError) as exc:
        raise PriceError(f"{path}: {exc}") from exc
    import tomllib  # here, once there is a file: without one (the usual case) it is not loaded

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PriceError(f"{path}: {exc}") from exc
    models = raw.get("models", {})
    if not isinstance(models, dict):
        raise PriceError(f"{path}: [models] must be a table")
    for model, entry in models.items():
        table[model] = _price_from(entry, f"{path}: models.{model!r}")
    return table


def _price_from(entry: Any, where: str) -> Price:
    if not isinstance(entry, dict):
        raise PriceError(f"{where} must be a table")
    values: dict[str, float] = {}
    for key in ("input", "output", "cached_input"):
        value = entry.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise PriceError(f"{where}.{key} must be a number >= 0")
        values[key] = float(value)
    if "input" not in values:
        raise PriceError(f"{where} needs an input price")
    unknown = set(entry) - {"input", "output", "cached_input"}
    if unknown:
        raise PriceError(f"{where} has unknown field(s): {', '.join(sorted(unknown))}")
    return Price(**values)


def save_price(model: str, price: Price, path: Path | None = None) -> Path:
    """Set one model's price in ``prices.toml`` (atomically, mode 0600).

    The file's text is edited in place: only this model's changed values are
    written; other entries, comments and layout keep their bytes."""
    from tui.core.tomledit import TomlEditError, read_document, set_key, table_in, write_document

    path = path or prices_file()
    try:
        document = read_document(path)
        entry = table_in(table_in(document, "models"), model)
        set_key(entry, "input", price.input)
        # no output price written is 0: an entry without one (an embedding model) stays so
        set_key(entry, "output", price.output if price.output or "output" in entry else None)
        set_key(entry, "cached_input", price.cached_input)
    except TomlEditError as exc:
        raise PriceError(str(exc)) from exc
    write_document(path, document)
    return path


def price_for(model: str | None, table: dict[str, Price]) -> Price | None:
    """The entry for ``model``: exact, else the longest prefix; None if unknown."""
    if not model:
        return None
    if model in table:
        return table[model]
    prefixes = [name for name in table if model.startswith(name)]
    return table[max(prefixes, key=len)] if prefixes else None


def cost_of(usage: Usage, price: Price) -> Cost:
    """Cost of ``usage``; cached input tokens are part of ``input_tokens``."""
    cached = min(usage.cached_tokens, usage.input_tokens)
    cached_rate = price.cached_input if price.cached_input is not None else price.input
    return Cost(
        input=(usage.input_tokens - cached) * price.input / PER,
        cached_input=cached * cached_rate / PER,
        output=usage.output_tokens * price.output / PER,
    )


def read_prices() -> dict[str, Price] | PriceError:
    """The price table, or the error that makes it unusable (to show, not raise)."""
    try:
        return load_prices()
    except PriceError as exc:
        return exc


@dataclass(frozen=True, slots=True)
class BatchCost:
    """What a batch cost at ``price``; without ``cost``, why not: ``missing`` is
    ``"usage"``, ``"prices"`` (the table is unusable) or ``"price"`` (none for the
    model), and ``note`` says it in words."""

    cost: Cost | None = None
    price: Price | None = None
    missing: str = ""
    note: str = ""


def batch_cost(batch: Batch, prices: dict[str, Price] | PriceError | None = None) -> BatchCost:
    """The cost of ``batch``'s usage from ``prices`` (read from disk if None); the
    one computation behind the inspector and ``batchdeck show``."""
    if batch.usage is None:
        return BatchCost(missing="usage", note="no usage reported")
    if prices is None:
        prices = read_prices()
    if isinstance(prices, PriceError):
        return BatchCost(missing="prices", note=f"price table unusable: {prices}")
    price = price_for(batch.model, prices)
    if price is None:
        return BatchCost(missing="price", note=f"no price for model {batch.model or '(none)'}")
    return BatchCost(cost_of(batch.usage, price), price)


def format_usd(amount: float) -> str:
    """``$0.00``, ``$0.0042``, ``$0.000031``, ``$1,234.50``: a small amount keeps
    two significant digits, so a tiny cost never reads as zero."""
    if amount == 0:
        return "$0.00"
    if abs(amount) < 0.01:
        digits = max(4, 1 - math.floor(math.log10(abs(amount))))
        return f"${amount:.{digits}f}"
    return f"${amount:,.2f}"
