"""The headless commands on an Anthropic profile (``provider = "anthropic"``) against
the embedded server's Message Batches API: submit, ls, show, watch, results,
download, cancel and reconcile, with the same exit codes as on OpenAI."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.api._cli import Ran, run
from tests.api.conftest import API_KEY, MakeServer
from tui.core import paths
from tui.localapi.clock import ManualClock, Timing
from tui.localapi.server import LocalServer

Capsys = pytest.CaptureFixture[str]
FAST = ("--interval", "0.01s", "--timeout", "30s")
KEY_ENV = "BD_ANTHROPIC_TEST_KEY"


def claude_profile(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    path = paths.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'[settings]\nprofile = "claude"\n\n[profiles.claude]\nprovider = "anthropic"\n'
        f'base_url = "{server.url}"\napi_key_env = "{KEY_ENV}"\n',
        encoding="utf-8",
    )


def requests_file(
    tmp_path: Path, count: int, fail: tuple[int, ...] = (), name: str = "in.jsonl"
) -> Path:
    lines = []
    for i in range(count):
        text = f"question {i}" + (" [fail:500]" if i in fail else "")
        params = {
            "model": "claude-haiku-4-5",
            "max_tokens": 64,
            "messages": [{"role": "user", "content": text}],
        }
        lines.append(json.dumps({"custom_id": f"req-{i}", "params": params}) + "\n")
    path = tmp_path / name
    path.write_text("".join(lines))
    return path


def submitted(ran: Ran) -> str:
    assert ran.code == 0, ran.err
    (batch,) = json.loads(ran.out)["batches"]
    return str(batch["batch_id"])


def test_submit_watch_show_ls_results_download(
    make_server: MakeServer, tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(time_scale=100_000)
    claude_profile(server, monkeypatch)
    batch_id = submitted(run(capsys, "submit", str(requests_file(tmp_path, 4)), "--json"))
    assert batch_id.startswith("msgbatch_")

    ran = run(capsys, "watch", batch_id, *FAST)
    assert ran.code == 0, ran.err
    assert "completed" in ran.out

    ran = run(capsys, "show", batch_id, "--json")
    assert ran.code == 0, ran.err
    shown = json.loads(ran.out)
    assert shown["status"] == "completed" and shown["endpoint"] == "/v1/messages"
    assert shown["request_counts"] == {"total": 4, "completed": 4, "failed": 0}

    ran = run(capsys, "ls", "--json")
    assert ran.code == 0, ran.err
    assert [row["id"] for row in ran.json_lines()] == [batch_id]

    ran = run(capsys, "results", batch_id, "--json")
    assert ran.code == 0, ran.err
    rows = ran.json_lines()
    assert [r["custom_id"] for r in rows] == [f"req-{i}" for i in range(4)]
    assert {r["outcome"] for r in rows} == {"ok"}
    ran = run(capsys, "show", batch_id, "--json")  # priced from the usage in the results
    cost = json.loads(ran.out)["cost"]
    assert cost is not None and cost["model"] == "claude-haiku-4-5" and cost["batch_usd"] > 0

    target = tmp_path / "results.jsonl"
    ran = run(capsys, "download", batch_id, "--output", str(target))
    assert ran.code == 0, ran.err
    kinds = [json.loads(x)["result"]["type"] for x in target.read_text().splitlines()]
    assert kinds == ["succeeded"] * 4
    assert run(capsys, "download", batch_id, "--output", str(target)).code == 1  # exists
    assert run(capsys, "download", batch_id, "--file", "error", "--output", "-").code == 1


def test_a_failed_request_makes_watch_exit_1(
    make_server: MakeServer, tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(time_scale=100_000)
    claude_profile(server, monkeypatch)
    batch_id = submitted(
        run(capsys, "submit", str(requests_file(tmp_path, 3, fail=(1,))), "--json")
    )
    ran = run(capsys, "watch", batch_id, *FAST)
    assert ran.code == 1
    ran = run(capsys, "results", batch_id, "--json")
    outcomes = {r["custom_id"]: r["outcome"] for r in ran.json_lines()}
    assert outcomes == {"req-0": "ok", "req-1": "http_error", "req-2": "ok"}


def test_cancel_then_watch(
    make_server: MakeServer, tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(clock=ManualClock(start=time.time()), timing=Timing(per_request=60.0))
    claude_profile(server, monkeypatch)
    batch_id = submitted(run(capsys, "submit", str(requests_file(tmp_path, 5)), "--json"))
    server.advance(130)  # two requests ran
    ran = run(capsys, "cancel", batch_id, "--yes", "--json")
    assert ran.code == 0, ran.err
    assert ran.json_lines()[0]["status"] == "cancelling"
    server.advance(60)
    ran = run(capsys, "watch", batch_id, *FAST)
    assert ran.code == 1 and "cancelled" in ran.out
    ran = run(capsys, "results", batch_id, "--json")
    outcomes = sorted(r["outcome"] for r in ran.json_lines())
    assert outcomes == ["not_run_cancelled"] * 3 + ["ok"] * 2


def test_refusals_and_unknowns(
    make_server: MakeServer, tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(clock=ManualClock())
    claude_profile(server, monkeypatch)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"custom_id": "a b", "params": {"model": "m", "messages": []}}\n')
    ran = run(capsys, "submit", str(bad))
    assert ran.code == 1
    assert f"{bad}:1: custom_id:" in ran.out and f"{bad}:1: params.max_tokens:" in ran.out
    assert run(capsys, "submit", str(requests_file(tmp_path, 1)), "--split").code == 2
    assert run(capsys, "show", "msgbatch_nope").code == 1
    assert run(capsys, "watch", "msgbatch_nope", *FAST).code == 1
    monkeypatch.delenv(KEY_ENV)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "https://api.anthropic.com")
    path = paths.config_file()
    path.write_text('[profiles.real]\nprovider = "anthropic"\n', encoding="utf-8")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert run(capsys, "--profile", "real", "ls").code == 2


def test_reconcile_reports_an_ambiguous_submit(
    make_server: MakeServer, tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import anthropic

    from tui.core.journal import new_token
    from tui.core.registry import Job, Registry

    server = make_server(clock=ManualClock(start=time.time()))
    claude_profile(server, monkeypatch)
    token = new_token()
    Registry().add(
        Job(
            job_id=token,
            input_path=str(requests_file(tmp_path, 2)),
            profile="claude",
            base_url=server.url,
            submission={
                "state": "creating",
                "token": token,
                "provider": "anthropic",
                "endpoint": "/v1/messages",
                "requests": 2,
                "started_at": int(time.time()),
            },
        )
    )
    params: dict[str, Any] = {
        "model": "m",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "x"}],
    }
    with anthropic.Anthropic(base_url=server.url, api_key=API_KEY, max_retries=0) as sdk:
        for tag in "ab":
            sdk.messages.batches.create(
                requests=[{"custom_id": f"{tag}{i}", "params": params} for i in range(2)]  # type: ignore[misc]
            )
    ran = run(capsys, "reconcile", "--json")
    assert ran.code == 1
    (row,) = ran.json_lines()
    assert row["job_id"] == token and row["outcome"] == "ambiguous"


def test_validate_checks_and_estimates_an_anthropic_file(
    make_server: MakeServer, tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(clock=ManualClock())
    claude_profile(server, monkeypatch)
    good = requests_file(tmp_path, 3)
    ran = run(capsys, "validate", str(good))
    assert ran.code == 0, ran.err
    assert f"{good}: 3 requests" in ran.out and "/v1/messages" in ran.out
    assert "cost (batch):" in ran.out  # Claude's prices are in the table
    data = json.loads(run(capsys, "validate", str(good), "--json").out)
    assert data["ok"] and data["estimate"]["output_tokens_max"] == 3 * 64
    bad = tmp_path / "bad.jsonl"
    params = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    bad.write_text(json.dumps({"custom_id": "x", "params": params}) + "\n")
    ran = run(capsys, "validate", str(bad))
    assert ran.code == 1 and f"{bad}:1: params.max_tokens: required by Anthropic" in ran.out


def test_retry_command_sends_what_failed_as_a_linked_message_batch(
    make_server: MakeServer, tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(time_scale=100_000)
    claude_profile(server, monkeypatch)
    parent = submitted(
        run(capsys, "submit", str(requests_file(tmp_path, 4, fail=(1, 3))), "--json")
    )
    assert run(capsys, "watch", parent, *FAST).code == 1  # two requests failed
    ran = run(capsys, "retry", parent, "--outcome", "failed", "--json")
    assert ran.code == 0, ran.err
    (record,) = ran.json_lines()
    assert record["retry_of"] == parent and record["custom_ids"] == ["req-1", "req-3"]
    child = record["batch_id"]
    assert child.startswith("msgbatch_") and child != parent
    assert run(capsys, "watch", child, *FAST).code == 1  # the markers fail again
    ran = run(capsys, "results", parent, "--json")
    assert ran.code == 0, ran.err
    attempts = {r["custom_id"]: r.get("attempt") for r in ran.json_lines()}
    assert set(attempts) == {f"req-{i}" for i in range(4)}


def test_delete_an_ended_batch_only(
    make_server: MakeServer, tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(clock=ManualClock(start=time.time()))
    claude_profile(server, monkeypatch)
    batch_id = submitted(run(capsys, "submit", str(requests_file(tmp_path, 2)), "--json"))
    ran = run(capsys, "delete", batch_id, "--yes")
    assert ran.code == 1 and "cancel it first" in ran.err
    server.advance(60)
    assert run(capsys, "delete", batch_id).code == 2  # a question, and no terminal
    ran = run(capsys, "delete", batch_id, "--yes", "--json")
    assert ran.code == 0, ran.err
    assert ran.json_lines() == [{"id": batch_id, "deleted": True}]
    assert run(capsys, "show", batch_id).code == 1


def test_delete_is_refused_on_an_openai_profile(
    make_server: MakeServer, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(clock=ManualClock())
    claude_profile(server, monkeypatch)
    with paths.config_file().open("a", encoding="utf-8") as config:
        config.write(
            f'\n[profiles.oa]\nbase_url = "{server.base_url}"\napi_key_env = "{KEY_ENV}"\n'
        )
    ran = run(capsys, "--profile", "oa", "delete", "batch_x", "--yes")
    assert ran.code == 2 and "only Anthropic message batches" in ran.err
