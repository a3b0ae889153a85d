"""Give back the pages of a shared library that were only read once (Linux).

``bpe-openai`` builds a tokenizer table from data embedded in its extension: building
reads ~32 MB of the file, which then stay resident (file-backed pages counted in the
process's RSS) although only the built table, in anonymous memory, is used after.
:func:`releaser` prepares the release before the table is built and it is made the
moment the build returns (the build holds the GIL, so the pages cannot be released
while it reads them).

Only read-only private mappings of the file that hold no anonymous (copy-on-write)
page are released (``madvise(MADV_DONTNEED)``): their pages are clean copies of the
file, read again from it if ever touched, so nothing can change but the resident size.
Elsewhere (not Linux, no ``/proc``) nothing is done.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

_MADV_DONTNEED = 4  # Linux
_ANONYMOUS = "\nAnonymous:"

Range = tuple[int, int]


def clean_read_only_ranges(path: str) -> list[Range]:
    """Address ranges of ``path``'s read-only private mappings without anonymous pages.

    ``/proc/self/smaps`` is read whole and only the blocks naming ``path`` are looked
    at (a Python loop over its thousands of lines took several milliseconds).
    """
    with open("/proc/self/smaps", encoding="utf-8", errors="replace") as smaps:
        text = smaps.read()
    ranges: list[Range] = []
    name = f" {path}\n"
    at = text.find(name)
    while at >= 0:
        head = text[text.rfind("\n", 0, at) + 1 : at].split()
        anonymous = text.find(_ANONYMOUS, at)  # this block's (every block has one)
        if (
            len(head) == 5
            and "-" in head[0]
            and "w" not in head[1]
            and head[1].endswith("p")
            and anonymous >= 0
            and text[anonymous + len(_ANONYMOUS) : anonymous + 40].split()[:1] == ["0"]
        ):
            low, high = head[0].split("-")
            ranges.append((int(low, 16), int(high, 16)))
        at = text.find(name, at + len(name))
    return ranges


def _madvise() -> Any:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    madvise = libc.madvise
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    return madvise


def releaser(library: str) -> Callable[[], int]:
    """A function that releases ``library``'s clean read-only pages and returns the
    bytes covered (0 where nothing can be done). The mappings are found now, so the
    call itself is only ``madvise``: made right after the pages were read, it leaves
    no time for the process to grow while they are still resident."""
    ranges: list[Range] = []
    if sys.platform.startswith("linux"):
        try:
            ranges = clean_read_only_ranges(os.path.realpath(library))
            madvise = _madvise() if ranges else None
        except (OSError, ValueError, AttributeError):
            ranges = []
    if not ranges or madvise is None:
        return lambda: 0

    def release() -> int:
        return sum(
            end - start for start, end in ranges if madvise(start, end - start, _MADV_DONTNEED) == 0
        )

    return release
