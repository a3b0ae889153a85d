"""Demo seeding: batches in every state, with one still moving."""

from __future__ import annotations

import time

from openai.types import Batch, FileObject

from tests.api.conftest import MakeServer, make_client, read_lines
from tui.core.models import BATCH_STATUSES
from tui.localapi.clock import ManualClock
from tui.localapi.demo import seed_demo


def test_seed_demo_makes_every_state(make_server: MakeServer) -> None:
    server = make_server(clock=ManualClock(), timing=None)
    made = seed_demo(server)
    assert {m["status"] for m in made} == set(BATCH_STATUSES)
    for entry in made:
        batch = Batch.model_validate(server.batch(entry["id"]))
        assert batch.status == entry["status"], entry
        assert entry["description"] and entry["tags"] and entry["input_filename"]
        assert batch.endpoint == entry["endpoint"] and batch.input_file_id == entry["input_file_id"]
    by_key = {server.batch(m["id"])["metadata"]["job"]: server.batch(m["id"]) for m in made}
    summaries = by_key["ticket-summaries"]
    assert summaries["request_counts"]["failed"] == 3 and summaries["output_file_id"]
    broken = by_key["embed-bad-dimensions"]
    assert broken["status"] == "completed" and broken["output_file_id"] is None
    assert broken["error_file_id"]
    refund = by_key["refund-drafts"]
    lines = [e["line"] for e in refund["errors"]["data"]]
    assert len(lines) >= 4 and all(isinstance(n, int) for n in lines)
    for key in ("backfill-2019", "translate-fr"):
        partial = by_key[key]
        assert partial["output_file_id"] and partial["error_file_id"]
        counts = partial["request_counts"]
        assert 0 < counts["completed"] < counts["total"]
    cancelling = by_key["faq-embeddings"]["request_counts"]
    assert 0 < cancelling["completed"] < cancelling["total"]
    with make_client(server) as client:
        for file in client.files.list():
            FileObject.model_validate(file.model_dump())
        expired = read_lines(client, by_key["backfill-2019"]["error_file_id"])
        assert {x["error"]["code"] for x in expired} == {"batch_expired"}


def test_the_live_batch_keeps_moving(make_server: MakeServer) -> None:
    server = make_server(clock=ManualClock(), timing=None)
    live = next(m for m in seed_demo(server) if m["status"] == "in_progress")
    before = server.batch(live["id"])["request_counts"]["completed"]
    server.advance(60)
    after = server.batch(live["id"])["request_counts"]["completed"]
    assert 0 < before < after < 400
    server.advance(300)
    assert server.batch(live["id"])["status"] in ("finalizing", "completed")


def test_the_live_batch_moves_in_real_time(make_server: MakeServer) -> None:
    server = make_server(time_scale=1, timing=None)
    live = next(m for m in seed_demo(server, advance_seconds=20) if m["status"] == "in_progress")
    before = server.batch(live["id"])["request_counts"]["completed"]
    deadline = time.monotonic() + 5
    while server.batch(live["id"])["request_counts"]["completed"] == before:
        assert time.monotonic() < deadline, "the live demo batch did not move"
        time.sleep(0.01)
