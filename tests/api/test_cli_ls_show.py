"""``batchdeck ls`` and ``batchdeck show`` against the embedded server (pinned clock)."""

from __future__ import annotations

import openai
import pytest

from tests.api._cli import point_at, run
from tests.api.conftest import chat_line, chat_lines, submit
from tui.core import timefmt
from tui.core.registry import Job, Registry
from tui.localapi.server import LocalServer

Capsys = pytest.CaptureFixture[str]


@pytest.fixture
def two_batches(
    manual_server: LocalServer, manual_client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, str]:
    """A completed batch (with one failed request) batchdeck knows, and one still
    validating that it does not."""
    point_at(manual_server, monkeypatch)
    done = submit(manual_client, chat_lines(4, fail_every=4), metadata={"team": "ops"}).id
    manual_server.advance(100)
    waiting = submit(manual_client, chat_lines(2)).id
    Registry().add(
        Job(job_id="job_nightly", batch_id=done, description="nightly eval", tags=("a", "b"))
    )
    return done, waiting


def test_ls_table_lists_every_batch_with_registry_text(
    two_batches: tuple[str, str], capsys: Capsys
) -> None:
    done, waiting = two_batches
    ran = run(capsys, "ls")
    assert ran.code == 0, ran.err
    lines = ran.out.splitlines()
    assert lines[0].split()[:3] == ["ID", "STATUS", "REQUESTS"]
    assert lines[1].startswith(waiting + " ") and "validating" in lines[1]  # newest first
    assert lines[2].startswith(done + " ")
    assert "4/4 (1 failed)" in lines[2] and "nightly eval" in lines[2] and "a,b" in lines[2]
    assert ran.err == ""  # stderr is not a terminal: no progress


def test_ls_json_lines_hold_every_field(two_batches: tuple[str, str], capsys: Capsys) -> None:
    done, waiting = two_batches
    records = run(capsys, "ls", "--json").json_lines()
    assert [r["id"] for r in records] == [waiting, done]
    known = records[1]
    assert known["description"] == "nightly eval" and known["tags"] == ["a", "b"]
    assert known["job_id"] == "job_nightly" and known["metadata"] == {"team": "ops"}
    assert known["request_counts"] == {"total": 4, "completed": 3, "failed": 1}
    for field in ("output_file_id", "error_file_id", "completed_at", "expires_at", "usage"):
        assert known[field], field
    assert records[0]["job_id"] is None and records[0]["tags"] == []


def test_ls_filters(
    two_batches: tuple[str, str],
    manual_client: openai.OpenAI,
    capsys: Capsys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    done, waiting = two_batches

    def ids(*argv: str) -> list[str]:
        return [r["id"] for r in run(capsys, "ls", "--json", *argv).json_lines()]

    assert ids("--mine") == [done]
    assert ids("--status", "completed") == [done]
    assert ids("--status", "validating", "failed") == [waiting]
    assert ids("--status", "failed", "--status", "completed") == [done]
    newest = manual_client.batches.retrieve(waiting).created_at
    monkeypatch.setattr(timefmt, "now", lambda: newest + 3 * 86400)
    assert ids("--since", "2d") == []
    assert ids("--since", "4d") == [waiting, done]
    assert ids("--since", "3d", "--mine") == []  # done is 100 s older
    assert ids("--since", "3d2m", "--mine") == [done]


def test_show_text_has_what_the_inspector_shows(
    two_batches: tuple[str, str], capsys: Capsys
) -> None:
    done, _ = two_batches
    ran = run(capsys, "show", done)
    assert ran.code == 0, ran.err
    out = ran.out
    for expected in (
        f"Batch:        {done}",
        "Status:       completed",
        "Description:  nightly eval",
        "Tags:         a, b",
        "Requests:     4 total, 3 completed, 1 failed",
        "Timeline:",
        "  created     ",
        "  completed   ",
        "Usage:",
        "with the Batch API",
        "at the standard price",
        "Metadata:",
        "  team = ops",
        "Expires:",
    ):
        assert expected in out, expected
    assert "Output file:  file-" in out and "Error file:   file-" in out


def test_show_json_has_cost_and_registry(two_batches: tuple[str, str], capsys: Capsys) -> None:
    done, _ = two_batches
    record = run(capsys, "show", done, "--json").json_lines()[0]
    assert record["id"] == done and record["description"] == "nightly eval"
    cost = record["cost"]
    assert cost["model"] == "gpt-4o-mini"
    assert cost["batch_usd"] == pytest.approx(cost["standard_usd"] / 2) and cost["batch_usd"] > 0
    assert record["downloads"] == {}
    # show refreshed the registry's snapshot for offline viewing
    assert Registry().get("job_nightly").status == "completed"  # type: ignore[union-attr]


def test_show_validation_errors_with_line_numbers(
    manual_server: LocalServer,
    manual_client: openai.OpenAI,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Capsys,
) -> None:
    point_at(manual_server, monkeypatch)
    lines = [chat_line("a", "hi"), "{not json", chat_line("a", "again")]
    batch = submit(manual_client, lines)
    manual_server.advance(100)
    ran = run(capsys, "show", batch.id)
    assert "Status:       failed" in ran.out
    assert "line 2: invalid_json_line:" in ran.out
    assert "line 3: duplicate_custom_id:" in ran.out
    errors = run(capsys, "show", batch.id, "--json").json_lines()[0]["errors"]
    assert [(e["line"], e["code"]) for e in errors] == [
        (2, "invalid_json_line"),
        (3, "duplicate_custom_id"),
    ]


def test_show_prints_untrusted_text_literally(
    manual_server: LocalServer,
    manual_client: openai.OpenAI,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Capsys,
) -> None:
    point_at(manual_server, monkeypatch)
    batch = submit(manual_client, chat_lines(1), metadata={"note": "\x1b]2;pwned\x07 [b]x[/b]"})
    out = run(capsys, "show", batch.id).out
    assert "\x1b" not in out and "\x07" not in out
    assert "note = \\x1b]2;pwned\\x07 [b]x[/b]" in out


def test_unknown_batch_is_exit_1(two_batches: tuple[str, str], capsys: Capsys) -> None:
    ran = run(capsys, "show", "batch_nope")
    assert ran.code == 1 and ran.out == ""
    assert ran.err.startswith("batchdeck: unknown batch 'batch_nope'")
    assert "Traceback" not in ran.err


@pytest.mark.parametrize(
    "argv",
    [["ls", "--status", "bogus"], ["ls", "--since", "soon"], ["show"], ["ls", "--nope"]],
)
def test_bad_arguments_exit_2(
    two_batches: tuple[str, str], capsys: Capsys, argv: list[str]
) -> None:
    ran = run(capsys, *argv)
    assert ran.code == 2 and ran.out == ""
    assert "usage: batchdeck" in ran.err and "error:" in ran.err


def test_server_failing_within_retries_is_success(
    two_batches: tuple[str, str], manual_server: LocalServer, capsys: Capsys
) -> None:
    manual_server.faults.add("500", times=2, retry_after=0.01)
    ran = run(capsys, "ls", "--json")
    assert ran.code == 0 and len(ran.json_lines()) == 2
    manual_server.faults.add("500", times=2, retry_after=0.01)
    assert run(capsys, "show", two_batches[0]).code == 0
    assert len(manual_server.faults.fired) == 4


@pytest.mark.parametrize("argv", [["ls"], ["show", "batch_x"]])
def test_server_failing_beyond_retries_is_exit_1(
    two_batches: tuple[str, str], manual_server: LocalServer, capsys: Capsys, argv: list[str]
) -> None:
    manual_server.faults.add("500", times=None, retry_after=0.01)
    ran = run(capsys, *argv)
    assert ran.code == 1 and ran.out == ""
    assert ran.err.startswith("batchdeck: Server error (500)")
    assert "Traceback" not in ran.err and len(ran.err.splitlines()) == 1


def test_profile_after_the_subcommand(
    two_batches: tuple[str, str], manual_server: LocalServer, capsys: Capsys
) -> None:
    from tui.core import paths

    paths.config_file().parent.mkdir(parents=True, exist_ok=True)
    paths.config_file().write_text(
        f'[profiles.other]\nbase_url = "http://127.0.0.1:9/v1"\n'
        f'[profiles.here]\nbase_url = "{manual_server.base_url}"\n'
    )
    assert run(capsys, "ls", "--json", "--profile", "here").code == 0
    assert run(capsys, "--profile", "here", "ls").code == 0
    ran = run(capsys, "ls", "--profile", "nope")
    assert ran.code == 2 and "no profile named 'nope'" in ran.err


def test_show_keeps_a_space_after_a_long_label(
    two_batches: tuple[str, str], capsys: Capsys
) -> None:
    done, _ = two_batches
    Registry().update("job_nightly", downloads={"output": "/data/out.jsonl"})
    ran = run(capsys, "show", done)
    assert ran.code == 0, ran.err
    assert "Downloaded output: /data/out.jsonl" in ran.out
    assert "Status:       completed" in ran.out  # short labels keep their column
