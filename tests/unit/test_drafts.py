"""Compose drafts and templates: kept privately in the data dir, written atomically,
read back as untrusted JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.core import drafts
from tui.core.drafts import Draft, DraftError


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("BATCHDECK_DATA_DIR", str(path))
    return path


DRAFT = Draft(
    {"body-prompt": "Label: {review}", "split": True, "body-model": "gpt-4o-mini"},
    (("first", {"model": "m", "messages": []}),),
)


def test_last_draft_round_trip_is_private(data_dir: Path) -> None:
    assert drafts.load_last() is None
    path = drafts.save_last(DRAFT)
    assert path == data_dir / "compose" / "last-draft.json"
    assert drafts.load_last() == DRAFT
    assert path.stat().st_mode & 0o777 == 0o600
    assert (data_dir / "compose").stat().st_mode & 0o777 == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["last-draft.json"]  # no temp left

    drafts.save_last(Draft({"body-prompt": "newer"}))
    loaded = drafts.load_last()
    assert loaded is not None and loaded.fields == {"body-prompt": "newer"}


def test_templates_are_saved_listed_and_opened(data_dir: Path) -> None:
    assert drafts.list_templates() == []
    drafts.save_template(" reviews ", DRAFT)
    drafts.save_template("Alpha-1", Draft({"body-prompt": "a"}))
    assert drafts.list_templates() == ["Alpha-1", "reviews"]
    assert drafts.load_template("reviews") == DRAFT
    path = data_dir / "compose" / "templates" / "reviews.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("name", ["", "../escape", ".hidden", "a/b", "x" * 65, "end.", "a\tb"])
def test_a_template_name_cannot_leave_its_folder(name: str) -> None:
    with pytest.raises(DraftError, match="template name"):
        drafts.save_template(name, DRAFT)
    with pytest.raises(DraftError, match="template name"):
        drafts.load_template(name)


def test_a_missing_template_is_a_plain_error() -> None:
    with pytest.raises(DraftError, match="cannot read"):
        drafts.load_template("nothing")


@pytest.mark.parametrize(
    "content",
    [b"not json", b"[1, 2]", b'{"no": "fields"}', b"[" * 100_000, b'{"fields": NaN}'],
)
def test_a_damaged_draft_is_a_plain_error(content: bytes) -> None:
    path = drafts.last_draft_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(DraftError, match=r"last-draft\.json"):
        drafts.load_last()


def test_only_values_of_the_expected_kinds_are_kept() -> None:
    data = (
        b'{"fields": {"body-prompt": "hi", "split": false, "n": 3, "x": null, "o": {}},'
        b' "requests": [["a", {"model": "m"}], ["b"], [1, {}], ["c", "not a body"]]}'
    )
    draft = Draft.from_json(data)
    assert draft.fields == {"body-prompt": "hi", "split": False}
    assert draft.requests == (("a", {"model": "m"}),)
