"""Providers end to end: ``batchdeck --profile NAME ...`` against the embedded server
speaking each dialect (``LocalServer(dialect=..., quirks=...)``).

Azure: ``AsyncAzureOpenAI`` with the ``api-key`` header and ``?api-version=`` (the azure
dialect answers 404 without it and 401 without the key); Groq: its windows refused or
accepted before anything is sent; quirks: ISO timestamps, upper-case and unknown
statuses, missing counts, read by ls, show and watch.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.api._cli import Ran, run
from tests.api.conftest import API_KEY, MakeServer, chat_line, chat_lines, jsonl
from tui.core import paths
from tui.localapi.clock import ManualClock
from tui.localapi.server import LocalServer

Capsys = pytest.CaptureFixture[str]
FAST = ("--interval", "0.01s", "--timeout", "30s")
KEY_ENV = "BD_PROVIDER_TEST_KEY"
DEPLOYMENT = "gpt-4o-mini-batch"


def write_config(body: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    path = paths.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")


def azure_profile(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(
        f'[profiles.azure]\nprovider = "azure"\nazure_endpoint = "{server.url}"\n'
        f'api_version = "2024-10-21"\napi_key_env = "{KEY_ENV}"\n'
        f'[profiles.azure.deployments]\n"{DEPLOYMENT}" = "gpt-4o-mini"\n',
        monkeypatch,
    )


def groq_profile(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(
        f'[profiles.groq]\nprovider = "groq"\nbase_url = "{server.base_url}"\n'
        f'api_key_env = "{KEY_ENV}"\n',
        monkeypatch,
    )


def requests_file(tmp_path: Path, lines: list[dict], name: str = "in.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(jsonl(lines))
    return path


def submitted(ran: Ran) -> dict:
    assert ran.code == 0, ran.err
    data = json.loads(ran.out)
    (batch,) = data["batches"]
    return dict(batch)


def test_azure_submit_ls_watch_and_export(
    make_server: MakeServer, tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(dialect="azure", time_scale=100_000)
    azure_profile(server, monkeypatch)
    lines = [chat_line(f"req-{i}", f"line {i}", model=DEPLOYMENT) for i in range(3)]
    path = requests_file(tmp_path, lines)

    batch = submitted(run(capsys, "--profile", "azure", "submit", str(path), "--json"))
    batch_id = batch["batch_id"]
    assert batch_id.startswith("batch_") and len(batch_id) == len("batch_") + 36  # uuid

    ran = run(capsys, "--profile", "azure", "watch", batch_id, *FAST)
    assert ran.code == 0, ran.err
    assert "completed" in ran.out

    ran = run(capsys, "--profile", "azure", "show", batch_id, "--json")
    assert ran.code == 0, ran.err
    cost = json.loads(ran.out)["cost"]  # the deployment is priced as its model
    assert cost is not None and cost["model"] == DEPLOYMENT and cost["batch_usd"] > 0

    ran = run(capsys, "--profile", "azure", "ls", "--json")
    assert ran.code == 0, ran.err
    listed = {row["id"]: row for row in ran.json_lines()}
    assert listed[batch_id]["status"] == "completed"

    out = tmp_path / "answers.csv"
    ran = run(capsys, "--profile", "azure", "results", batch_id, "--export", str(out))
    assert ran.code == 0, ran.err
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["custom_id"] for row in rows) == ["req-0", "req-1", "req-2"]
    assert API_KEY not in ran.out + ran.err


def test_azure_without_the_key_is_refused_and_the_key_never_shows(
    make_server: MakeServer, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(dialect="azure")
    azure_profile(server, monkeypatch)
    monkeypatch.setenv(KEY_ENV, "wrong-key-0123456789abcdef")
    ran = run(capsys, "--profile", "azure", "ls")
    assert ran.code != 0
    assert "refused the key" in ran.err
    assert "wrong-key-0123456789abcdef" not in ran.out + ran.err


def test_azure_refuses_a_bom_before_sending(
    make_server: MakeServer, tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(dialect="azure")
    azure_profile(server, monkeypatch)
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + jsonl([chat_line("a", "x", model=DEPLOYMENT)]))
    ran = run(capsys, "--profile", "azure", "submit", str(path))
    assert ran.code == 1
    assert "utf8_bom" in ran.out
    assert "nothing sent" in ran.err


def test_groq_windows_refused_and_accepted(
    make_server: MakeServer, tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(dialect="groq", time_scale=100_000)
    groq_profile(server, monkeypatch)
    path = requests_file(tmp_path, chat_lines(2))

    ran = run(capsys, "--profile", "groq", "submit", str(path), "--completion-window", "30d")
    assert ran.code == 2
    assert "'30d' is not offered by groq" in ran.err and "7d" in ran.err

    ran = run(capsys, "--profile", "groq", "submit", str(path), "--expires-after", "7d")
    assert ran.code == 2 and "groq takes no output expiry" in ran.err

    batch = submitted(
        run(capsys, "--profile", "groq", "submit", str(path), "--completion-window", "7d", "--json")
    )
    ran = run(capsys, "--profile", "groq", "show", batch["batch_id"], "--json")
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["completion_window"] == "7d"


def test_groq_refuses_embeddings_before_sending(
    make_server: MakeServer, tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(dialect="groq")
    groq_profile(server, monkeypatch)
    line = {
        "custom_id": "e1",
        "method": "POST",
        "url": "/v1/embeddings",
        "body": {"model": "m", "input": "x"},
    }
    path = requests_file(tmp_path, [line])
    ran = run(capsys, "--profile", "groq", "submit", str(path))
    assert ran.code == 1
    assert "not offered" in ran.out


def test_openai_window_is_24h_only(
    make_server: MakeServer, tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server()
    write_config(
        f'[profiles.local]\nbase_url = "{server.base_url}"\napi_key_env = "{KEY_ENV}"\n',
        monkeypatch,
    )
    path = requests_file(tmp_path, chat_lines(1))
    ran = run(capsys, "--profile", "local", "submit", str(path), "--completion-window", "48h")
    assert ran.code == 2 and "not offered by openai" in ran.err


@pytest.mark.parametrize("dialect", ["openai", "azure"])
def test_quirks_ls_show_and_watch_work(
    dialect: str,
    make_server: MakeServer,
    tmp_path: Path,
    capsys: Capsys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = make_server(dialect=dialect, quirks=True, time_scale=100_000)
    if dialect == "azure":
        azure_profile(server, monkeypatch)
    else:
        write_config(
            f'[profiles.quirky]\nprovider = "compatible"\nbase_url = "{server.base_url}"\n'
            f'api_key_env = "{KEY_ENV}"\n',
            monkeypatch,
        )
    name = "azure" if dialect == "azure" else "quirky"
    path = requests_file(tmp_path, chat_lines(2))
    batch_id = submitted(run(capsys, "--profile", name, "submit", str(path), "--json"))["batch_id"]

    ran = run(capsys, "--profile", name, "watch", batch_id, *FAST)
    assert ran.code == 0, ran.err
    assert "completed" in ran.out

    ran = run(capsys, "--profile", name, "show", batch_id, "--json")
    assert ran.code == 0, ran.err
    shown = json.loads(ran.out)
    assert shown["status"] == "completed"
    assert isinstance(shown["created_at"], int) and shown["created_at"] > 1_600_000_000
    assert shown["request_counts"]["total"] == 2

    ran = run(capsys, "--profile", name, "ls", "--json")
    assert ran.code == 0, ran.err
    (row,) = [r for r in ran.json_lines() if r["id"] == batch_id]
    assert row["status"] == "completed"


def test_an_unknown_status_is_shown_as_sent_and_watch_goes_on(
    make_server: MakeServer, tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Quirks answer ``queued`` (no OpenAI status) early in validation: ``show`` prints
    it as it is, and ``watch`` does not take it for an end (it times out, exit 124)."""
    server = make_server(quirks=True, clock=ManualClock())
    write_config(
        f'[profiles.quirky]\nbase_url = "{server.base_url}"\napi_key_env = "{KEY_ENV}"\n',
        monkeypatch,
    )
    path = requests_file(tmp_path, chat_lines(1))
    batch_id = submitted(run(capsys, "--profile", "quirky", "submit", str(path), "--json"))[
        "batch_id"
    ]
    ran = run(capsys, "--profile", "quirky", "show", batch_id, "--json")
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["status"] == "queued"
    ran = run(
        capsys, "--profile", "quirky", "watch", batch_id, "--interval", "0.01s", "--timeout", "0.2s"
    )
    assert ran.code == 124, ran.err
    assert "queued" in ran.out


def dialect_profile(dialect: str, server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A profile for ``server`` in ``dialect``; returns its name."""
    if dialect == "azure":
        azure_profile(server, monkeypatch)
        return "azure"
    if dialect == "groq":
        groq_profile(server, monkeypatch)
        return "groq"
    write_config(
        f'[profiles.openai]\nbase_url = "{server.base_url}"\napi_key_env = "{KEY_ENV}"\n',
        monkeypatch,
    )
    return "openai"


@pytest.mark.parametrize("dialect", ["openai", "azure", "groq"])
def test_every_command_works_on_each_dialect(
    dialect: str,
    make_server: MakeServer,
    tmp_path: Path,
    capsys: Capsys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = make_server(dialect=dialect, time_scale=100_000)
    name = dialect_profile(dialect, server, monkeypatch)
    profile = ("--profile", name)
    path = requests_file(tmp_path, chat_lines(2))

    assert run(capsys, *profile, "validate", "--no-estimate", str(path)).code == 0
    done = submitted(run(capsys, *profile, "submit", str(path), "--json"))["batch_id"]
    assert run(capsys, *profile, "watch", done, *FAST).code == 0
    ran = run(capsys, *profile, "results", done, "--json")
    assert ran.code == 0, ran.err
    assert sorted(row["custom_id"] for row in ran.json_lines()) == ["req-0", "req-1"]
    out = tmp_path / "output.jsonl"
    ran = run(capsys, *profile, "download", done, "--output", str(out))
    assert ran.code == 0, ran.err
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2
    ran = run(capsys, *profile, "files", "ls", "--json")
    assert ran.code == 0, ran.err
    assert {row["purpose"] for row in ran.json_lines()} >= {"batch", "batch_output"}

    slow = make_server(dialect=dialect, clock=ManualClock())
    name = dialect_profile(dialect, slow, monkeypatch)
    pending = submitted(run(capsys, "--profile", name, "submit", str(path), "--json"))["batch_id"]
    ran = run(capsys, "--profile", name, "cancel", pending, "--yes")
    assert ran.code == 0, ran.err
    ran = run(capsys, "--profile", name, "show", pending, "--json")
    assert json.loads(ran.out)["status"] in ("cancelling", "cancelled")


def test_validate_uses_the_profile_limits(
    make_server: MakeServer, tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(dialect="groq")
    groq_profile(server, monkeypatch)
    body = {"model": "m", "input": "x"}
    line = {"custom_id": "e", "method": "POST", "url": "/v1/embeddings", "body": body}
    path = requests_file(tmp_path, [line])
    ran = run(capsys, "--profile", "groq", "validate", "--no-estimate", str(path))
    assert ran.code == 1 and "not offered" in ran.out


def test_a_queued_groq_job_keeps_its_window_and_the_profile_limits(
    make_server: MakeServer, tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(dialect="groq", time_scale=100_000)
    write_config(
        f'[profiles.groq]\nprovider = "groq"\nbase_url = "{server.base_url}"\n'
        f'api_key_env = "{KEY_ENV}"\n[profiles.groq.limits]\nmax_requests = 2\n',
        monkeypatch,
    )
    path = requests_file(tmp_path, chat_lines(5))
    ran = run(
        capsys, "--profile", "groq", "submit", str(path), "--queue", "--completion-window", "7d"
    )
    assert ran.code == 0, ran.err
    assert "queued 3 parts" in ran.out  # 5 requests, at most 2 a file on this profile

    ran = run(capsys, "--profile", "groq", "queue", "run", "--once")
    assert ran.code == 0, ran.err
    import openai

    batches = openai.OpenAI(base_url=server.base_url, api_key=API_KEY).batches.list().data
    assert [batch.completion_window for batch in batches] == ["7d", "7d", "7d"]


def test_a_groq_profile_queues_no_file_for_an_endpoint_groq_does_not_offer(
    make_server: MakeServer, tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``submit --queue`` refuses what ``submit`` refuses: nothing is queued that the
    runner could only send to a 400."""
    server = make_server(dialect="groq")
    groq_profile(server, monkeypatch)
    body = {"model": "m", "input": "x"}
    lines = [
        {"custom_id": f"e{i}", "method": "POST", "url": "/v1/embeddings", "body": body}
        for i in range(3)
    ]
    path = requests_file(tmp_path, lines)
    ran = run(capsys, "--profile", "groq", "submit", str(path), "--queue")
    assert ran.code == 1, ran.out
    assert "nothing queued" in ran.err
    said = f"{path}: endpoint /v1/embeddings is not offered by this profile's service"
    assert ran.out.startswith(said) and "/v1/chat/completions" in ran.out  # as validate says
    assert run(capsys, "queue", "ls").out == "The queue is empty.\n"


def test_a_missing_azure_key_names_its_own_variable_not_openai_s(
    make_server: MakeServer, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(dialect="azure")
    azure_profile(server, monkeypatch)
    monkeypatch.delenv(KEY_ENV)
    ran = run(capsys, "--profile", "azure", "ls")
    assert ran.code == 2
    assert f"export {KEY_ENV}=..." in ran.err
    assert "OPENAI_API_KEY" not in ran.err
