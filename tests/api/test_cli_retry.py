"""``batchdeck retry BATCH_ID``: the results screen's ``R`` from a script. A linked
batch through the journal (``retry_of`` both ways) of only the chosen outcomes."""

from __future__ import annotations

import json

import openai
import pytest

from tests.api._cli import point_at, run
from tests.api.conftest import chat_line, read_lines, submit
from tui.core.registry import Registry
from tui.core.results import retry_links
from tui.localapi.server import LocalServer

Capsys = pytest.CaptureFixture[str]
MARKERS = ["", "[fail:429]", "[fail:500]", "[fail:400]", ""]


@pytest.fixture
def parent(
    manual_server: LocalServer, manual_client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A finished batch: req-0 and req-4 answered, req-1 a 429, req-2 a 500, req-3 a 400."""
    point_at(manual_server, monkeypatch)
    lines = [chat_line(f"req-{i}", f"Ticket {i} {m}") for i, m in enumerate(MARKERS)]
    batch = submit(manual_client, lines)
    manual_server.advance(60)
    assert manual_client.batches.retrieve(batch.id).status == "completed"
    return str(batch.id)


def retry_json(capsys: Capsys, *argv: str) -> dict:
    ran = run(capsys, "retry", *argv, "--json")
    assert ran.code == 0, ran.err
    [record] = ran.json_lines()
    return record


def test_retry_failed_submits_a_linked_batch_of_only_those(
    parent: str, manual_client: openai.OpenAI, capsys: Capsys
) -> None:
    record = retry_json(capsys, parent, "--outcome", "failed")
    child = record["batch_id"]
    assert record["retry_of"] == parent and record["requests"] == 3
    assert record["custom_ids"] == ["req-1", "req-2", "req-3"]
    remote = manual_client.batches.retrieve(child)
    assert remote.metadata is not None and remote.metadata["retry_of"] == parent
    sent = read_lines(manual_client, remote.input_file_id)
    assert [line["custom_id"] for line in sent] == ["req-1", "req-2", "req-3"]
    assert "[fail:429]" in json.dumps(sent[0])  # the original line, unchanged
    registry = Registry()
    job = registry.find_by_batch(child)
    assert job is not None and job.retry_of == parent and job.job_id == record["job_id"]
    assert retry_links(registry, parent).retried_by == (child,)
    assert retry_links(registry, child).retry_of == parent


def test_retry_by_default_sends_what_can_succeed_unchanged(parent: str, capsys: Capsys) -> None:
    record = retry_json(capsys, parent)
    assert record["outcome"] == "retryable" and record["custom_ids"] == ["req-1", "req-2"]
    ran = run(capsys, "retry", parent, "--outcome", "all")
    assert ran.code == 0 and f"retry of {parent} with 3 requests (all), job" in ran.out


def test_retry_with_nothing_chosen_is_exit_1(parent: str, capsys: Capsys) -> None:
    ran = run(capsys, "retry", parent, "--outcome", "missing")
    assert ran.code == 1 and "nothing to retry" in ran.err
    assert retry_links(Registry(), parent).retried_by == ()


def test_retry_of_an_unknown_batch_is_exit_1(parent: str, capsys: Capsys) -> None:
    ran = run(capsys, "retry", "batch_nope")
    assert ran.code == 1 and "batch_nope" in ran.err
    assert run(capsys, "retry", parent, "--outcome", "bogus").code == 2
