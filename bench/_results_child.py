"""The measured child of ``bench/results.py``: index result files, print JSON.

Usage: ``python bench/_results_child.py DIRECTORY [--output-only]`` or
``python bench/_results_child.py --import-only`` (the floor: start-up and imports).

A script of its own so that the child imports what a user's process would
(``tui.core.results``), not the benchmark's helpers (subprocess, argparse...).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> None:
    start = time.perf_counter()
    from tui.core.results import Attempt, ResultIndex

    if "--import-only" in argv:
        return
    root = Path(argv[0])
    output_only = "--output-only" in argv
    attempt = Attempt(
        "batch_bench",
        0,
        output=root / "output.jsonl",
        error=None if output_only else root / "error.jsonl",
        input=None if output_only else root / "input.jsonl",
    )
    begin = time.perf_counter()
    index = ResultIndex([attempt])
    first = None
    for step in index.build():
        if first is None and step.new_rows:
            first = time.perf_counter() - begin
    full = time.perf_counter() - begin
    counts = {k.value: v for k, v in index.counts().items()}
    print(
        json.dumps(
            {
                "first_rows": first,
                "full": full,
                "import": begin - start,
                "rows": len(index.rows),
                "counts": counts,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
