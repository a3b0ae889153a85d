"""What batches cost: the registry's last snapshots priced with the price table.

:func:`compute_spend` takes the jobs batchdeck knows (their last batch snapshot),
keeps the batches created since a time, prices each one's ``usage`` with
:func:`tui.core.pricing.batch_cost` and adds them up per day (UTC, of the batch's
``created_at``), model, tag (a batch with two tags counts under both; the total
counts it once) or profile. Each group holds the tokens, what they cost at the
standard price, what the Batch API bills (the discount applied) and the difference,
the money saved.

A batch without usage yet (none reported, or no tokens while it is not final) or
whose model has no price is never a silent zero: it is counted as *not priced yet*
in its group and listed with the reason. (A final batch whose usage is zero tokens
ran nothing and cost nothing.)

With an admin key, :func:`fetch_billed` asks the Costs API
(``GET /v1/organization/costs``, grouped by line item) what was billed for batches
since the same time: the line items whose name says ``batch``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tui.core import errors
from tui.core.models import Batch
from tui.core.pricing import Price, PriceError, batch_cost, format_usd

if TYPE_CHECKING:
    from tui.core.registry import Job

GROUPINGS = ("day", "model", "tag", "profile")
NO_TAG = "(no tag)"
NO_PROFILE = "(default)"
NO_MODEL = "(no model)"
ADMIN_KEY_ENV = "OPENAI_ADMIN_KEY"
COSTS_PATH = "/organization/costs"
COSTS_PAGE_LIMIT = 180  # the API's largest page of daily buckets
DAY = 86_400


@dataclass
class Tally:
    """One group's batches, tokens and money (USD)."""

    key: str
    batches: int = 0
    not_priced: int = 0
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    standard: float = 0.0  # the same tokens at the standard (synchronous) price
    billed: float = 0.0  # at the Batch API's price

    @property
    def saved(self) -> float:
        return self.standard - self.billed

    def add(self, batch: Batch, prices: dict[str, Price] | PriceError) -> str:
        """Count ``batch``; the reason it is not priced, or ``""``."""
        self.batches += 1
        if batch.usage is not None:
            self.input_tokens += batch.usage.input_tokens
            self.cached_tokens += batch.usage.cached_tokens
            self.output_tokens += batch.usage.output_tokens
        usage = batch.usage
        if usage is None or (not usage.input_tokens and not usage.output_tokens):
            if batch.is_final and usage is not None:
                return ""  # it ended having run nothing: it cost nothing
            self.not_priced += 1
            return "no usage yet"
        priced = batch_cost(batch, prices)
        if priced.cost is None:
            self.not_priced += 1
            return priced.note
        self.standard += priced.cost.standard
        self.billed += priced.cost.batch
        return ""

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "batches": self.batches,
            "not_priced": self.not_priced,
            "input_tokens": self.input_tokens,
            "cached_tokens": self.cached_tokens,
            "output_tokens": self.output_tokens,
            "standard_usd": self.standard,
            "batch_usd": self.billed,
            "saved_usd": self.saved,
        }


@dataclass(frozen=True, slots=True)
class Unpriced:
    """A batch counted but not priced, and why."""

    batch_id: str
    status: str
    reason: str


@dataclass
class Spend:
    """The groups (days oldest first; others by cost, largest first), the total and
    the batches not priced yet."""

    by: str
    since: float
    groups: list[Tally]
    total: Tally
    unpriced: list[Unpriced] = field(default_factory=list)

    @property
    def since_day(self) -> str:
        return day_of(self.since)

    def to_json(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "since": int(self.since),
            "groups": [group.to_json() for group in self.groups],
            "total": self.total.to_json(),
            "not_priced": [
                {"batch_id": u.batch_id, "status": u.status, "reason": u.reason}
                for u in self.unpriced
            ],
        }


def signed_usd(amount: float) -> str:
    """``+$0.42``, ``-$0.0031`` or ``$0.00``: a difference, its sign always shown."""
    if amount == 0:
        return format_usd(0)
    return ("+" if amount > 0 else "-") + format_usd(abs(amount))


def day_of(timestamp: float) -> str:
    """``2026-12-01``: the UTC day of a Unix time."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def group_keys(job: Job, batch: Batch, by: str) -> tuple[str, ...]:
    """The groups ``batch`` counts under when grouped ``by`` (one of :data:`GROUPINGS`)."""
    if by == "day":
        return (day_of(batch.created_at),)
    if by == "model":
        return (batch.model or NO_MODEL,)
    if by == "tag":
        return tuple(dict.fromkeys(job.tags)) or (NO_TAG,)
    if by == "profile":
        return (job.profile or NO_PROFILE,)
    raise ValueError(f"cannot group by {by!r} (only {', '.join(GROUPINGS)})")


def compute_spend(
    jobs: Iterable[Job],
    *,
    since: float,
    by: str = "day",
    prices: dict[str, Price] | PriceError,
    deployments: Mapping[str, Mapping[str, str]] | None = None,
) -> Spend:
    """The spend of the batches in ``jobs``' snapshots created at or after ``since``;
    ``deployments`` (``Config.deployments``) prices a batch whose model is an Azure
    deployment of its job's profile as that deployment's model."""
    from tui.core.providers import with_deployments

    tables: dict[str, dict[str, Price] | PriceError] = {}

    def prices_for(job: Job) -> dict[str, Price] | PriceError:
        name = job.profile or ""
        if name not in tables:
            tables[name] = with_deployments(prices, (deployments or {}).get(name, {}))
        return tables[name]

    if by not in GROUPINGS:
        raise ValueError(f"cannot group by {by!r} (only {', '.join(GROUPINGS)})")
    groups: dict[str, Tally] = {}
    total = Tally("total")
    unpriced: list[Unpriced] = []
    seen: set[str] = set()
    for job in jobs:
        batch = job.batch()
        if batch is None or batch.id in seen or batch.created_at < since:
            continue
        seen.add(batch.id)
        priced = prices_for(job)
        reason = total.add(batch, priced)
        if reason:
            unpriced.append(Unpriced(batch.id, batch.status, reason))
        for key in group_keys(job, batch, by):
            groups.setdefault(key, Tally(key)).add(batch, priced)
    ordered = sorted(groups.values(), key=lambda t: t.key)
    if by != "day":
        ordered.sort(key=lambda t: t.billed, reverse=True)
    unpriced.sort(key=lambda u: u.batch_id)
    return Spend(by, since, ordered, total, unpriced)


def daily_amounts(by_day: Spend, until: float) -> list[tuple[str, float]]:
    """Every UTC day from ``by_day.since`` to ``until`` with its Batch-price spend (a
    day without batches is 0: nothing was spent), for a chart. ``by_day`` is grouped
    by day."""
    if by_day.by != "day":
        raise ValueError("daily_amounts needs a spend grouped by day")
    billed = {group.key: group.billed for group in by_day.groups}
    days: list[tuple[str, float]] = []
    start = int(by_day.since) - int(by_day.since) % DAY
    for moment in range(start, int(until) + 1, DAY):
        day = day_of(moment)
        days.append((day, billed.get(day, 0.0)))
    return days


# -- what the Costs API says was billed ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Billed:
    """The batch spend the Costs API reports since a time: the total and each line
    item counted (name -> USD)."""

    amount: float
    line_items: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return {"batch_usd": self.amount, "line_items": self.line_items}


def is_batch_line_item(name: str) -> bool:
    """Whether a Costs API line item is Batch API spend (its name says ``batch``)."""
    return "batch" in name.lower()


def billed_from_pages(pages: Iterable[dict[str, Any]]) -> Billed:
    """Add up the batch line items of Costs API pages (``data`` of daily buckets)."""
    items: dict[str, float] = {}
    for page in pages:
        for bucket in page.get("data") or ():
            for result in (bucket or {}).get("results") or ():
                name = (result or {}).get("line_item")
                if not isinstance(name, str) or not is_batch_line_item(name):
                    continue
                items[name] = items.get(name, 0.0) + _amount((result or {}).get("amount"), name)
    return Billed(sum(items.values()), dict(sorted(items.items())))


def _amount(raw: Any, name: str) -> float:
    value = raw.get("value") if isinstance(raw, dict) else None
    try:
        return float(value) if not isinstance(value, bool) and value is not None else 0.0
    except (TypeError, ValueError):
        raise errors.ServerError(
            f"The Costs API gave line item {name!r} an amount that is not a number."
        ) from None


async def fetch_billed(base_url: str, admin_key: str, since: float) -> Billed:
    """What the Costs API at ``base_url`` reports billed for batches since ``since``.

    ``admin_key`` (an organization admin key) goes only into the request's
    Authorization header."""
    import httpx2
    import openai

    from tui.core.client import translate_errors
    from tui.core.jsonsafe import loads

    pages: list[dict[str, Any]] = []
    query: dict[str, Any] = {
        "start_time": int(since),
        "bucket_width": "1d",
        "group_by": "line_item",
        "limit": COSTS_PAGE_LIMIT,
    }
    async with openai.AsyncOpenAI(api_key=admin_key, base_url=base_url, max_retries=2) as sdk:
        while True:
            with translate_errors():
                response = await sdk.get(
                    COSTS_PATH, cast_to=httpx2.Response, options={"params": query}
                )
            try:
                page = loads(response.content)
            except ValueError:
                page = None
            if not isinstance(page, dict):
                raise errors.ServerError("The Costs API answered with something not a page.")
            pages.append(page)
            following = page.get("next_page")
            if not page.get("has_more") or not isinstance(following, str) or not following:
                break
            query = {**query, "page": following}
    return billed_from_pages(pages)
