"""Seed a server with realistic batches in every state, for ``batchdeck demo``.

:func:`seed_demo` writes straight into the running server's store (no HTTP, well
under a second) and returns what it made, so the caller can put descriptions and
tags into its registry. Each batch is created in the simulated past with its own
timing, so that by "now" it has reached the state it shows:

=========================  ===========================================================
completed                  support-ticket summaries (chat), 3 failed lines
completed                  product descriptions translated to German (responses)
completed                  forum moderation sweep (moderations), a few flagged
completed, all failed      catalogue embeddings with bad ``dimensions``: only an
                           error file, ``output_file_id`` null
failed                     refund e-mail drafts whose file has five validation errors
in_progress (advancing)    live ticket triage; finishes ``advance_seconds`` of real
                           time after seeding, so a watching UI sees counts move
finalizing                 review sentiment, stays finalizing for hours
expired                    2019 ticket backfill: about half done when 24 h ran out
cancelled                  catalogue translation to French, cancelled part way
cancelling                 FAQ embeddings, cancel requested, still cancelling
validating                 weekly digest, still validating
=========================  ===========================================================

Beside them, :func:`queued_job_lines` is a job too big for the demo's
``gpt-4.1-nano`` enqueued-token limit: ``batchdeck demo`` queues it (``submit
--queue``) and the app's queue runner sends it part by part as the limit leaves room.

Failed lines use the echo model's rules (see :mod:`tui.localapi.echo`): a
``temperature`` above 2 or ``max_tokens`` of 0 is refused like the real API would, and
``"metadata": {"simulate": "[fail:503]"}`` asks for a 503.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tui.localapi.clock import COMPLETION_WINDOW_SECONDS, Timing

if TYPE_CHECKING:
    from tui.localapi.lifecycle import Engine
    from tui.localapi.server import LocalServer
    from tui.localapi.store import Store

HOUR = 3600.0

CUSTOMERS = ("Ana", "Bilal", "Chen", "Dara", "Emil", "Fatima", "Greta", "Hiro", "Ines", "Jonas")
PRODUCTS = (
    "Aurora desk lamp",
    "Basalt water bottle",
    "Cirrus rain jacket",
    "Delta trail shoes",
    "Ember cast-iron pan",
    "Fjord wool blanket",
    "Glacier cooler bag",
    "Harbor backpack",
)
ISSUES = (
    "arrived with a cracked base and the replacement never shipped",
    "was charged twice for the same order",
    "the size chart is wrong; the medium fits like a small",
    "tracking has said 'label created' for nine days",
    "the discount code from the newsletter is rejected at checkout",
    "wants to change the delivery address after dispatch",
    "the colour in the photos does not match the item received",
    "asks whether the warranty covers a broken zip after 14 months",
)
DESCRIPTIONS = (
    "Hand-finished oak frame with a linen shade; warm 2700 K light, dimmable by touch.",
    "Double-walled steel keeps drinks cold for 24 hours and hot for 12; leak-proof lid.",
    "Three-layer shell, fully taped seams, packs into its own pocket.",
    "Grippy lugged outsole and a cushioned midsole for long days on rough ground.",
    "Pre-seasoned, oven-safe to 260 °C, and it only gets better with use.",
    "Merino wool woven in Norway; warm without weight, machine-washable cold.",
    "Closed-cell foam keeps ice for two days; wipe-clean liner.",
    "30 litres, padded laptop sleeve, and a harness that carries weight on the hips.",
)
FORUM_POSTS = (
    "Does anyone know when the spring collection drops?",
    "This jacket kept me dry on a 6 hour hike, highly recommend.",
    "You are an idiot if you pay full price for this.",
    "Shipping to Canada took only four days, impressive.",
    "I will attack anyone who says the old logo was better. (joking!)",
    "Is the pan safe on induction hobs?",
)


QUEUED_MODEL = "gpt-4.1-nano"
QUEUED_DESCRIPTION = "Catalogue Q&A drafts (queued: flows through the gpt-4.1-nano limit)"
QUEUED_PARTS = 8  # the job is split into about this many parts
QUEUED_IN_FLIGHT = 3  # the limit holds this many parts at once
QUESTIONS = (
    "Is it machine-washable?",
    "What is the warranty?",
    "Does it ship to Norway?",
    "How heavy is it?",
    "Is it suitable for children?",
)


def queued_job_lines(count: int = 160) -> list[dict[str, Any]]:
    """A chat job answering customer questions about the catalogue, for the queue."""
    return [
        _line(
            f"qa-{i:04d}",
            "/v1/chat/completions",
            {
                "model": QUEUED_MODEL,
                "messages": [
                    {"role": "system", "content": "Answer as the shop, in two sentences."},
                    {
                        "role": "user",
                        "content": f"{PRODUCTS[i % len(PRODUCTS)]}: {QUESTIONS[i % 5]} "
                        f"{DESCRIPTIONS[i % len(DESCRIPTIONS)]}",
                    },
                ],
                "max_tokens": 80,
            },
        )
        for i in range(count)
    ]


@dataclass(frozen=True, slots=True)
class _Plan:
    key: str
    description: str
    tags: tuple[str, ...]
    endpoint: str
    filename: str
    lines: list[dict[str, Any]]
    timing: Timing
    age: float
    cancel_after: float | None = None
    expect: str = "completed"


def seed_demo(server: LocalServer, *, advance_seconds: float = 300.0) -> list[dict[str, Any]]:
    """Create demo files and batches in ``server``; returns one dict per batch.

    Each dict has ``id``, ``status`` (the state it is in now), ``description``,
    ``tags``, ``endpoint``, ``input_file_id`` and ``input_filename``. The in-progress
    batch finishes about ``advance_seconds`` of real time after seeding (at the
    server's time scale).
    """
    scale = float(getattr(server.clock, "scale", 1.0) or 1.0)

    def seed() -> list[dict[str, Any]]:
        return _seed(server.store, server.engine, advance_seconds * scale)

    created = server.call(seed)
    server.settle()
    return created


def _seed(store: Store, engine: Engine, ahead: float) -> list[dict[str, Any]]:
    now = engine.now()
    out: list[dict[str, Any]] = []
    for plan in _plans(now, ahead):
        created_at = now - plan.age
        data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in plan.lines)
        record = store.create_file(
            data.encode(),
            filename=plan.filename,
            purpose="batch",
            created_at=created_at - 60,
            expires_at=created_at - 60 + 30 * 24 * HOUR,
        )
        batch = engine.create_batch(
            input_file_id=record["id"],
            endpoint=plan.endpoint,
            metadata={"project": "demo", "job": plan.key},
            timing=plan.timing,
            created_at=created_at,
            cancel_at=None if plan.cancel_after is None else created_at + plan.cancel_after,
        )
        out.append(
            {
                "id": batch["id"],
                "status": plan.expect,
                "description": plan.description,
                "tags": list(plan.tags),
                "endpoint": plan.endpoint,
                "input_file_id": record["id"],
                "input_filename": plan.filename,
            }
        )
    return out


def _line(custom_id: str, url: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": body}


def _ticket(i: int) -> str:
    customer = CUSTOMERS[i % len(CUSTOMERS)]
    product = PRODUCTS[(i * 3) % len(PRODUCTS)]
    issue = ISSUES[(i * 5) % len(ISSUES)]
    return f"Ticket #{48100 + i} from {customer}: the {product} {issue}. Order {7300 + i * 7}."


def _summary_lines(count: int, prefix: str, failures: bool = False) -> list[dict[str, Any]]:
    lines = []
    for i in range(count):
        body: dict[str, Any] = {
            "model": "gpt-4o-mini",
            "messages": [
                {
                    "role": "system",
                    "content": "You are a support lead. Summarise the ticket in one sentence "
                    "and tag its urgency as low, normal or high.",
                },
                {"role": "user", "content": _ticket(i)},
            ],
            "max_tokens": 120,
        }
        if failures and i == 7:
            body["temperature"] = 2.5
        if failures and i == 19:
            body["max_tokens"] = 0
        if failures and i == 33:
            body["metadata"] = {"simulate": "[fail:503]"}
        lines.append(_line(f"{prefix}-{i:04d}", "/v1/chat/completions", body))
    return lines


def _translate_lines(count: int, language: str, prefix: str) -> list[dict[str, Any]]:
    return [
        _line(
            f"{prefix}-{i:04d}",
            "/v1/responses",
            {
                "model": "gpt-4.1-mini",
                "instructions": f"Translate the product description into {language}. "
                "Keep units and product names.",
                "input": f"{PRODUCTS[i % len(PRODUCTS)]}: {DESCRIPTIONS[i % len(DESCRIPTIONS)]}",
            },
        )
        for i in range(count)
    ]


def _embedding_lines(count: int, prefix: str, dimensions: int) -> list[dict[str, Any]]:
    return [
        _line(
            f"{prefix}-{i:04d}",
            "/v1/embeddings",
            {
                "model": "text-embedding-3-small",
                "input": f"{PRODUCTS[i % len(PRODUCTS)]} — {DESCRIPTIONS[(i * 3) % 8]}",
                "dimensions": dimensions,
            },
        )
        for i in range(count)
    ]


def _invalid_lines() -> list[dict[str, Any] | Any]:
    lines: list[Any] = _summary_lines(10, "refund")
    lines[1] = "{not json"  # line 2
    lines[3]["custom_id"] = lines[2]["custom_id"]  # line 4: duplicate
    lines[5]["url"] = "/v1/completions"  # line 6: url mismatch
    lines[6]["body"]["model"] = "gpt-4o"  # line 7: model mismatch
    del lines[8]["body"]["model"]  # line 9: missing model
    return lines


def _plans(now: float, ahead: float) -> list[_Plan]:
    hold = max(6 * HOUR, ahead * 10)  # long enough to stay put while the demo runs
    day = time.strftime("%Y-%m-%d", time.gmtime(now))
    live_total = 400
    live_step = max(0.05, ahead / (0.75 * live_total))
    live_age = 30 + 0.25 * live_total * live_step
    expired_count = 80
    return [
        _Plan(
            "ticket-summaries",
            "Nightly support-ticket summaries",
            ("support", "nightly"),
            "/v1/chat/completions",
            f"tickets-{day}.jsonl",
            _summary_lines(48, "ticket", failures=True),
            Timing(validation=40, per_request=15, finalizing=90),
            age=5 * HOUR,
        ),
        _Plan(
            "translate-de",
            "Product descriptions → German",
            ("catalogue", "translation", "de"),
            "/v1/responses",
            "catalogue-de.jsonl",
            _translate_lines(30, "German", "de"),
            Timing(validation=25, per_request=40, finalizing=60),
            age=26 * HOUR,
        ),
        _Plan(
            "forum-moderation",
            "Forum moderation sweep",
            ("community", "moderation"),
            "/v1/moderations",
            "forum-posts.jsonl",
            [
                _line(
                    f"post-{i:04d}",
                    "/v1/moderations",
                    {"model": "omni-moderation-latest", "input": FORUM_POSTS[i % 6]},
                )
                for i in range(24)
            ],
            Timing(validation=10, per_request=5, finalizing=30),
            age=9 * HOUR,
        ),
        _Plan(
            "embed-bad-dimensions",
            "Catalogue embeddings (wrong dimensions: every line failed)",
            ("catalogue", "embeddings", "broken"),
            "/v1/embeddings",
            "catalogue-embeddings-4096.jsonl",
            _embedding_lines(20, "emb", 4096),
            Timing(validation=20, per_request=3, finalizing=20),
            age=3 * HOUR,
        ),
        _Plan(
            "refund-drafts",
            "Refund e-mail drafts (broken input file)",
            ("support", "refunds"),
            "/v1/chat/completions",
            "refund-drafts.jsonl",
            _invalid_lines(),
            Timing(validation=15),
            age=2 * HOUR,
            expect="failed",
        ),
        _Plan(
            "ticket-triage-live",
            "Live ticket triage (still running)",
            ("support", "live"),
            "/v1/chat/completions",
            f"triage-{day}.jsonl",
            _summary_lines(live_total, "triage"),
            Timing(validation=30, per_request=live_step, finalizing=30),
            age=live_age,
            expect="in_progress",
        ),
        _Plan(
            "review-sentiment",
            "Review sentiment (EU shops)",
            ("reviews", "eu"),
            "/v1/chat/completions",
            "reviews-eu.jsonl",
            _summary_lines(60, "review"),
            Timing(validation=20, per_request=10, finalizing=hold),
            age=40 * 60,
            expect="finalizing",
        ),
        _Plan(
            "backfill-2019",
            "Backfill: 2019 tickets (ran out of time)",
            ("support", "backfill"),
            "/v1/chat/completions",
            "tickets-2019.jsonl",
            _summary_lines(expired_count, "bf2019"),
            Timing(
                validation=60,
                per_request=COMPLETION_WINDOW_SECONDS / (0.55 * expired_count),
                finalizing=60,
            ),
            age=30 * HOUR,
            expect="expired",
        ),
        _Plan(
            "translate-fr",
            "Product descriptions → French (cancelled)",
            ("catalogue", "translation", "fr"),
            "/v1/responses",
            "catalogue-fr.jsonl",
            _translate_lines(50, "French", "fr"),
            Timing(validation=30, per_request=120, cancelling=300),
            age=6 * HOUR,
            cancel_after=30 + 21 * 120 + 45,
            expect="cancelled",
        ),
        _Plan(
            "faq-embeddings",
            "FAQ embeddings (cancel requested)",
            ("support", "embeddings"),
            "/v1/embeddings",
            "faq-embeddings.jsonl",
            _embedding_lines(40, "faq", 256),
            Timing(validation=20, per_request=110, cancelling=hold),
            age=50 * 60,
            cancel_after=50 * 60 - 120,
            expect="cancelling",
        ),
        _Plan(
            "weekly-digest",
            "Weekly digest drafts (validating)",
            ("newsletter",),
            "/v1/chat/completions",
            "weekly-digest.jsonl",
            _summary_lines(25, "digest"),
            Timing(validation=hold),
            age=20,
            expect="validating",
        ),
    ]
