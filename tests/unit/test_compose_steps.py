"""The compose form's steps in core (tui.core.submission): check, save, preview and the
Submit tab's options, with no screen involved."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tui.core.compose import ComposeError, read_rows
from tui.core.errors import BatchdeckError
from tui.core.journal import SubmitError
from tui.core.pricing import prices_file
from tui.core.submission import (
    ComposeInputs,
    check_inputs,
    default_output,
    preview_lines,
    save_inputs,
    submit_options,
)

CHAT = "/v1/chat/completions"
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Label: {review}"}]}


def rows_file(folder: Path) -> Path:
    path = folder / "reviews.csv"
    path.write_text("id,review\nr1,Great kettle\nr2,Broke after a week\n", encoding="utf-8")
    return path


def inputs(source: str, **changes: Any) -> ComposeInputs:
    fields: dict[str, Any] = {
        "source": source,
        "endpoint": CHAT,
        "body": BODY,
        "id_pattern": "{id}",
        "rows_path": None,
        "jsonl_path": None,
        "requests": (),
        "output": Path("out.jsonl"),
    }
    fields.update(changes)
    return ComposeInputs(**fields)


def line(custom_id: str) -> str:
    body = {"model": "gpt-4o-mini", "messages": []}
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": CHAT, "body": body})


def test_rows_are_built_checked_and_priced(tmp_path: Path) -> None:
    rows = rows_file(tmp_path)
    checked = check_inputs(inputs("rows", rows_path=rows, output=tmp_path / "out.jsonl"))
    assert checked.report.ok and checked.requests == 2 and checked.rows_from == "reviews.csv"
    assert checked.estimate is not None and checked.estimate.cost is not None
    assert checked.notes == ()
    sent = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [x["custom_id"] for x in sent] == ["r1", "r2"]


def test_an_unreadable_price_table_leaves_costs_out_and_says_so(tmp_path: Path) -> None:
    prices_file().parent.mkdir(parents=True, exist_ok=True)
    prices_file().write_text("this is [not toml", encoding="utf-8")
    rows = rows_file(tmp_path)
    checked = check_inputs(inputs("rows", rows_path=rows, output=tmp_path / "out.jsonl"))
    assert checked.report.ok
    assert checked.estimate is not None and checked.estimate.cost is None
    (note,) = checked.notes
    assert note.endswith("; costs not shown")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("rows", "choose the data file"),
        ("jsonl", "choose the batch JSONL file"),
        ("manual", "add at least one request"),
    ],
)
def test_a_missing_source_is_a_compose_error(source: str, message: str) -> None:
    with pytest.raises(ComposeError, match=message):
        check_inputs(inputs(source))
    if source != "manual":
        with pytest.raises(ComposeError, match=message):
            preview_lines(inputs(source))


def test_a_missing_column_names_the_row_and_the_columns(tmp_path: Path) -> None:
    rows = rows_file(tmp_path)
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "{revue}"}]}
    with pytest.raises(ComposeError, match=r"row 1: no column 'revue'.*columns: id, review"):
        check_inputs(inputs("rows", body=body, rows_path=rows, output=tmp_path / "o.jsonl"))
    assert not (tmp_path / "o.jsonl").exists()


def test_manual_requests_are_written_in_order(tmp_path: Path) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "{kept}"}]}
    requests = (("b", body), ("a", body))
    checked = check_inputs(inputs("manual", requests=requests, output=tmp_path / "m.jsonl"))
    assert checked.report.ok and checked.requests == 2
    assert "{kept}" in (tmp_path / "m.jsonl").read_text()
    assert [x["custom_id"] for x in preview_lines(inputs("manual", requests=requests))] == [
        "b",
        "a",
    ]


def test_saving_an_existing_file_elsewhere_copies_it(tmp_path: Path) -> None:
    source = tmp_path / "old.jsonl"
    source.write_text(line("a") + "\n" + line("b") + "\n")
    target = tmp_path / "copy.jsonl"
    saved = save_inputs(inputs("jsonl", jsonl_path=source, output=target))
    assert saved.path == target and saved.report.ok and saved.report.request_count == 2
    assert target.read_bytes() == source.read_bytes()
    in_place = save_inputs(inputs("jsonl", jsonl_path=source, output=source))
    assert in_place.path == source


def test_saving_elsewhere_is_atomic_and_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy that fails half-way (disk full) leaves the old file as it was."""
    import errno
    import shutil
    from typing import IO

    source = tmp_path / "old.jsonl"
    source.write_text(line("a") + "\n" + line("b") + "\n")
    target = tmp_path / "copy.jsonl"
    target.write_text("theirs\n")

    def disk_full(src: IO[bytes], dst: IO[bytes], length: int = 0) -> None:
        dst.write(src.read(10))
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(shutil, "copyfileobj", disk_full)
        with pytest.raises(OSError, match="No space"):
            save_inputs(inputs("jsonl", jsonl_path=source, output=target))
    assert target.read_text() == "theirs\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.jsonl", "old.jsonl"]
    save_inputs(inputs("jsonl", jsonl_path=source, output=target))
    assert target.read_bytes() == source.read_bytes()
    assert target.stat().st_mode & 0o777 == 0o600  # like a built file (write_requests)


def test_preview_of_a_jsonl_file_refuses_hostile_json_with_a_plain_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text(line("a") + "\n\n" + "[" * 100_000 + "\n")
    lines_ = preview_lines(inputs("jsonl", jsonl_path=path), count=2)
    assert lines_[0]["custom_id"] == "a" and lines_[1] == {}
    with pytest.raises(BatchdeckError, match="deep"):
        preview_lines(inputs("jsonl", jsonl_path=path))


def test_rows_preview_fills_the_template(tmp_path: Path) -> None:
    rows = rows_file(tmp_path)
    (first,) = preview_lines(inputs("rows", rows_path=rows), count=1)
    assert first["custom_id"] == "r1"
    assert first["body"]["messages"][0]["content"] == "Label: Great kettle"


def test_a_data_file_that_is_not_utf8_is_a_compose_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("id,review\nr1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(ComposeError, match=r"latin\.csv is not UTF-8 text"):
        list(read_rows(path))
    with pytest.raises(ComposeError, match=r"latin\.csv is not UTF-8 text"):
        check_inputs(inputs("rows", body=BODY, rows_path=path, output=tmp_path / "o.jsonl"))


def test_default_output() -> None:
    assert default_output("jsonl", None, Path("a.jsonl")) == Path("a.jsonl")
    assert default_output("rows", Path("d/rows.csv"), None) == Path("d/rows.batch.jsonl")
    assert default_output("manual", None, None).name == "requests.jsonl"


def test_submit_options_read_the_submit_tab() -> None:
    options = submit_options(
        description=" run ", metadata_lines=["team=ml", "", "  owner=ann "], expiry="7d", split=True
    )
    assert options.description == "run" and options.split
    assert options.metadata == {"team": "ml", "owner": "ann"}
    assert options.output_expires_after == 7 * 86400
    blank = submit_options(description="", metadata_lines=[], expiry=" ", split=False)
    assert blank.output_expires_after is None and blank.metadata == {}
    with pytest.raises(SubmitError, match="key=value"):
        submit_options(description="", metadata_lines=["oops"], expiry="", split=False)
