"""The Queue screen's budget bar says where the limit comes from and how full it is."""

from __future__ import annotations

from tui.core.queue_limits import TokenLimit
from tui.core.queue_view import Lane
from tui.widgets.queue_budget import budget_bar, lane_title


def lane(limit: TokenLimit, in_flight: int) -> Lane:
    return Lane("work", "gpt-4o-mini\x1b[2J", in_flight, limit, ())


def test_a_learned_limit_is_named_and_the_bar_is_filled_to_its_share() -> None:
    learned = lane(TokenLimit(4000, "learned", None, 4000), 3000)
    title = lane_title(learned).plain
    assert title.startswith("gpt-4o-mini\\x1b[2J · work · limit 4,000")
    assert "(learned from a token_limit_exceeded failure)" in title and "0 parts waiting" in title
    bar = budget_bar(learned, 60).plain
    assert bar.endswith("]  3,000 / 4,000 tokens in flight  75%") and len(bar) == 60
    inside = bar[1 : bar.index("]")]
    assert inside.count("█") == round(0.75 * len(inside))


def test_an_unknown_limit_says_so() -> None:
    unknown = lane(TokenLimit(None, "unknown"), 1234)
    assert "limit ? (unknown: learned from the first failure)" in lane_title(unknown).plain
    bar = budget_bar(unknown, 60).plain
    assert bar.endswith("1,234 tokens in flight, limit unknown") and "█" not in bar


def test_an_anthropic_lane_counts_requests() -> None:
    claude = Lane(
        "claude", "claude-haiku-4-5", 250, TokenLimit(1000, "configured", 1000), (), "requests"
    )
    assert budget_bar(claude, 70).plain.endswith("250 / 1,000 requests in flight  25%")
