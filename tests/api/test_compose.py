"""Compose from a CSV, submit to the embedded server, and see every row answered."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path

import openai
import pytest

from tests.api.conftest import API_KEY, read_lines, wait_for
from tui.cli import main
from tui.core.bodies import BodyForm, build_body
from tui.core.client import BatchClient
from tui.core.compose import RequestTemplate, build_file, read_rows
from tui.core.config import Profile
from tui.core.journal import Journal
from tui.core.registry import Registry
from tui.core.requests import Limits
from tui.core.submission import plan_submit, submit_plan
from tui.localapi.server import LocalServer

KEY_ENV = "BATCHDECK_TEST_KEY"
CHAT = "/v1/chat/completions"


def write_csv(path: Path, count: int) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["ticket", "text"])
        for i in range(count):
            writer.writerow([f"T{i:03d}", f"Parcel {i} is late, says café owner"])
    return path


def template() -> RequestTemplate:
    form = BodyForm("gpt-4o-mini", "Summarise ticket {ticket}: {text}", "Be brief.", max_tokens=30)
    return RequestTemplate(CHAT, build_body(CHAT, form), custom_id="{ticket}")


def test_compose_csv_submit_and_complete(
    server: LocalServer, client: openai.OpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    rows = write_csv(tmp_path / "tickets.csv", 12)
    built = build_file(read_rows(rows), template(), tmp_path / "tickets.jsonl")
    assert built.report.ok and built.requests == 12
    profile = Profile("local", base_url=server.base_url, api_key_env=KEY_ENV)
    registry = Registry()
    progress: list[tuple[int, int, int, int | None]] = []

    async def go() -> list:
        batch_client = BatchClient(profile)
        try:
            plan = plan_submit(built.path, CHAT)
            journal = Journal(registry, batch_client, profile)
            return await submit_plan(
                journal,
                plan,
                description="tickets",
                metadata={"team": "support"},
                output_expires_after=7 * 86400,
                progress=lambda *p: progress.append(p),
            )
        finally:
            await batch_client.close()

    (job,) = asyncio.run(go())
    assert job.batch_id and job.description == "tickets" and job.group_id is None
    assert registry.get(job.job_id) is not None
    assert progress and progress[-1][2] == progress[-1][3] == built.path.stat().st_size
    batch = wait_for(client, job.batch_id)
    assert batch.status == "completed"
    assert batch.metadata["team"] == "support"
    assert batch.request_counts.total == 12 and batch.request_counts.completed == 12
    outputs = read_lines(client, batch.output_file_id)
    assert sorted(o["custom_id"] for o in outputs) == [f"T{i:03d}" for i in range(12)]
    answer = outputs[0]["response"]["body"]["choices"][0]["message"]["content"]
    assert "Summarise ticket" in answer


def test_split_submit_makes_one_job_group(
    server: LocalServer, client: openai.OpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    built = build_file(
        read_rows(write_csv(tmp_path / "t.csv", 7)), template(), tmp_path / "t.jsonl"
    )
    profile = Profile("local", base_url=server.base_url, api_key_env=KEY_ENV)
    registry = Registry()

    async def go() -> list:
        batch_client = BatchClient(profile)
        try:
            plan = plan_submit(built.path, allow_split=True, limits=Limits(max_requests=3))
            return await submit_plan(
                Journal(registry, batch_client, profile), plan, description="t"
            )
        finally:
            await batch_client.close()

    jobs = asyncio.run(go())
    assert len(jobs) == 3
    assert len({job.group_id for job in jobs}) == 1 and jobs[0].group_id
    assert [job.description for job in jobs] == ["t (part 1/3)", "t (part 2/3)", "t (part 3/3)"]
    done = [wait_for(client, job.batch_id) for job in jobs]
    assert [b.request_counts.total for b in done] == [3, 3, 1]
    ids = [o["custom_id"] for b in done for o in read_lines(client, b.output_file_id)]
    assert sorted(ids) == [f"T{i:03d}" for i in range(7)]


def test_cli_submit_json(
    server: LocalServer,
    client: openai.OpenAI,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    built = build_file(
        read_rows(write_csv(tmp_path / "c.csv", 3)), template(), tmp_path / "c.jsonl"
    )
    code = main(
        [
            "submit",
            str(built.path),
            "--endpoint",
            CHAT,
            "--description",
            "cli",
            "--metadata",
            "k=v",
            "--expires-after",
            "2h",
            "--json",
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    (row,) = data["batches"]
    assert data["requests"] == 3 and data["group_id"] is None
    batch = wait_for(client, row["batch_id"])
    assert batch.status == "completed" and batch.metadata["k"] == "v"
    job = Registry().find_by_batch(row["batch_id"])
    assert job is not None and job.description == "cli"


def test_cli_submit_api_error_is_a_message(
    server: LocalServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    built = build_file(
        read_rows(write_csv(tmp_path / "c.csv", 2)), template(), tmp_path / "c.jsonl"
    )
    assert main(["submit", str(built.path)]) == 1
    err = capsys.readouterr().err
    assert "401" in err and "Traceback" not in err


def test_a_failed_part_reports_the_parts_already_sent(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui.core.errors import ServerError
    from tui.core.submission import PartialSubmitError

    monkeypatch.setenv(KEY_ENV, API_KEY)
    built = build_file(
        read_rows(write_csv(tmp_path / "t.csv", 5)), template(), tmp_path / "t.jsonl"
    )
    profile = Profile("local", base_url=server.base_url, api_key_env=KEY_ENV)
    registry = Registry()

    class SecondPartFails(Journal):
        async def submit(self, path: Path, *args: object, **kwargs: object) -> object:  # type: ignore[override]
            if path.name.endswith("part-002.jsonl"):
                raise ServerError("Server error (500): boom", status=500)
            return await super().submit(path, *args, **kwargs)  # type: ignore[arg-type]

    async def go() -> None:
        batch_client = BatchClient(profile)
        try:
            plan = plan_submit(built.path, allow_split=True, limits=Limits(max_requests=2))
            await submit_plan(SecondPartFails(registry, batch_client, profile), plan)
        finally:
            await batch_client.close()

    with pytest.raises(PartialSubmitError) as info:
        asyncio.run(go())
    assert len(info.value.jobs) == 1 and info.value.failed.name == "t.part-002.jsonl"
    assert "1 part(s) submitted" in str(info.value) and "boom" in str(info.value)
    assert info.value.jobs[0].group_id and registry.get(info.value.jobs[0].job_id)
