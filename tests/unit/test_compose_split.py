"""Composed files over the limits are split into valid parts; submit options are checked."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui.core import submission
from tui.core.compose import RequestTemplate, build_file
from tui.core.journal import SubmitError
from tui.core.requests import InvalidRequestFileError, Limits, validate
from tui.core.submission import (
    MAX_EXPIRY,
    MIN_EXPIRY,
    NeedsSplitError,
    new_group_id,
    parse_expiry,
    parse_metadata,
    plan_checked,
    plan_submit,
    submit_options,
)

EMBED = "/v1/embeddings"
CHAT = "/v1/chat/completions"

texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="{}"),
    max_size=40,
)


def _ids(path: Path) -> list[str]:
    return [json.loads(line)["custom_id"] for line in path.read_bytes().split(b"\n") if line]


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(texts, min_size=1, max_size=60),
    max_requests=st.integers(1, 25),
    max_inputs=st.integers(1, 40),
    per_row=st.integers(1, 3),
)
def test_split_parts_are_valid_and_lose_nothing(
    rows: list[str], max_requests: int, max_inputs: int, per_row: int
) -> None:
    """Every part is valid on its own; every request is in exactly one part, in order."""
    body = {"model": "text-embedding-3-small", "input": ["{text}"] * per_row}
    template = RequestTemplate(EMBED, body, custom_id="e-{index}")
    limits = Limits(max_requests=max_requests, max_embedding_inputs=max(max_inputs, per_row))
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "in.jsonl"
        result = build_file(({"text": t} for t in rows), template, source, estimate=False)
        assert result.requests == len(rows)
        plan = plan_submit(source, EMBED, allow_split=True, limits=limits)
        seen: list[str] = []
        for part in plan.parts:
            report = validate(part, endpoint=EMBED, limits=limits)
            assert report.ok, report.problems
            assert report.request_count <= limits.max_requests
            assert report.embedding_inputs <= limits.max_embedding_inputs
            seen.extend(_ids(part))
        assert seen == _ids(source)
        assert not [cid for cid, n in Counter(seen).items() if n > 1]
        assert plan.split == (
            len(rows) > max_requests or len(rows) * per_row > limits.max_embedding_inputs
        )


def test_over_the_limit_needs_split_unless_allowed(tmp_path: Path) -> None:
    template = RequestTemplate(CHAT, {"model": "m", "messages": [{"content": "{text}"}]})
    source = tmp_path / "in.jsonl"
    build_file(({"text": str(i)} for i in range(7)), template, source, estimate=False)
    limits = Limits(max_requests=3)
    with pytest.raises(NeedsSplitError, match="split"):
        plan_submit(source, limits=limits)
    plan = plan_submit(source, limits=limits, allow_split=True)
    assert [p.name for p in plan.parts] == [f"in.part-00{n}.jsonl" for n in (1, 2, 3)]
    assert all(p.parent == tmp_path / "in.parts" for p in plan.parts)
    assert plan.endpoint == CHAT and plan.split


def test_a_valid_file_is_sent_as_is(tmp_path: Path) -> None:
    template = RequestTemplate(CHAT, {"model": "m", "messages": [{"content": "{text}"}]})
    source = tmp_path / "in.jsonl"
    build_file([{"text": "a"}], template, source, estimate=False)
    plan = plan_submit(source, allow_split=True)
    assert plan.parts == (source,) and not plan.split


def test_an_invalid_file_is_never_split(tmp_path: Path) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text('{"custom_id": "a"}\n' * 5)
    with pytest.raises(InvalidRequestFileError):
        plan_submit(source, allow_split=True, limits=Limits(max_requests=2))
    assert not (tmp_path / "bad.parts").exists()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1h", 3600), ("90m", 5400), ("7d", 7 * 86400), ("30d", MAX_EXPIRY), ("3600", MIN_EXPIRY)],
)
def test_parse_expiry(text: str, seconds: int) -> None:
    assert parse_expiry(text) == seconds


@pytest.mark.parametrize("text", ["59m", "31d", "3599", "soon", "1w", ""])
def test_parse_expiry_refuses(text: str) -> None:
    with pytest.raises(SubmitError):
        parse_expiry(text)


def test_parse_metadata() -> None:
    assert parse_metadata(["team=ml", "note=a=b", "empty="]) == {
        "team": "ml",
        "note": "a=b",
        "empty": "",
    }


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["novalue"], "key=value"),
        (["a=1", "a=2"], "twice"),
        ([f"k{i}=v" for i in range(16)], "at most 15"),
        (["k" * 65 + "=v"], "1 to 64"),
        (["k=" + "v" * 513], "at most 512"),
        (["=v"], "1 to 64"),
    ],
)
def test_parse_metadata_refuses(pairs: list[str], message: str) -> None:
    with pytest.raises(SubmitError, match=message):
        parse_metadata(pairs)


def test_group_ids_are_fresh() -> None:
    assert new_group_id() != new_group_id()
    assert new_group_id().startswith("grp-")


def test_a_checked_file_is_planned_from_its_check_not_validated_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    template = RequestTemplate(CHAT, {"model": "m", "messages": [{"content": "{text}"}]})
    source = tmp_path / "in.jsonl"
    result = build_file(({"text": str(i)} for i in range(3)), template, source, estimate=False)
    checked = submission.CheckedFile(source, result.report, None)
    validated: list[Path] = []
    monkeypatch.setattr(submission, "validate", lambda path, **kw: validated.append(path))
    options = submit_options(description="", metadata_lines=[], expiry="", split=False)
    plan = plan_checked(checked, CHAT, options)
    assert plan.parts == (source,) and plan.report is result.report
    assert validated == []
