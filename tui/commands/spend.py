"""``batchdeck spend [--since 30d] [--by day|model|tag|profile] [--json]``: what the
batches batchdeck knows cost, from the registry's last snapshots and the price table
(:mod:`tui.core.spend`), with the Batch discount as money saved.

Batches without usage yet (or without a price for their model) are counted and
listed as "not priced yet", never as zero. With ``OPENAI_ADMIN_KEY`` in the
environment, the batch spend the Costs API reports for the same time is printed
beside batchdeck's figure, with the difference. No other API call is made.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from tui.commands import _shared

if TYPE_CHECKING:
    from tui.core.spend import Billed, Spend

DEFAULT_SINCE = "30d"


def add_parser(sub: Any) -> None:
    from tui.core.spend import ADMIN_KEY_ENV, GROUPINGS

    parser = sub.add_parser(
        "spend",
        help="what batches cost, per day, model, tag or profile",
        description="What the batches batchdeck knows cost (their usage at the price table's "
        "Batch price) and what the Batch discount saved. Batches with no usage yet are "
        f"listed as not priced yet. With {ADMIN_KEY_ENV} set, the Costs API's billed batch "
        "spend is shown beside it.",
    )
    parser.add_argument(
        "--since",
        type=_shared.parse_duration,
        default=_shared.parse_duration(DEFAULT_SINCE),
        metavar="AGE",
        help=f"batches created within this age (default {DEFAULT_SINCE}), e.g. 7d, 12h",
    )
    parser.add_argument("--by", choices=GROUPINGS, default="day", help="how to group (default day)")
    _shared.add_common(parser)


def run(args: argparse.Namespace) -> int:
    return _shared.guarded(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from tui.core import timefmt
    from tui.core.pricing import load_prices
    from tui.core.spend import ADMIN_KEY_ENV, compute_spend

    prices = load_prices()  # a broken price table is an error here, not a shrug
    jobs = _shared.open_registry().load().values()
    since = timefmt.now() - args.since
    spend = compute_spend(jobs, since=since, by=args.by, prices=prices, deployments=_deployments())
    billed = None
    admin_key = os.environ.get(ADMIN_KEY_ENV)
    if admin_key:
        billed = _billed(args, admin_key, spend.since)
    if args.json:
        record = spend.to_json()
        if billed is not None:
            record["billed"] = {
                **billed.to_json(),
                "difference_usd": billed.amount - spend.total.billed,
            }
        _shared.emit_json(record)
    else:
        _shared.write(spend_text(spend, billed))
    return _shared.EXIT_OK


def _deployments() -> dict[str, dict[str, str]]:
    """Each profile's Azure deployments, priced as their models; none when the config
    cannot be read (spend reads the registry and needs no profile)."""
    from tui.core.config import ConfigError, load_config

    try:
        return load_config().deployments()
    except ConfigError:
        return {}


def _billed(args: argparse.Namespace, admin_key: str, since: float) -> Billed:
    import asyncio

    from tui.core.config import ConfigError, load_config
    from tui.core.spend import fetch_billed

    try:  # the admin key is enough: no API key needed for the profile
        profile = load_config().profile(getattr(args, "profile", None))
    except ConfigError as exc:
        raise _shared.CommandError(str(exc), _shared.EXIT_USAGE) from exc
    return asyncio.run(fetch_billed(profile.resolved_base_url(), admin_key, since))


def spend_text(spend: Spend, billed: Billed | None) -> str:
    """The spend as a plain table, the not-priced batches and the Costs API line."""
    from tui.core.pricing import format_usd
    from tui.core.spend import signed_usd
    from tui.core.text import one_line, plural

    headers = (
        spend.by.upper(),
        "BATCHES",
        "INPUT",
        "CACHED",
        "OUTPUT",
        "STANDARD",
        "BATCH",
        "SAVED",
    )

    def cells(t: Any, key: str) -> list[str]:
        batches = f"{t.batches}" + (f" ({t.not_priced} not priced yet)" if t.not_priced else "")
        return [
            key,
            batches,
            f"{t.input_tokens:,}",
            f"{t.cached_tokens:,}",
            f"{t.output_tokens:,}",
            format_usd(t.standard),
            format_usd(t.billed),
            format_usd(t.saved),
        ]

    rows = [cells(t, one_line(t.key, 40)) for t in spend.groups]
    rows.append(cells(spend.total, "total"))
    out = [f"Spend since {spend.since_day} (UTC), by {spend.by}\n"]
    if not spend.groups:
        out.append("No batch in the registry was created in that time.\n")
    else:
        out.append(_shared.table(headers, rows, last_free=False))
    if spend.unpriced:
        out.append(f"Not priced yet: {plural(len(spend.unpriced), 'batch', 'batches')}\n")
        out.extend(f"  {u.batch_id} ({u.status}): {one_line(u.reason)}\n" for u in spend.unpriced)
    if billed is not None:
        difference = billed.amount - spend.total.billed
        out.append(
            f"Billed (Costs API, batch line items): {format_usd(billed.amount)}; "
            f"batchdeck: {format_usd(spend.total.billed)}; difference: {signed_usd(difference)}\n"
        )
    return "".join(out)
