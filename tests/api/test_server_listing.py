"""``GET /v1/batches`` pages are put together from each batch's JSON, kept for finished
batches: a page always shows every batch as it is now (active ones refreshed, a
finished one changed through the store shows the change), with the headers of a
plain JSON response."""

from __future__ import annotations

from typing import Any

import openai

from tests.api.conftest import API_KEY, chat_lines, raw, submit
from tui.localapi.server import LocalServer


def page(server: LocalServer, query: str = "") -> tuple[dict[str, str], dict[str, Any]]:
    status, headers, body = raw(server.url, "GET", f"/v1/batches{query}")
    assert status == 200, body
    return headers, body


def test_pages_show_every_batch_as_it_is_now(
    manual_server: LocalServer, manual_client: openai.OpenAI
) -> None:
    done = [submit(manual_client, chat_lines(2)).id for _ in range(3)]
    manual_server.advance(3_600)
    running = submit(manual_client, chat_lines(2)).id
    headers, first = page(manual_server, "?limit=3")
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert first["object"] == "list" and first["has_more"] is True
    assert [b["id"] for b in first["data"]] == [running, done[2], done[1]]
    assert first["first_id"] == running and first["last_id"] == done[1]
    assert first["data"] == [manual_server.batch(b) for b in (running, done[2], done[1])]
    assert first["data"][0]["status"] == "validating"
    assert {b["status"] for b in first["data"][1:]} == {"completed"}

    manual_server.advance(3_600)  # the running batch finishes: the page shows it
    _, again = page(manual_server, "?limit=3")
    assert again["data"][0]["status"] == "completed"
    assert again["data"] == [manual_server.batch(b) for b in (running, done[2], done[1])]

    def retag() -> None:  # a finished batch changed through the store
        record = manual_server.store.batches[done[1]]
        record["metadata"] = {"note": "changed, ü"}
        manual_server.store.save_batch(record)

    manual_server.call(retag)
    _, retagged = page(manual_server, "?limit=3")  # the same page again, now changed
    assert retagged["data"][2]["metadata"] == {"note": "changed, ü"}
    _, last = page(manual_server, f"?after={done[2]}")
    assert last["data"][0]["metadata"] == {"note": "changed, ü"}
    assert last["has_more"] is False and last["last_id"] == done[0]
    assert manual_client.batches.retrieve(done[1]).metadata == {"note": "changed, ü"}
    _, empty = page(manual_server, f"?after={done[0]}")
    assert empty == {"object": "list", "data": [], "has_more": False}

    newest = submit(manual_client, chat_lines(1)).id  # a new batch: on the first page
    _, grown = page(manual_server, "?limit=3")
    assert [b["id"] for b in grown["data"]] == [newest, running, done[2]]
    _, none_left = page(manual_server, f"?after={done[0]}")
    assert none_left["data"] == [] and grown["has_more"] is True


def test_a_lone_surrogate_in_memory_is_still_answered(
    manual_server: LocalServer, manual_client: openai.OpenAI
) -> None:
    batch_id = submit(manual_client, chat_lines(1)).id
    manual_server.advance(3_600)

    def poison() -> None:  # no request can put one there; JSON still comes out
        manual_server.store.batches[batch_id]["metadata"] = {"k": "\udc80"}

    manual_server.call(poison)
    status, _, body = raw(manual_server.url, "GET", f"/v1/batches/{batch_id}", key=API_KEY)
    assert status == 200 and body["metadata"] == {"k": "\udc80"}
    _, listed = page(manual_server)
    assert listed["data"][0]["metadata"] == {"k": "\udc80"}
