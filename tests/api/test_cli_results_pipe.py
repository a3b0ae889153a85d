"""``batchdeck results BATCH`` with stdout a pipe prints the joined rows and exits
(it used to start the full-screen app into the pipe and hang)."""

from __future__ import annotations

import json
from pathlib import Path

import openai

from tests.api._cli import run_child
from tests.api.conftest import chat_lines, submit, wait_for
from tui.commands.results_text import TEXT_HEADERS
from tui.localapi.server import LocalServer


def finished_batch(client: openai.OpenAI) -> str:
    lines = chat_lines(5, fail_every=3)
    lines[0]["body"]["messages"][0]["content"] = "tab\there\nand \x1b[31m red"
    return str(wait_for(client, submit(client, lines).id).id)


def test_results_into_a_pipe_prints_rows_and_exits(
    server: LocalServer, client: openai.OpenAI, tmp_path: Path
) -> None:
    batch_id = finished_batch(client)
    ran = run_child(server, tmp_path, "results", batch_id, "--field", "body.model")
    assert ran.returncode == 0, ran.stderr
    header, *rows = ran.stdout.splitlines()
    assert header.split("\t") == [*TEXT_HEADERS, "request.body.model"]
    assert len(rows) == 5
    cells = [row.split("\t") for row in rows]
    assert all(len(row) == len(TEXT_HEADERS) + 1 for row in cells)  # no tab or newline leaks
    assert [row[0] for row in cells] == [f"req-{n}" for n in range(5)]
    assert {row[1] for row in cells} == {"ok", "http_error"}
    ok = next(row for row in cells if row[1] == "ok")
    assert ok[2] == "200" and ok[3].isdigit() and ok[4] and ok[5] == "gpt-4o-mini"
    failed = next(row for row in cells if row[1] == "http_error")
    assert failed[2] != "200" and failed[4]  # what went wrong, in place of the answer
    assert "\x1b" not in ran.stdout

    ran = run_child(server, tmp_path, "results", batch_id, "--json")
    assert ran.returncode == 0, ran.stderr
    records = [json.loads(line) for line in ran.stdout.splitlines()]
    assert [r["custom_id"] for r in records] == [f"req-{n}" for n in range(5)]
    assert {r["outcome"] for r in records} == {"ok", "http_error"}
    assert all(r["batch_id"] == batch_id for r in records)


def test_json_with_export_is_a_usage_error(
    server: LocalServer, client: openai.OpenAI, tmp_path: Path
) -> None:
    ran = run_child(server, tmp_path, "results", "batch_x", "--json", "--export", "x.jsonl")
    assert ran.returncode == 2 and "--export FILE.jsonl" in ran.stderr
