"""``batchdeck registry ls|describe|note|tag|forget`` and ``batchdeck reconcile``."""

from __future__ import annotations

import io
import time

import openai
import pytest

from tests.api._cli import point_at, run
from tests.api.conftest import chat_lines, submit, upload
from tui.core.notes import notes_of
from tui.core.registry import Job, Registry
from tui.localapi.server import LocalServer

Capsys = pytest.CaptureFixture[str]


class _NotATerminal(io.StringIO):
    def isatty(self) -> bool:
        return False


@pytest.fixture
def known(server: LocalServer, client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch) -> Job:
    point_at(server, monkeypatch)
    batch = submit(client, chat_lines(1))
    return Registry().add(
        Job(job_id="job_a", batch_id=batch.id, description="first", tags=("x",), created_at=1.0)
    )


def test_ls_needs_no_server_or_key(capsys: Capsys) -> None:
    ran = run(capsys, "registry", "ls")
    assert ran.code == 0 and ran.out == "" and "empty" in ran.err
    Registry().add(Job(job_id="job_b", description="line one\nline two", tags=("t1", "t2")))
    ran = run(capsys, "registry", "ls")
    assert ran.code == 0
    header, row = ran.out.splitlines()
    assert header.split()[:3] == ["JOB", "BATCH", "STATUS"]
    assert row.startswith("job_b ") and "line one\\x0aline two" in row and row.endswith("t1,t2")
    (record,) = run(capsys, "registry", "ls", "--json").json_lines()
    assert record["job_id"] == "job_b" and record["tags"] == ["t1", "t2"]
    for field in ("batch_id", "input_path", "profile", "base_url", "downloads", "submission"):
        assert field in record
    assert record["status"] is None and record["notes"] == []


def test_describe_and_tag_by_job_or_batch_id(known: Job, capsys: Capsys) -> None:
    ran = run(capsys, "registry", "describe", "job_a", "nightly eval")
    assert ran.code == 0 and ran.out == ""
    assert ran.err == "Replaced the description of job_a (was: first)\n"  # said, never silent
    assert Registry().get("job_a").description == "nightly eval"  # type: ignore[union-attr]
    assert run(capsys, "registry", "describe", known.batch_id or "", "by batch").code == 0
    assert Registry().get("job_a").description == "by batch"  # type: ignore[union-attr]
    ran = run(capsys, "registry", "tag", "job_a", "+eval", "-x", "nightly", "+eval")
    assert ran.code == 0 and ran.out == "eval,nightly\n"
    assert run(capsys, "registry", "tag", known.batch_id or "", "-nightly").out == "eval\n"
    assert Registry().get("job_a").tags == ("eval",)  # type: ignore[union-attr]


def test_note_adds_dated_notes_and_keeps_the_description(known: Job, capsys: Capsys) -> None:
    ran = run(capsys, "registry", "note", "job_a", "rerun with temperature 0")
    assert ran.code == 0 and ran.out == ""
    assert "Added note 1 to job_a" in ran.err and "description is unchanged" in ran.err
    assert run(capsys, "registry", "note", known.batch_id or "", "numbers\x1b[31m off").code == 0
    job = Registry().get("job_a")
    assert job is not None and job.description == "first"  # nothing replaced
    texts = [note.text for note in notes_of(job)]
    assert texts == ["rerun with temperature 0", "numbers\x1b[31m off"]
    (record,) = run(capsys, "registry", "ls", "--json").json_lines()
    assert [note["text"] for note in record["notes"]] == texts
    assert record["description"] == "first" and "notes" not in record["extra"]
    header, row = run(capsys, "registry", "ls").out.splitlines()
    assert "NOTES" in header.split() and row.split()[-2:] == ["2", "x"]
    shown = run(capsys, "show", known.batch_id or "").out
    assert "rerun with temperature 0" in shown and "numbers\\x1b[31m off" in shown  # escaped
    assert "\x1b" not in shown
    assert run(capsys, "registry", "note", "job_a", "  ").code == 2


def test_note_on_a_batch_batchdeck_did_not_submit_adopts_it(
    server: LocalServer, client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch, capsys: Capsys
) -> None:
    point_at(server, monkeypatch)
    batch = submit(client, chat_lines(1))
    assert run(capsys, "registry", "describe", batch.id, "made elsewhere").code == 0
    job = Registry().find_by_batch(batch.id)
    assert job is not None and job.description == "made elsewhere"
    assert job.base_url == server.base_url and job.snapshot is not None


def test_unknown_job_or_batch_is_exit_1(known: Job, capsys: Capsys) -> None:
    for argv in (
        ["registry", "note", "batch_nope", "text"],
        ["registry", "describe", "batch_nope", "text"],
        ["registry", "tag", "batch_nope", "+a"],
        ["registry", "forget", "batch_nope", "--yes"],
    ):
        ran = run(capsys, *argv)
        assert ran.code == 1 and "batch_nope" in ran.err and "Traceback" not in ran.err, argv
    assert len(Registry().load()) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["registry"],
        ["registry", "rename", "a"],
        ["registry", "note", "job_a"],
        ["registry", "describe", "job_a"],
        ["registry", "tag", "job_a"],
        ["registry", "tag", "job_a", "+"],
        ["registry", "tag", "job_a", "+a,b"],
        ["registry", "tag", "job_a", "+a", "--profile", "x"],
    ],
)
def test_bad_arguments_exit_2(known: Job, capsys: Capsys, argv: list[str]) -> None:
    ran = run(capsys, *argv)
    assert ran.code == 2 and ran.out == "" and "batchdeck" in ran.err
    assert Registry().get("job_a") == known


def test_forget_asks_unless_yes(
    known: Job, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", _NotATerminal("y\n"))
    ran = run(capsys, "registry", "forget", "job_a")
    assert ran.code == 2 and "pass --yes" in ran.err and Registry().get("job_a") is not None
    ran = run(capsys, "registry", "forget", known.batch_id or "", "--yes")
    assert ran.code == 0 and ran.out == f"forgot job job_a (batch {known.batch_id})\n"
    assert Registry().load() == {}


def test_adopting_through_a_failing_server(
    server: LocalServer, client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch, capsys: Capsys
) -> None:
    point_at(server, monkeypatch)
    batch = submit(client, chat_lines(1))
    server.faults.add("500", times=2, retry_after=0.01)
    assert run(capsys, "registry", "tag", batch.id, "+a").code == 0
    other = submit(client, chat_lines(1))
    server.faults.add("500", times=None, retry_after=0.01)
    ran = run(capsys, "registry", "note", other.id, "x")
    assert ran.code == 1 and ran.err.startswith("batchdeck: Server error (500)")
    assert Registry().find_by_batch(other.id) is None


# -- reconcile -----------------------------------------------------------------------


def _interrupted(server: LocalServer, token: str, state: str, **fields: object) -> None:
    submission = {
        "state": state,
        "token": token,
        "endpoint": "/v1/chat/completions",
        "metadata": {"team": "ops"},
        "started_at": int(time.time()),
        **fields,
    }
    Registry().add(
        Job(job_id=token, base_url=server.base_url, profile="default", submission=submission)
    )


def test_reconcile_settles_and_says_what_it_did(
    server: LocalServer, client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch, capsys: Capsys
) -> None:
    point_at(server, monkeypatch)
    assert run(capsys, "reconcile").out == ""  # nothing to do; silent for scripts
    file_id = upload(client, chat_lines(2), name="bd-00000000000000aa--in.jsonl")
    _interrupted(server, "bd-00000000000000aa", "uploaded", input_file_id=file_id)
    _interrupted(server, "bd-00000000000000bb", "intent")
    ran = run(capsys, "reconcile")
    assert ran.code == 0, ran.err
    lines = sorted(ran.out.splitlines())
    assert lines[0].startswith("bd-00000000000000aa  created  batch_")
    assert lines[1] == "bd-00000000000000bb  abandoned  -  nothing had been uploaded"
    created = Registry().get("bd-00000000000000aa")
    assert created is not None and created.batch_id
    assert client.batches.retrieve(created.batch_id).metadata == {
        "team": "ops",
        "batchdeck_token": "bd-00000000000000aa",
    }
    assert run(capsys, "reconcile", "--json").out == ""  # settled for good


def test_reconcile_json_and_a_failing_server(
    server: LocalServer, client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch, capsys: Capsys
) -> None:
    point_at(server, monkeypatch)
    _interrupted(server, "bd-00000000000000cc", "intent")
    server.faults.add("500", times=None, retry_after=0.01)
    ran = run(capsys, "reconcile", "--json")
    assert ran.code == 1 and ran.err.startswith("batchdeck: Server error (500)")
    server.faults.clear()
    server.faults.add("500", times=2, retry_after=0.01)
    (record,) = run(capsys, "reconcile", "--json").json_lines()
    assert record == {
        "job_id": "bd-00000000000000cc",
        "outcome": "abandoned",
        "batch_id": None,
        "detail": "nothing had been uploaded",
    }
    assert run(capsys, "reconcile", "--bogus").code == 2
