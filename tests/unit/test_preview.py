"""The first lines of a file: bounded in lines and bytes, decoded leniently."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from tui.core.models import FileInfo
from tui.core.preview import LINE_SHOWN, Preview, cut_lines, first_lines


def test_a_short_file_is_shown_whole() -> None:
    assert cut_lines(b'{"a": 1}\n{"b": 2}\n', complete=True) == Preview(
        ('{"a": 1}', '{"b": 2}'), False
    )
    assert cut_lines(b"no newline at the end", complete=True) == Preview(
        ("no newline at the end",), False
    )
    assert cut_lines(b"", complete=True) == Preview((), False)


def test_only_the_first_lines_and_more_says_so() -> None:
    data = b"".join(b"line %d\r\n" % n for n in range(30))
    shown = cut_lines(data, complete=True, lines=3)
    assert shown == Preview(("line 0", "line 1", "line 2"), True)


def test_a_line_cut_by_the_byte_limit_is_kept_and_marked() -> None:
    shown = cut_lines(b"first\nsecond is cu", complete=False)
    assert shown == Preview(("first", "second is cu"), True)


def test_bad_utf8_is_replaced_and_long_lines_are_cut() -> None:
    shown = cut_lines(b"\xff\xfeok\n" + b"x" * (LINE_SHOWN + 10) + b"\n", complete=True)
    assert shown.lines[0] == "\ufffd\ufffdok"
    assert len(shown.lines[1]) == LINE_SHOWN


class Chunks:
    """A client whose file content comes in the given chunks; counts what was read."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.read = 0
        self.closed = False

    async def iter_file_content(self, file_id: str, *, info: Any = None) -> AsyncIterator[bytes]:
        try:
            for chunk in self.chunks:
                self.read += len(chunk)
                yield chunk
        finally:
            self.closed = True


def info(size: int) -> FileInfo:
    return FileInfo(id="file-1", filename="a.jsonl", purpose="batch", bytes=size, created_at=0)


def test_reading_stops_after_enough_lines_or_bytes_and_closes_the_stream() -> None:
    chunks = [b"a\nb\n", b"c\nd\n", b"e\n" * 1000]
    client = Chunks(chunks)
    shown = asyncio.run(first_lines(client, info(sum(map(len, chunks))), lines=3))  # type: ignore[arg-type]
    assert shown == Preview(("a", "b", "c"), True)
    assert client.read == 8 and client.closed  # the third chunk was never asked for

    big = Chunks([b"x" * 5000, b"never read"])
    shown = asyncio.run(first_lines(big, info(6000), limit=100))  # type: ignore[arg-type]
    assert shown == Preview(("x" * 100,), True) and big.read == 5000


def test_a_file_of_exactly_the_lines_asked_for_has_no_more() -> None:
    client = Chunks([b"a\nb\n"])
    shown = asyncio.run(first_lines(client, info(4), lines=2))  # type: ignore[arg-type]
    assert shown == Preview(("a", "b"), False)
