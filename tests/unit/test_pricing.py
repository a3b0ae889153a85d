"""Price table, overrides from prices.toml, and cost with the Batch API discount."""

from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path

import pytest

from tui.core.models import Batch, Usage
from tui.core.pricing import (
    DEFAULT_PRICES,
    Price,
    PriceError,
    batch_cost,
    cost_of,
    format_usd,
    load_prices,
    price_for,
    save_price,
)


def test_prefix_match_prefers_longest() -> None:
    table = DEFAULT_PRICES
    assert price_for("gpt-4o-2024-08-06", table) == table["gpt-4o"]
    assert price_for("gpt-4o-mini-2024-07-18", table) == table["gpt-4o-mini"]
    assert price_for("llama-3-70b", table) is None
    assert price_for(None, table) is None


def test_cost_with_cached_tokens_and_discount() -> None:
    usage = Usage(input_tokens=1_000_000, cached_tokens=400_000, output_tokens=500_000)
    cost = cost_of(usage, Price(input=2.0, output=8.0, cached_input=0.5))
    assert cost.input == pytest.approx(1.2)  # 600k uncached at $2/M
    assert cost.cached_input == pytest.approx(0.2)  # 400k at $0.5/M
    assert cost.output == pytest.approx(4.0)
    assert cost.standard == pytest.approx(5.4)
    assert cost.batch == pytest.approx(2.7)


def test_cached_without_own_price_costs_input_price() -> None:
    cost = cost_of(Usage(input_tokens=100, cached_tokens=100), Price(input=1.0))
    assert cost.cached_input == pytest.approx(100 / 1_000_000)


def test_save_and_load_overrides(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    save_price("my-local-model", Price(input=0.1, output=0.2), path)
    save_price("gpt-4o", Price(input=9.0, output=9.0, cached_input=1.0), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    table = load_prices(path)
    assert table["my-local-model"] == Price(0.1, 0.2)
    assert table["gpt-4o"] == Price(9.0, 9.0, 1.0)
    assert table["gpt-4o-mini"] == DEFAULT_PRICES["gpt-4o-mini"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[models\n", "prices.toml"),
        ('[models."m"]\noutput = 1\n', "models.'m' needs an input price"),
        ('[models."m"]\ninput = -1\n', r"models.'m'.input must be a number >= 0"),
        ('[models."m"]\ninput = 1\nextra = 2\n', "unknown field"),
    ],
)
def test_bad_price_file_names_entry(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(text)
    with pytest.raises(PriceError, match=message):
        load_prices(path)


def test_format_usd() -> None:
    assert format_usd(0) == "$0.00"
    assert format_usd(0.0042) == "$0.0042"
    assert format_usd(0.000031) == "$0.000031"
    assert format_usd(0.0000314) == "$0.000031"
    assert format_usd(1234.5) == "$1,234.50"


USER_PRICES = """\
# prices my team agreed on
[models."my-local-model"]   # the vLLM box
output = 0.2
input = 0.1  # per million

[models]
"embed-x" = { input = 0.02 }


[models."gpt-4o"]
input = 9
"""


def test_save_price_changes_only_that_models_values(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(USER_PRICES)
    save_price("gpt-4o", Price(input=9.0, output=11.0), path)
    expected = USER_PRICES.replace("input = 9\n", "input = 9\noutput = 11.0\n")
    assert path.read_text() == expected  # 9 == 9.0 stays as written
    save_price("my-local-model", Price(input=0.3, output=0.2), path)
    expected = expected.replace("input = 0.1  #", "input = 0.3  #")
    assert path.read_text() == expected
    save_price("embed-x", Price(input=0.05), path)
    expected = expected.replace("{ input = 0.02 }", "{ input = 0.05 }")
    assert path.read_text() == expected
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    table = load_prices(path)
    assert table["gpt-4o"] == Price(9.0, 11.0)
    assert table["embed-x"] == Price(0.05)


def test_batch_cost_or_why_there_is_none() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000, total_tokens=2_000_000)
    batch = Batch("b", "completed", "/v1/chat/completions", "file-x", 0, model="gpt-4o")
    priced = replace(batch, usage=usage)
    found = batch_cost(priced, {"gpt-4o": Price(2.0, 8.0)})
    assert found.cost is not None and found.cost.standard == 10.0 and found.cost.batch == 5.0
    assert found.price == Price(2.0, 8.0) and not found.missing
    assert batch_cost(batch, {}).missing == "usage"
    unknown = batch_cost(priced, {"o3": Price(1.0)})
    assert unknown.missing == "price" and unknown.note == "no price for model gpt-4o"
    broken = batch_cost(priced, PriceError("prices.toml: models.'x' must be a table"))
    assert broken.missing == "prices" and broken.cost is None
    assert broken.note == "price table unusable: prices.toml: models.'x' must be a table"
