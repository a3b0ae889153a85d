"""Building a tokenizer table gives back the extension's pages it only read."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc, madvise")


def test_building_a_table_leaves_the_extensions_data_pages_unresident() -> None:
    # In a fresh process: this one may have built (and released) the table already.
    script = textwrap.dedent(
        """
        import os
        from tui.core import tokens

        def resident_kb(path):
            total, inside = 0, False
            for line in open("/proc/self/smaps"):
                head = line.split()
                if "-" in head[0] and ":" not in head[0]:
                    inside = len(head) > 5 and head[5] == path
                elif inside and head[0] == "Rss:":
                    total += int(head[1])
            return total

        library = os.path.realpath(tokens._bindings().__file__)
        before = resident_kb(library)
        assert tokens.count_tokens("hello world", encoding=tokens.O200K) == 2
        after = resident_kb(library)
        # Building reads ~32 MB of the library's data; they are given back after.
        print(before, after)
        assert after < before + 8_000, (before, after)
        # Touching the table again still counts (pages come back from the file).
        assert tokens.count_tokens("Héllo 世界 🎉", encoding=tokens.O200K) == 6
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr


def test_only_clean_read_only_mappings_are_released() -> None:
    from tui.core import mapped_pages, tokens

    library = os.path.realpath(tokens._bindings().__file__)
    ranges = mapped_pages.clean_read_only_ranges(library)
    maps = {}
    with open("/proc/self/maps") as handle:
        for line in handle:
            head = line.split()
            low, high = (int(part, 16) for part in head[0].split("-"))
            maps[(low, high)] = head[1]
    assert ranges
    for span in ranges:
        assert "w" not in maps[span]
    assert mapped_pages.releaser("/nonexistent/library.so")() == 0


def _ranges_line_by_line(path: str) -> list[tuple[int, int]]:
    """The same question answered the slow, obvious way (one smaps line at a time)."""
    ranges, current = [], None
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = line.split(maxsplit=5)
            if len(head) >= 5 and "-" in head[0] and ":" not in head[0]:
                current = None
                name = head[5].strip() if len(head) > 5 else ""
                if name == path and "w" not in head[1] and head[1].endswith("p"):
                    low, high = head[0].split("-")
                    current = (int(low, 16), int(high, 16))
            elif current is not None and head[0] == "Anonymous:":
                if head[1] == "0":
                    ranges.append(current)
                current = None
    return ranges


def test_ranges_match_a_line_by_line_reading_for_every_mapped_file() -> None:
    from tui.core import mapped_pages, tokens

    tokens._bindings()  # the library that matters is mapped
    with open("/proc/self/maps") as handle:
        files = {line.split(maxsplit=5)[-1].strip() for line in handle if " /" in line}
    assert len(files) > 3
    for path in sorted(files):
        assert mapped_pages.clean_read_only_ranges(path) == _ranges_line_by_line(path), path
