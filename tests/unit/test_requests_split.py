"""Splitting batch input files into parts that fit the limits."""

from __future__ import annotations

import itertools
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from tui.core.requests import (
    Code,
    InvalidRequestFileError,
    Limits,
    SplitError,
    part_path,
    split,
    validate,
)

CHAT = "/v1/chat/completions"
EMBED = "/v1/embeddings"


def chat(i: int, text: str = "hello") -> dict[str, Any]:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}
    return {"custom_id": f"r{i}", "method": "POST", "url": CHAT, "body": body}


def embed(i: int, value: Any) -> dict[str, Any]:
    body = {"model": "text-embedding-3-small", "input": value}
    return {"custom_id": f"e{i}", "method": "POST", "url": EMBED, "body": body}


def write(path: Path, objs: list[dict[str, Any]], end: str = "\n", last_end: bool = True) -> Path:
    lines = [json.dumps(obj, ensure_ascii=False) for obj in objs]
    text = end.join(lines) + (end if last_end else "")
    path.write_bytes(text.encode())
    return path


def test_split_by_count(tmp_path: Path) -> None:
    src = write(tmp_path / "big.jsonl", [chat(i) for i in range(10)])
    parts = split(src, tmp_path / "out", max_requests=3)
    assert [p.name for p in parts] == [f"big.part-00{n}.jsonl" for n in (1, 2, 3, 4)]
    assert [validate(p).request_count for p in parts] == [3, 3, 3, 1]
    assert all(validate(p).ok for p in parts)
    assert b"".join(p.read_bytes() for p in parts) == src.read_bytes()
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in parts)


def test_split_by_bytes(tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", [chat(i, "x" * (i * 10)) for i in range(8)])
    report = validate(src)
    biggest = max(report.line_span(n)[1] - report.line_span(n)[0] for n in range(1, 9))
    parts = split(src, tmp_path, max_bytes=biggest + 20)
    assert len(parts) > 2
    assert all(p.stat().st_size <= biggest + 20 for p in parts)
    assert b"".join(p.read_bytes() for p in parts) == src.read_bytes()


def test_split_by_embedding_inputs(tmp_path: Path) -> None:
    src = write(tmp_path / "e.jsonl", [embed(0, ["a", "b"]), embed(1, "c"), embed(2, ["d", "e"])])
    parts = split(src, tmp_path / "out", max_embedding_inputs=3)
    assert [validate(p).embedding_inputs for p in parts] == [3, 2]


def test_file_within_limits_gives_one_part(tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", [chat(i) for i in range(3)])
    parts = split(src, tmp_path / "out")
    assert len(parts) == 1 and parts[0].read_bytes() == src.read_bytes()


def test_split_keeps_crlf_and_missing_final_newline(tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", [chat(i) for i in range(5)], end="\r\n", last_end=False)
    parts = split(src, tmp_path / "out", max_requests=2)
    assert len(parts) == 3
    assert parts[0].read_bytes().endswith(b"}\r\n")
    assert parts[-1].read_bytes().endswith(b"}")
    assert b"".join(p.read_bytes() for p in parts) == src.read_bytes()


def test_split_refuses_invalid_file(tmp_path: Path) -> None:
    objs = [chat(i) for i in range(6)]
    objs[4]["method"] = "GET"
    src = write(tmp_path / "in.jsonl", objs)
    out = tmp_path / "out"
    with pytest.raises(InvalidRequestFileError) as info:
        split(src, out, max_requests=2)
    assert [(p.line, p.code) for p in info.value.problems] == [(5, Code.INVALID_METHOD)]
    assert "line 5, method" in str(info.value)
    assert info.value.count == 1 and "1 problem(s)" in str(info.value)
    assert not out.exists() or not any(out.iterdir())


def test_split_ignores_limit_problems_but_not_others(tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", [chat(i) for i in range(4)] + [chat(0)])
    with pytest.raises(InvalidRequestFileError) as info:
        split(src, tmp_path / "out", max_requests=2)
    assert [p.code for p in info.value.problems] == [Code.DUPLICATE_CUSTOM_ID]


def test_split_refuses_empty_file(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"")
    with pytest.raises(InvalidRequestFileError, match="empty_file"):
        split(src, tmp_path / "out")


def test_split_checks_expected_endpoint(tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", [chat(1)])
    with pytest.raises(InvalidRequestFileError, match="url_mismatch"):
        split(src, tmp_path / "out", endpoint=EMBED)


def test_request_bigger_than_a_part(tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", [chat(0), chat(1, "y" * 500), chat(2)])
    with pytest.raises(SplitError) as info:
        split(src, tmp_path / "out", max_bytes=300)
    assert info.value.problem.line == 2
    assert "line 2" in str(info.value)
    src = write(tmp_path / "e.jsonl", [embed(0, "a"), embed(1, ["a", "b", "c"])])
    with pytest.raises(SplitError) as info:
        split(src, tmp_path / "out", max_embedding_inputs=2)
    assert (info.value.problem.line, info.value.problem.field) == (2, "body.input")


def test_split_replaces_existing_parts(tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", [chat(i) for i in range(2)])
    out = tmp_path / "out"
    out.mkdir()
    (out / "in.part-001.jsonl").write_text("old")
    parts = split(src, out)
    assert parts[0].read_bytes() == src.read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["in.part-001.jsonl"]  # no temp left


def test_split_removes_stale_parts_of_an_earlier_split(tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", [chat(i) for i in range(9)])
    out = tmp_path / "out"
    assert len(split(src, out, max_requests=3)) == 3
    assert len(split(src, out, max_requests=2000, max_bytes=10**6)) == 1
    # Not parts of this split, so left alone: another stem, other names, a wider part.
    keep = ["other.part-002.jsonl", "in.part-002.jsonl.bak", "in.part-2.jsonl", "notes.txt"]
    for name in keep:
        (out / name).write_text("mine")
    (out / "in.part-0005.jsonl").write_text("stale, from a split into 1,000+ parts")
    parts = split(src, out, max_requests=5)
    assert [p.name for p in parts] == ["in.part-001.jsonl", "in.part-002.jsonl"]
    assert sorted(p.name for p in out.iterdir()) == sorted([*keep, *(p.name for p in parts)])
    assert b"".join(p.read_bytes() for p in parts) == src.read_bytes()  # no line twice


def test_part_path_width() -> None:
    src = Path("/data/requests.jsonl")
    assert part_path(src, Path("/o"), 7, 12) == Path("/o/requests.part-007.jsonl")
    assert part_path(src, Path("/o"), 7, 1200).name == "requests.part-0007.jsonl"


# -- property: any valid file splits into valid parts, losing and repeating nothing --------

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
EMBED_INPUT = st.one_of(
    TEXT,
    st.lists(TEXT, min_size=1, max_size=4),
    st.lists(st.integers(0, 5000), min_size=1, max_size=4),
    st.lists(st.lists(st.integers(0, 9), min_size=1, max_size=3), min_size=1, max_size=3),
)


@st.composite
def request_files(draw: st.DrawFn) -> tuple[list[dict[str, Any]], str, bool]:
    """A valid request list (chat or embeddings), a line ending, a final newline or not."""
    n = draw(st.integers(1, 25))
    if draw(st.booleans()):
        objs = [embed(i, draw(EMBED_INPUT)) for i in range(n)]
    else:
        objs = [chat(i, draw(TEXT)) for i in range(n)]
    return objs, draw(st.sampled_from(["\n", "\r\n"])), draw(st.booleans())


@settings(derandomize=True, deadline=None, max_examples=80)
@given(
    spec=request_files(),
    max_requests=st.integers(1, 8),
    spare_bytes=st.integers(0, 400),
    max_inputs=st.integers(4, 12),
)
def test_split_property(
    spec: tuple[list[dict[str, Any]], str, bool],
    max_requests: int,
    spare_bytes: int,
    max_inputs: int,
) -> None:
    objs, end, last_end = spec
    with tempfile.TemporaryDirectory() as tmp:
        src = write(Path(tmp) / "in.jsonl", objs, end, last_end)
        report = validate(src)
        assert report.ok, report.problems
        longest = max(report.offsets[i + 1] - report.offsets[i] for i in range(report.line_count))
        max_bytes = longest + spare_bytes
        parts = split(
            src,
            Path(tmp) / "out",
            max_requests=max_requests,
            max_bytes=max_bytes,
            max_embedding_inputs=max_inputs,
        )
        event("several parts" if len(parts) > 1 else "one part")
        limits = Limits(max_requests, max_bytes, max_inputs)
        reports = [validate(p, limits=limits) for p in parts]
        # Every part is valid on its own and within every limit.
        assert all(r.ok for r in reports), [r.problems for r in reports]
        # Nothing lost, nothing repeated, order kept: the parts put back are the file.
        assert b"".join(p.read_bytes() for p in parts) == src.read_bytes()
        ids = [json.loads(raw)["custom_id"] for p in parts for raw in p.read_bytes().splitlines()]
        assert ids == [obj["custom_id"] for obj in objs]
        # Greedy: no part could have taken the next part's first line.
        for this, nxt in itertools.pairwise(reports):
            first_line = nxt.path.read_bytes()[: nxt.line_span(1)[1]]
            first = validate(_write_bytes(Path(tmp) / "first.jsonl", first_line))
            assert (
                this.request_count + 1 > max_requests
                or this.bytes + first.bytes > max_bytes
                or this.embedding_inputs + first.embedding_inputs > max_inputs
            )


def _write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
