"""Results against the embedded server: download once, join, retry, merged view, CLI."""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest

from tests.api.conftest import API_KEY, chat_lines, make_client, submit, wait_for
from tui.core.client import BatchClient
from tui.core.config import Profile
from tui.core.journal import Journal
from tui.core.registry import Job, Registry
from tui.core.results import (
    NoResultsError,
    Outcome,
    ResultIndex,
    fetch_results,
    load_local,
    open_attempts,
    results_dir,
    retry_path,
    write_retry_file,
)
from tui.core.results.store import LEFTOVER_AGE
from tui.localapi import echo
from tui.localapi.server import LocalServer

KEY_ENV = "BATCHDECK_TEST_KEY"


@pytest.fixture
def profile(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> Profile:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    return Profile("test", base_url=server.base_url, api_key_env=KEY_ENV)


@pytest.fixture
async def bclient(profile: Profile) -> AsyncIterator[BatchClient]:
    client = BatchClient(profile)
    yield client
    await client.close()


@pytest.fixture
def sdk(server: LocalServer) -> openai.OpenAI:
    return make_client(server)


def finished_batch(sdk: openai.OpenAI, count: int = 6, fail_every: int = 3) -> str:
    batch = submit(sdk, chat_lines(count, fail_every=fail_every))
    return str(wait_for(sdk, batch.id).id)


async def test_download_once_then_offline_and_registry_records_paths(
    sdk: openai.OpenAI, bclient: BatchClient, server: LocalServer
) -> None:
    batch_id = finished_batch(sdk)
    registry = Registry()
    job = registry.add(Job(batch_id=batch_id, description="six"))
    seen: list[tuple[str, int, int | None]] = []
    local = await fetch_results(
        bclient, batch_id, registry=registry, progress=lambda *a: seen.append(a)
    )
    assert local.output is not None and local.error is not None and local.input is not None
    assert local.output.parent == results_dir(batch_id)
    assert {kind for kind, _, _ in seen} == {"output", "error", "input"}
    assert all(done == total for _, done, total in seen[-1:])
    downloads = registry.get(job.job_id).downloads  # type: ignore[union-attr]
    assert downloads["output"] == str(local.output)
    assert oct(os.stat(local.output).st_mode & 0o777) == "0o600"
    # Offline: the server is gone and the local copy still opens, without a request.
    server.stop()
    again = await fetch_results(bclient, batch_id, registry=registry)
    assert again == local
    index = ResultIndex([again.attempt(0)]).build_all()
    assert index.counts()[Outcome.OK] == 4
    assert index.counts()[Outcome.HTTP_ERROR] == 2


async def test_a_copy_with_a_wrong_size_is_downloaded_again(
    sdk: openai.OpenAI, bclient: BatchClient
) -> None:
    batch_id = finished_batch(sdk)
    local = await fetch_results(bclient, batch_id)
    assert local.output is not None
    with open(local.output, "ab") as handle:
        handle.write(b"garbage")  # a changed or torn copy is not trusted
    assert load_local(batch_id) is None
    crashed = results_dir(batch_id) / ".output.jsonl.stray.tmp"
    crashed.write_bytes(b"half")
    old = time.time() - LEFTOVER_AGE - 60
    os.utime(crashed, (old, old))  # a crashed download's: untouched for long
    running = results_dir(batch_id) / ".error.jsonl.running.tmp"
    running.write_bytes(b"being written")  # e.g. the inspector's download, now
    fresh = await fetch_results(bclient, batch_id)
    assert fresh.output is not None
    assert b"garbage" not in fresh.output.read_bytes()
    assert sorted(results_dir(batch_id).glob(".*.tmp")) == [running]


async def test_no_results_yet_and_unknown_batch(
    manual_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    client = BatchClient(Profile("t", base_url=manual_server.base_url, api_key_env=KEY_ENV))
    try:
        sdk = make_client(manual_server)
        batch = submit(sdk, chat_lines(2))
        with pytest.raises(NoResultsError, match="not ready yet"):
            await fetch_results(client, batch.id)
        from tui.core.errors import NotFoundError

        with pytest.raises(NotFoundError):
            await fetch_results(client, "batch_nope")
    finally:
        await client.close()


async def test_retry_of_failures_merges_into_the_original_view(
    sdk: openai.OpenAI,
    bclient: BatchClient,
    profile: Profile,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batch_id = finished_batch(sdk, count=9, fail_every=3)
    registry = Registry()
    registry.add(Job(batch_id=batch_id))
    opened = await open_attempts(bclient, batch_id, registry=registry)
    first = ResultIndex(opened.attempts).build_all()
    assert first.counts()[Outcome.HTTP_ERROR] == 3
    planned = write_retry_file(first, retry_path(batch_id))
    assert planned.count == 3
    sent = [json.loads(line) for line in planned.path.read_text().splitlines()]
    assert [line["custom_id"] for line in sent] == ["req-2", "req-5", "req-8"]
    assert all("[fail:500]" in line["body"]["messages"][0]["content"] for line in sent)

    # The 500s were transient: this time echo answers every request.
    monkeypatch.setattr(echo, "_check_failure", lambda body, canonical: None)
    job = await Journal(registry, bclient, profile).submit(
        planned.path, "/v1/chat/completions", retry_of=batch_id
    )
    assert job.retry_of == batch_id and job.batch_id
    wait_for(sdk, job.batch_id)

    merged_open = await open_attempts(bclient, batch_id, registry=registry)
    assert [a.batch_id for a in merged_open.attempts] == [batch_id, job.batch_id]
    merged = ResultIndex(merged_open.attempts).build_all()
    assert len(merged.rows) == 9
    assert all(row.outcome is Outcome.OK for row in merged.rows)
    assert [row.custom_id for row in merged.rows] == [f"req-{i}" for i in range(9)]
    retried = merged.row_for("req-5")
    assert retried is not None and retried.attempt == 1
    assert retried.preview.startswith("Echo: Summarise ticket 5")
    with pytest.raises(NoResultsError, match="nothing to retry"):
        write_retry_file(merged, retry_path(batch_id))


def test_cli_export_against_the_profile_server(
    sdk: openai.OpenAI,
    server: LocalServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tui.cli import main

    batch_id = finished_batch(sdk)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    out = tmp_path / "res.csv"
    code = main(["results", batch_id, "--export", str(out), "--field", "body.model"])
    assert code == 0, capsys.readouterr().err
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 6
    assert rows[0]["custom_id"] == "req-0" and rows[0]["outcome"] == "ok"
    assert rows[0]["request.body.model"] == "gpt-4o-mini"
    assert rows[2]["outcome"] == "http_error" and rows[2]["status_code"] == "500"
    assert "6 rows" in capsys.readouterr().out

    assert main(["results", batch_id, "--export", str(tmp_path / "x.txt")]) == 2
    assert "csv or .jsonl" in capsys.readouterr().err
    assert main(["results", "batch_missing", "--export", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("batchdeck: no batch batch_missing") and "Traceback" not in err


def test_cli_no_results_yet(
    manual_server: LocalServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tui.cli import main

    batch = submit(make_client(manual_server), chat_lines(2))
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", manual_server.base_url)
    code = main(["results", batch.id, "--export", str(tmp_path / "r.jsonl")])
    assert code == 1
    err = capsys.readouterr().err
    assert "validating" in err and "not ready yet" in err
    assert not (tmp_path / "r.jsonl").exists()


def test_cli_export_is_headless_without_textual(
    sdk: openai.OpenAI, server: LocalServer, tmp_path: Path
) -> None:
    import subprocess
    import sys

    batch_id = finished_batch(sdk)
    code = (
        "import sys\n"
        "from tui.cli import main\n"
        f"rc = main(['results', {batch_id!r}, '--export', {str(tmp_path / 'o.jsonl')!r}])\n"
        "print(rc, sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))\n"
    )
    env = {
        **os.environ,
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": server.base_url,
    }
    ran = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert ran.stdout.splitlines()[-1] == "0 []", ran.stderr
    assert ran.stderr == ""  # progress only on a terminal
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == 6


def test_cli_export_with_the_source_columns(
    sdk: openai.OpenAI,
    server: LocalServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tui.cli import main
    from tui.core.results import record_source

    batch_id = finished_batch(sdk)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    out = tmp_path / "res.csv"
    assert main(["results", batch_id, "--export", str(out), "--source-columns"]) == 1
    assert "not composed from a CSV" in capsys.readouterr().err

    rows = tmp_path / "tickets.csv"
    rows.write_text("n,owner\n" + "".join(f"{i},owner {i}\n" for i in range(6)))
    registry = Registry()
    job = registry.add(Job(batch_id=batch_id))
    record_source(registry, [job], rows, "req-{n}")
    code = main(["results", batch_id, "--export", str(out), "--source-columns"])
    assert code == 0, capsys.readouterr().err
    exported = list(csv.DictReader(out.open()))
    assert [r["source.owner"] for r in exported] == [f"owner {i}" for i in range(6)]
    assert exported[0]["answer"] and exported[0]["source.n"] == "0"
    assert main(["results", batch_id, "--source-columns"]) == 2  # only with --export
