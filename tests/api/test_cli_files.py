"""``batchdeck download``, ``cancel`` and ``files ls|rm|get`` against the embedded server."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.api._cli import point_at, run
from tests.api.conftest import chat_lines, jsonl, submit, wait_for
from tui.core.registry import Job, Registry
from tui.localapi.server import LocalServer

Capsys = pytest.CaptureFixture[str]


@pytest.fixture(autouse=True)
def _env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    name = "manual_server" if "manual_server" in request.fixturenames else "server"
    point_at(request.getfixturevalue(name), monkeypatch)


@pytest.fixture
def finished(client: openai.OpenAI) -> Any:
    """A completed batch with 1 failed request of 3 (output and error files)."""
    return wait_for(client, submit(client, chat_lines(3, fail_every=3)).id)


class _Stdin(io.StringIO):
    def __init__(self, text: str, tty: bool) -> None:
        super().__init__(text)
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


# -- download --------------------------------------------------------------------------


def test_download_each_kind(
    finished: Any, client: openai.OpenAI, tmp_path: Path, capsys: Capsys
) -> None:
    for kind, file_id in (
        ("output", finished.output_file_id),
        ("error", finished.error_file_id),
        ("input", finished.input_file_id),
    ):
        target = tmp_path / f"{kind}.jsonl"
        ran = run(capsys, "download", finished.id, "--file", kind, "--output", str(target))
        assert ran.code == 0 and ran.out == "" and ran.err == ""
        assert target.read_bytes() == client.files.content(file_id).read()
        assert target.stat().st_mode & 0o777 == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_download_keeps_an_existing_file_unless_forced(
    finished: Any, tmp_path: Path, capsys: Capsys
) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("mine\n")
    ran = run(capsys, "download", finished.id, "-o", str(target))
    assert ran.code == 1 and "exists; pass --force" in ran.err
    assert target.read_text() == "mine\n"
    assert run(capsys, "download", finished.id, "-o", str(target), "--force").code == 0
    assert target.read_text().count("\n") == 2


def test_download_keeps_a_file_that_appears_while_downloading(
    finished: Any, tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.jsonl"

    def progress(label: str) -> Any:
        def appear(done: int, total: int | None) -> None:
            if not target.exists():
                target.write_text("theirs\n")

        return appear

    monkeypatch.setattr("tui.commands._shared.stderr_progress", progress)
    ran = run(capsys, "download", finished.id, "-o", str(target))
    assert ran.code == 1 and "exists; pass --force" in ran.err
    assert target.read_text() == "theirs\n"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_download_to_stdout_streams_the_bytes(
    finished: Any, client: openai.OpenAI, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    from tui.cli import main

    assert main(["download", finished.id, "--file", "error", "--output", "-"]) == 0
    out = capsysbinary.readouterr().out
    assert out == client.files.content(finished.error_file_id).read()


def test_download_to_a_closed_pipe_ends_quietly(finished: Any, tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.api._cli import REPO, env_for

    server_env = env_for(None, tmp_path)
    server_env["OPENAI_BASE_URL"] = os.environ["OPENAI_BASE_URL"]
    server_env["OPENAI_API_KEY"] = os.environ["OPENAI_API_KEY"]
    child = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "download", finished.id, "--file", "input", "-o", "-"],
        env=server_env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # like `| head -c 0`
    err = child.stderr.read()
    assert child.wait(timeout=30) == 0
    assert err == b""


def test_download_records_the_path_in_the_registry(
    finished: Any, tmp_path: Path, capsys: Capsys
) -> None:
    Registry().add(Job(job_id="job_1", batch_id=finished.id))
    target = tmp_path / "res.jsonl"
    assert run(capsys, "download", finished.id, "-o", str(target)).code == 0
    assert Registry().get("job_1").downloads == {"output": str(target.resolve())}  # type: ignore[union-attr]


def test_download_of_a_missing_file_is_exit_1(
    manual_server: LocalServer, manual_client: openai.OpenAI, tmp_path: Path, capsys: Capsys
) -> None:
    batch = submit(manual_client, chat_lines(1))  # validating: no output yet
    ran = run(capsys, "download", batch.id, "-o", str(tmp_path / "x"))
    assert ran.code == 1
    assert ran.err == f"batchdeck: batch {batch.id} has no output file (status validating)\n"
    assert not (tmp_path / "x").exists()


def test_download_unknown_batch_and_bad_arguments(
    tmp_path: Path, capsys: Capsys, server: LocalServer
) -> None:
    ran = run(capsys, "download", "batch_nope", "-o", str(tmp_path / "x"))
    assert ran.code == 1 and "unknown batch 'batch_nope'" in ran.err
    for argv in (["download", "b"], ["download", "b", "-o", "x", "--file", "log"]):
        bad = run(capsys, *argv)
        assert bad.code == 2 and "usage: batchdeck download" in bad.err


def test_download_survives_faults_within_retries_only(
    finished: Any, server: LocalServer, tmp_path: Path, capsys: Capsys
) -> None:
    folder = tmp_path / "dl"
    folder.mkdir()
    target = folder / "out.jsonl"
    server.faults.add("500", times=2, retry_after=0.01, path="/v1/files/*/content")
    assert run(capsys, "download", finished.id, "-o", str(target)).code == 0
    server.faults.add("500", times=None, retry_after=0.01, path="/v1/files/*/content")
    again = folder / "again.jsonl"
    ran = run(capsys, "download", finished.id, "-o", str(again))
    assert ran.code == 1 and ran.err.startswith("batchdeck: Server error (500)")
    assert not again.exists() and sorted(p.name for p in folder.iterdir()) == ["out.jsonl"]


# -- cancel ------------------------------------------------------------------------------


def test_cancel_with_yes(
    manual_server: LocalServer, manual_client: openai.OpenAI, capsys: Capsys
) -> None:
    batch = submit(manual_client, chat_lines(2))
    ran = run(capsys, "cancel", batch.id, "--yes")
    assert ran.code == 0 and ran.out == f"{batch.id}  cancelling\n"
    assert manual_client.batches.retrieve(batch.id).status == "cancelling"
    again = run(capsys, "cancel", batch.id, "--yes", "--json")
    assert again.code == 0 and again.json_lines()[0]["status"] == "cancelling"
    manual_server.advance(100)
    done = run(capsys, "cancel", batch.id, "--yes")
    assert done.code == 1 and "already cancelled" in done.err


def test_cancel_refuses_without_yes_when_stdin_is_not_a_terminal(
    manual_server: LocalServer,
    manual_client: openai.OpenAI,
    capsys: Capsys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batch = submit(manual_client, chat_lines(2))
    monkeypatch.setattr("sys.stdin", _Stdin("y\n", tty=False))
    ran = run(capsys, "cancel", batch.id)
    assert ran.code == 2 and "pass --yes" in ran.err
    assert manual_client.batches.retrieve(batch.id).status == "validating"


@pytest.mark.parametrize(
    ("answer", "code", "status"), [("n\n", 1, "validating"), ("y\n", 0, "cancelling")]
)
def test_cancel_asks_at_a_terminal(
    manual_server: LocalServer,
    manual_client: openai.OpenAI,
    capsys: Capsys,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    code: int,
    status: str,
) -> None:
    batch = submit(manual_client, chat_lines(2))
    monkeypatch.setattr("sys.stdin", _Stdin(answer, tty=True))
    ran = run(capsys, "cancel", batch.id)
    assert ran.code == code
    assert f"Cancel batch {batch.id} (validating, 0/0 requests done)? [y/N]" in ran.out
    assert manual_client.batches.retrieve(batch.id).status == status


def test_cancel_unknown_and_faults(
    manual_server: LocalServer, manual_client: openai.OpenAI, capsys: Capsys
) -> None:
    assert run(capsys, "cancel", "batch_nope", "--yes").code == 1
    assert run(capsys, "cancel").code == 2
    batch = submit(manual_client, chat_lines(2))
    manual_server.faults.add("500", times=2, retry_after=0.01, path="/v1/batches/*/cancel")
    assert run(capsys, "cancel", batch.id, "--yes").code == 0
    manual_server.faults.add("500", times=None, retry_after=0.01, path="/v1/batches/*")
    ran = run(capsys, "cancel", batch.id, "--yes")
    assert ran.code == 1 and "Server error (500)" in ran.err


# -- files -------------------------------------------------------------------------------


def test_files_ls_table_json_and_purpose(finished: Any, capsys: Capsys) -> None:
    ran = run(capsys, "files", "ls")
    assert ran.code == 0
    assert ran.out.splitlines()[0].split()[:3] == ["ID", "PURPOSE", "BYTES"]
    for file_id in (finished.input_file_id, finished.output_file_id, finished.error_file_id):
        assert file_id in ran.out
    records = run(capsys, "files", "ls", "--json", "--purpose", "batch_output").json_lines()
    assert {r["id"] for r in records} == {finished.output_file_id, finished.error_file_id}
    assert set(records[0]) == {
        "id",
        "filename",
        "purpose",
        "bytes",
        "created_at",
        "expires_at",
        "status",
    }


def test_files_get_and_rm(
    finished: Any, client: openai.OpenAI, tmp_path: Path, capsys: Capsys
) -> None:
    target = tmp_path / "in.jsonl"
    assert run(capsys, "files", "get", finished.input_file_id, "-o", str(target)).code == 0
    assert target.read_bytes() == jsonl(chat_lines(3, fail_every=3))
    assert run(capsys, "files", "get", finished.input_file_id, "-o", str(target)).code == 1
    unknown = run(capsys, "files", "get", "file-nope", "-o", str(tmp_path / "n"))
    assert unknown.code == 1 and "unknown file 'file-nope'" in unknown.err
    ran = run(capsys, "files", "rm", finished.input_file_id, "file-nope", "--yes")
    assert ran.code == 1
    assert ran.out == f"{finished.input_file_id}  deleted\n"
    assert "unknown file 'file-nope'" in ran.err
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(finished.input_file_id)


def test_files_rm_refuses_without_a_terminal(
    finished: Any, client: openai.OpenAI, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", _Stdin("", tty=False))
    ran = run(capsys, "files", "rm", finished.output_file_id)
    assert ran.code == 2 and "pass --yes" in ran.err
    assert client.files.retrieve(finished.output_file_id).id == finished.output_file_id


def test_files_bad_arguments_and_faults(server: LocalServer, capsys: Capsys) -> None:
    for argv in (["files"], ["files", "cp"], ["files", "rm"], ["files", "get", "f"]):
        ran = run(capsys, *argv)
        assert ran.code == 2 and "usage: batchdeck files" in ran.err, argv
    server.faults.add("500", times=2, retry_after=0.01, path="/v1/files")
    assert run(capsys, "files", "ls", "--json").code == 0
    server.faults.add("500", times=None, retry_after=0.01, path="/v1/files")
    ran = run(capsys, "files", "ls")
    assert ran.code == 1 and ran.err.startswith("batchdeck: Server error (500)")
