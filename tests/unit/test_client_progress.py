"""The upload progress: reported per chunk read, not again for the empty read at the
end (a terminal printed the finished line twice)."""

from __future__ import annotations

import io

from tui.core.client import ProgressReader


def test_progress_is_reported_once_per_chunk_not_at_the_end() -> None:
    seen: list[tuple[int, int]] = []
    reader = ProgressReader(
        io.BytesIO(b"x" * 10), 10, lambda done, total: seen.append((done, total))
    )
    while reader.read(4):
        pass
    assert seen == [(4, 10), (8, 10), (10, 10)]
