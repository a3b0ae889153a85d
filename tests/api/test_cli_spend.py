"""``batchdeck spend``: sums match the seeded snapshots' usage (hand-computed), each
grouping, the JSON shape, "not priced yet", and the Costs API's billed figure beside
batchdeck's (the embedded server's fake of ``GET /v1/organization/costs``)."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.api._cli import point_at, run
from tests.api.conftest import API_KEY, chat_lines, submit
from tui.core import timefmt
from tui.core.models import Batch, RequestCounts, Usage
from tui.core.registry import Job, Registry
from tui.core.spend import billed_from_pages, signed_usd
from tui.localapi.server import LocalServer

Capsys = pytest.CaptureFixture[str]
NOW = 1_780_000_000.0  # 2026-05-28 20:26:40 UTC
DAY = 86_400


def seed(batch_id: str, *, days_ago: float, model: str, usage: Usage | None, **job: Any) -> None:
    batch = Batch(
        id=batch_id,
        status="completed" if usage else "validating",
        endpoint="/v1/chat/completions",
        input_file_id="file-in",
        created_at=int(NOW - days_ago * DAY),
        model=model,
        usage=usage,
        request_counts=RequestCounts(total=10, completed=10 if usage else 0),
    )
    Registry().add(Job(batch_id=batch_id, snapshot=batch.to_dict(), **job))


@pytest.fixture
def seeded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Five batches; by hand (USD per million, standard price; Batch API half):

    b1 gpt-4o-mini: 800k input x 0.15 + 200k cached x 0.075 + 500k output x 0.60
       = 0.12 + 0.015 + 0.30 = 0.435 standard, 0.2175 batch
    b2 gpt-4o: 2M input x 2.50 + 100k output x 10 = 6.00 standard, 3.00 batch
    b3 no usage yet; b5 a model with no price: both "not priced yet"
    b4 40 days old: outside the default 30 days
    """
    monkeypatch.setattr(timefmt, "now", lambda: NOW)
    monkeypatch.delenv("OPENAI_ADMIN_KEY", raising=False)
    mini = Usage(input_tokens=1_000_000, cached_tokens=200_000, output_tokens=500_000)
    big = Usage(input_tokens=2_000_000, output_tokens=100_000)
    seed("b1", days_ago=3, model="gpt-4o-mini", usage=mini, tags=("nightly",), profile="work")
    seed("b2", days_ago=1, model="gpt-4o", usage=big, tags=("nightly", "eval"))
    seed("b3", days_ago=1, model="gpt-4o-mini", usage=None, tags=("eval",))
    seed("b4", days_ago=40, model="gpt-4o", usage=big)
    seed("b5", days_ago=1, model="mystery-model", usage=Usage(input_tokens=5))


def spend_json(capsys: Capsys, *argv: str) -> dict[str, Any]:
    ran = run(capsys, "spend", "--json", *argv)
    assert ran.code == 0, ran.err
    [record] = ran.json_lines()
    return record


def money(record: dict[str, Any]) -> tuple[str, int, int, float, float, float]:
    return (
        record["key"],
        record["batches"],
        record["not_priced"],
        round(record["standard_usd"], 6),
        round(record["batch_usd"], 6),
        round(record["saved_usd"], 6),
    )


def test_total_matches_the_snapshots_usage(seeded: None, capsys: Capsys) -> None:
    record = spend_json(capsys)
    assert money(record["total"]) == ("total", 4, 2, 6.435, 3.2175, 3.2175)
    assert record["total"]["input_tokens"] == 3_000_005
    assert record["total"]["cached_tokens"] == 200_000
    assert record["total"]["output_tokens"] == 600_000
    assert record["by"] == "day" and record["since"] == int(NOW - 30 * DAY)
    assert record["not_priced"] == [
        {"batch_id": "b3", "status": "validating", "reason": "no usage yet"},
        {"batch_id": "b5", "status": "completed", "reason": "no price for model mystery-model"},
    ]
    assert "billed" not in record  # no admin key


@pytest.mark.parametrize(
    ("by", "groups"),
    [
        (
            "day",
            [("2026-05-25", 1, 0, 0.435, 0.2175, 0.2175), ("2026-05-27", 3, 2, 6.0, 3.0, 3.0)],
        ),
        (
            "model",
            [
                ("gpt-4o", 1, 0, 6.0, 3.0, 3.0),
                ("gpt-4o-mini", 2, 1, 0.435, 0.2175, 0.2175),
                ("mystery-model", 1, 1, 0.0, 0.0, 0.0),
            ],
        ),
        (
            "tag",
            [
                ("nightly", 2, 0, 6.435, 3.2175, 3.2175),
                ("eval", 2, 1, 6.0, 3.0, 3.0),
                ("(no tag)", 1, 1, 0.0, 0.0, 0.0),
            ],
        ),
        (
            "profile",
            [("(default)", 3, 2, 6.0, 3.0, 3.0), ("work", 1, 0, 0.435, 0.2175, 0.2175)],
        ),
    ],
)
def test_each_grouping(seeded: None, capsys: Capsys, by: str, groups: list[tuple]) -> None:
    record = spend_json(capsys, "--by", by)
    assert [money(group) for group in record["groups"]] == groups


def test_since_takes_in_older_batches(seeded: None, capsys: Capsys) -> None:
    record = spend_json(capsys, "--since", "60d")
    assert money(record["total"]) == ("total", 5, 2, 12.435, 6.2175, 6.2175)
    assert spend_json(capsys, "--since", "12h")["groups"] == []


def test_text_output_says_not_priced_yet(seeded: None, capsys: Capsys) -> None:
    ran = run(capsys, "spend", "--by", "model")
    assert ran.code == 0, ran.err
    assert "Spend since 2026-04-28 (UTC), by model" in ran.out
    lines = ran.out.splitlines()
    assert any(
        line.split()[:2] == ["gpt-4o-mini", "2"] and "1 not priced yet" in line for line in lines
    )
    total = next(line for line in lines if line.startswith("total"))
    assert total.split()[-3:] == ["$6.43", "$3.22", "$3.22"]
    assert "Not priced yet: 2 batches" in ran.out
    assert "  b3 (validating): no usage yet" in lines


def test_a_broken_price_table_is_an_error(seeded: None, capsys: Capsys) -> None:
    from tui.core.pricing import prices_file

    prices_file().parent.mkdir(parents=True, exist_ok=True)
    prices_file().write_text("[models\n")
    ran = run(capsys, "spend")
    assert ran.code == 1 and "prices.toml" in ran.err


def test_billed_counts_only_batch_line_items() -> None:
    page = {
        "data": [
            {
                "results": [
                    {"line_item": "gpt-4o-mini, batch", "amount": {"value": 0.5}},
                    {"line_item": "gpt-4o-mini, input", "amount": {"value": 9.0}},
                    {"line_item": "GPT-4o Batch output", "amount": {"value": "0.25"}},
                ]
            },
            {"results": [{"line_item": "gpt-4o-mini, batch", "amount": {"value": 0.5}}]},
        ]
    }
    billed = billed_from_pages([page])
    assert billed.amount == 1.25
    assert billed.line_items == {"GPT-4o Batch output": 0.25, "gpt-4o-mini, batch": 1.0}
    assert [signed_usd(x) for x in (0.5, -0.0031, 0.0)] == ["+$0.50", "-$0.0031", "$0.00"]


def test_admin_key_shows_the_costs_api_beside_it(
    manual_server: LocalServer,
    manual_client: openai.OpenAI,
    capsys: Capsys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    point_at(manual_server, monkeypatch)
    monkeypatch.setattr(timefmt, "now", manual_server.clock)
    batch = submit(manual_client, chat_lines(4))
    manual_server.advance(3600)
    done = manual_client.batches.retrieve(batch.id)
    assert done.status == "completed" and done.usage is not None
    registry = Registry()
    registry.record_snapshot(Batch.from_dict(done.model_dump()), create=True)
    extra = Usage(input_tokens=1_000_000)  # a batch the server never billed: $0.075
    seed_at = manual_server.clock() - 60
    stray = Batch(
        "b_stray",
        "completed",
        "/v1/chat/completions",
        "f",
        int(seed_at),
        model="gpt-4o-mini",
        usage=extra,
    )
    registry.add(Job(batch_id="b_stray", snapshot=stray.to_dict()))

    monkeypatch.setenv("OPENAI_ADMIN_KEY", API_KEY)
    record = spend_json(capsys, "--since", "1d")
    billed = record["billed"]
    ours = record["total"]["batch_usd"]
    assert list(billed["line_items"]) == ["gpt-4o-mini, batch"]
    assert billed["batch_usd"] == pytest.approx(ours - 0.075)
    assert billed["difference_usd"] == pytest.approx(-0.075)
    ran = run(capsys, "spend", "--since", "1d")
    assert "difference: -$0.07" in ran.out
    assert API_KEY not in ran.out + ran.err


def test_zero_usage_is_not_priced_until_the_batch_is_final(
    monkeypatch: pytest.MonkeyPatch, capsys: Capsys
) -> None:
    monkeypatch.setattr(timefmt, "now", lambda: NOW)
    monkeypatch.delenv("OPENAI_ADMIN_KEY", raising=False)
    seed("running", days_ago=1, model="", usage=None)
    zero = Batch("failed", "failed", "/v1/chat/completions", "f", int(NOW - DAY), usage=Usage())
    zero_running = Batch(
        "early", "validating", "/v1/chat/completions", "f", int(NOW - DAY), usage=Usage()
    )
    Registry().add(Job(batch_id="failed", snapshot=zero.to_dict()))
    Registry().add(Job(batch_id="early", snapshot=zero_running.to_dict()))
    record = spend_json(capsys)
    assert money(record["total"]) == ("total", 3, 2, 0.0, 0.0, 0.0)
    assert [(u["batch_id"], u["reason"]) for u in record["not_priced"]] == [
        ("early", "no usage yet"),
        ("running", "no usage yet"),
    ]


def test_the_admin_key_alone_is_enough_and_a_refused_one_is_exit_1(
    manual_server: LocalServer, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_at(manual_server, monkeypatch)
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setattr(timefmt, "now", manual_server.clock)
    monkeypatch.setenv("OPENAI_ADMIN_KEY", API_KEY)
    record = spend_json(capsys)
    assert record["billed"] == {"batch_usd": 0.0, "line_items": {}, "difference_usd": 0.0}
    monkeypatch.setenv("OPENAI_ADMIN_KEY", "sk-admin-not-this-one")
    ran = run(capsys, "spend")
    assert ran.code == 1 and "Incorrect API key" in ran.err
    assert "sk-admin-not-this-one" not in ran.out + ran.err and "Traceback" not in ran.err


def test_an_azure_deployment_is_priced_as_its_model(
    seeded: None, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch whose model is a deployment of its job's profile (``[profiles.az.
    deployments]``) is priced as that model, as the inspector and ``show`` price it."""
    from tui.core import paths

    path = paths.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[profiles.az.deployments]\n"reviews-prod" = "gpt-4o"\n', encoding="utf-8")
    big = Usage(input_tokens=2_000_000, output_tokens=100_000)
    seed("b6", days_ago=1, model="reviews-prod", usage=big, profile="az")
    seed("b7", days_ago=1, model="reviews-prod", usage=big)  # another profile's: no price
    record = spend_json(capsys)
    assert money(record["total"]) == ("total", 6, 3, 12.435, 6.2175, 6.2175)
    assert {u["batch_id"] for u in record["not_priced"]} == {"b3", "b5", "b7"}
