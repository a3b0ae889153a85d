"""What ``ls``, ``show`` and ``files ls`` show is the user's: a batch's description
may come from ``metadata.description`` (the OpenAI dashboard's convention), and
batchdeck's submission token (metadata, upload names) stays out of sight."""

from __future__ import annotations

import openai
import pytest

from tests.api._cli import point_at, run
from tests.api.conftest import chat_lines, upload
from tui.localapi.server import LocalServer

Capsys = pytest.CaptureFixture[str]
TOKEN = "bd-e28d0017b5eadf70"


@pytest.fixture
def dashboard_batch(
    manual_server: LocalServer, manual_client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A batch another tool made (description in metadata) with batchdeck's token
    on it, its input uploaded under batchdeck's token-prefixed name."""
    point_at(manual_server, monkeypatch)
    input_id = upload(manual_client, chat_lines(2), name=f"{TOKEN}--reviews.batch.jsonl")
    return manual_client.batches.create(
        input_file_id=input_id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"description": "nightly eval", "batchdeck_token": TOKEN, "team": "ops"},
    ).id


def test_ls_shows_metadata_description(dashboard_batch: str, capsys: Capsys) -> None:
    ran = run(capsys, "ls")
    assert ran.code == 0, ran.err
    assert "nightly eval" in ran.out and TOKEN not in ran.out
    (record,) = run(capsys, "ls", "--json").json_lines()
    assert record["description"] == "nightly eval"


def test_show_has_the_description_and_no_token(dashboard_batch: str, capsys: Capsys) -> None:
    ran = run(capsys, "show", dashboard_batch)
    assert ran.code == 0, ran.err
    assert "Description:  nightly eval" in ran.out
    assert "team = ops" in ran.out and TOKEN not in ran.out and "batchdeck_token" not in ran.out


def test_files_ls_shows_the_users_file_name(dashboard_batch: str, capsys: Capsys) -> None:
    ran = run(capsys, "files", "ls")
    assert ran.code == 0, ran.err
    assert "reviews.batch.jsonl" in ran.out and TOKEN not in ran.out
