"""Safe local names for server-supplied file names, download places, and input lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.core import paths
from tui.core.downloads import (
    batch_file_path,
    inside,
    job_for_batch,
    read_lines,
    record_download,
    safe_name,
)
from tui.core.models import Batch
from tui.core.registry import Job, Registry


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../.bashrc", "bashrc"),
        ("..\\..\\evil.jsonl", "evil.jsonl"),
        ("/etc/passwd", "passwd"),
        ("batch_abc_output.jsonl", "batch_abc_output.jsonl"),
        ("..", "fallback"),
        ("", "fallback"),
        ("...", "fallback"),
        ("a/b/", "fallback"),
        ("[bold red]x[/]\x1b[2J.jsonl", "2J.jsonl"),
        ("[b]x\x1b]0;t\x07.jsonl", "b_x_0_t_.jsonl"),
        ("naïve résumé.jsonl", "na_ve_r_sum_.jsonl"),
        ("-rf", "-rf"),
    ],
)
def test_safe_name(name: str, expected: str) -> None:
    assert safe_name(name, "fallback") == expected


def test_safe_name_keeps_the_suffix_of_long_names() -> None:
    name = safe_name("x" * 500 + ".jsonl")
    assert len(name) <= 120
    assert name.endswith(".jsonl")


def test_hostile_name_lands_inside_the_chosen_directory(tmp_path: Path) -> None:
    chosen = tmp_path / "downloads"
    target = inside(chosen, "../../.bashrc", "file-1.jsonl")
    assert target == chosen / "bashrc"
    assert target.resolve().parent == chosen.resolve()


def test_a_batchs_files_have_one_place_the_results_store() -> None:
    from tui.core.results import results_dir

    assert batch_file_path("batch_1", "error") == results_dir("batch_1") / "error.jsonl"
    hostile = batch_file_path("../x", "input")
    assert hostile.parent.parent == paths.data_dir() / "results" and hostile.name == "input.jsonl"
    with pytest.raises(ValueError, match="no 'notes' file"):
        batch_file_path("batch_1", "notes")


BATCH = Batch(
    id="batch_1", status="completed", endpoint="/v1/embeddings", input_file_id="f", created_at=1
)


def test_file_names_go_on_after_the_id_and_fit_the_name_limit(tmp_path: Path) -> None:
    import itertools

    from tui.core.downloads import MAX_NAME, file_names

    names = [p.name for p in itertools.islice(file_names(tmp_path, "a.jsonl", "file-1"), 3)]
    assert names == ["a.jsonl", "a.file-1.jsonl", "a.file-1.2.jsonl"]
    long = list(itertools.islice(file_names(tmp_path, "x" * 300 + ".jsonl", "file-1"), 3))
    assert len({p.name for p in long}) == 3
    assert all(len(p.name) <= MAX_NAME and p.parent == tmp_path for p in long)
    assert long[2].name.endswith(".file-1.2.jsonl")


def test_record_download_creates_a_job_once_and_keeps_other_downloads(tmp_path: Path) -> None:
    registry = Registry(durable=False)
    record_download(registry, BATCH, "output", tmp_path / "out.jsonl", profile="p")
    job = record_download(registry, BATCH, "error", tmp_path / "err.jsonl", profile="p")
    assert job.job_id == "batch_1"
    assert job.profile == "p"
    assert job.downloads == {
        "output": str(tmp_path / "out.jsonl"),
        "error": str(tmp_path / "err.jsonl"),
    }
    assert len(Registry(durable=False).load()) == 1


def test_job_for_batch_uses_the_existing_job() -> None:
    registry = Registry(durable=False)
    registry.add(Job(job_id="mine", batch_id="batch_1", description="kept"))
    job = job_for_batch(registry, BATCH)
    assert (job.job_id, job.description) == ("mine", "kept")


def test_read_lines_streams_only_wanted_lines_and_cuts_long_ones(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"one\n" + b"x" * 100_000 + b"\nthree\r\n\xff\xfe bad utf8\nfive")
    lines = read_lines(path, {1, 2, 3, 4, 5, 9}, limit=50)
    assert lines[1] == "one"
    assert len(lines[2]) == 50 and lines[2].endswith("…")
    assert lines[3] == "three"
    assert lines[4].endswith(" bad utf8")
    assert lines[5] == "five"
    assert 9 not in lines
    assert read_lines(path, []) == {}


# -- what a download is checked against -----------------------------------------------


def checked(content: bytes, *, purpose: str = "batch_output", size: int | None = None) -> None:
    """Feed ``content`` to a ContentCheck in awkward 7-byte chunks and finish it."""
    from tui.core.client import ContentCheck
    from tui.core.models import FileInfo

    reported = len(content) if size is None else size
    check = ContentCheck(FileInfo("file-1", "f.jsonl", purpose, reported, 0))
    for start in range(0, len(content), 7):
        check.feed(content[start : start + 7])
    check.finish()


@pytest.mark.parametrize(
    "content",
    [
        b'{"a": 1}\n{"b": [2, 3]}\n',
        b'{"a": 1}\r\n{"b": 2}\r\n',  # CRLF
        b'{"a": 1}\n\n{"b": 2}',  # a blank line; the last line without a newline
        b'{"a": "\\ud800 lone surrogate escape"}\n',  # JSON allows it
        b"",
    ],
)
def test_result_files_that_pass(content: bytes) -> None:
    checked(content)


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (b'{"a": 1}\n[1, 2]\n', 2),  # not an object
        (b'{"a": 1}\n{"a": 1}\n{"cut', 3),  # the last line, without a newline
        (b'<html>\n{"a": 1}\n', 1),
        (b'{"a": NaN}\n', 1),
    ],
)
def test_result_files_refused_by_line(content: bytes, line: int) -> None:
    from tui.core.client import DownloadCheckError

    with pytest.raises(DownloadCheckError, match=f"line {line} is not a JSON object"):
        checked(content)


def test_the_size_is_checked_first_and_zero_means_unreported() -> None:
    from tui.core.client import DownloadCheckError

    with pytest.raises(DownloadCheckError, match="received 6 bytes, but the Files API reports 9"):
        checked(b"<html>", size=9)
    checked(b'{"a": 1}\n', size=0)  # a server that reports no size
    checked(b"any bytes at all", purpose="batch")  # an input file's lines are the user's
