"""The measured child of ``bench/results.py``: index result files, print JSON.

Usage: ``python bench/_results_child.py DIRECTORY [--output-only | --export FILE]``
(``--export``: then write the rows to FILE, as ``batchdeck results --export`` does) or
``python bench/_results_child.py --import-only`` (the floor: start-up and imports),
or ``python bench/_results_child.py --detail`` (the detail pane, headless, painting
a ~10 MB answer and a short one).

A script of its own so that the child imports what a user's process would
(``tui.core.results``), not the benchmark's helpers (subprocess, argparse...), nor
``json`` to print its figures (that import, its regular expressions compiled, was
~4 ms: 2% of the measure, spent on the report, not the index).
"""

from __future__ import annotations

import os
import sys
import time


def main(argv: list[str]) -> None:
    if "--detail" in argv:
        import asyncio

        asyncio.run(detail())
        return
    start = time.perf_counter()
    from tui.core.results import Attempt, ResultIndex

    if "--import-only" in argv:
        return
    root = argv[0]
    output_only = "--output-only" in argv
    attempt = Attempt(
        "batch_bench",
        0,
        output=os.path.join(root, "output.jsonl"),
        error=None if output_only else os.path.join(root, "error.jsonl"),
        input=None if output_only else os.path.join(root, "input.jsonl"),
    )
    begin = time.perf_counter()
    index = ResultIndex([attempt])
    first = None
    for step in index.build():
        if first is None and step.new_rows:
            first = time.perf_counter() - begin
    full = time.perf_counter() - begin
    exported = 0.0
    if "--export" in argv:
        from pathlib import Path

        from tui.core.results import export

        export(index, Path(argv[argv.index("--export") + 1]))
        exported = time.perf_counter() - begin - full
    counts = {k.value: v for k, v in index.counts().items()}
    import resource

    print(
        _json(
            {
                "first_rows": first,
                "full": full,
                "export": exported,
                "import": begin - start,
                "rows": len(index.rows),
                "counts": counts,
                # Peak RSS of this process and of its index's worker (0: none ran).
                "self_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                "worker_rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
            }
        )
    )


def _json(value: object) -> str:
    """``value`` (numbers, None, plain-word strings, dicts of them) as JSON."""
    if isinstance(value, dict):
        return "{" + ", ".join(f'"{k}": {_json(v)}' for k, v in value.items()) + "}"
    if isinstance(value, str):
        return f'"{value}"'
    return "null" if value is None else repr(value)


PARAGRAPH = "Parcels **moved** through the depot, one by one, as `planned`.\n\n"


async def detail() -> None:
    """Best of 3 times from a row's decoding to its detail pane painted, for a ~10 MB
    answer and a ~1 KB one; and the characters the pane holds for the big one."""
    import json

    import msgspec
    from textual.app import App, ComposeResult
    from textual.widgets import Markdown, Static

    from tui.core.results import Outcome, ResultRow
    from tui.widgets.result_detail import ResultDetail

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield ResultDetail()

    def line(text: str) -> bytes:
        body = {"model": "m", "choices": [{"index": 0, "message": {"content": text}}]}
        result = {"custom_id": "r", "response": {"status_code": 200, "body": body}}
        return json.dumps(result).encode()

    lines = {"big": line(PARAGRAPH * (10_000_000 // len(PARAGRAPH))), "small": line(PARAGRAPH * 16)}
    row = ResultRow("r", Outcome.OK, 200, source=0, line=1)
    best = dict.fromkeys(lines, float("inf"))
    async with Host().run_test(size=(120, 40)) as pilot:
        pane = pilot.app.query_one(ResultDetail)
        markdown = pane.query_one(Markdown)
        for _ in range(3):
            for name, raw in lines.items():
                pane.clear()
                await pilot.pause()
                begin = time.perf_counter()
                pane.show(row, None, None, msgspec.json.decode(raw), raw, "output file line 1")
                await pilot.pause()
                while markdown.lock.is_locked:  # Markdown mounts its blocks in a task
                    await pilot.pause(0.005)
                best[name] = min(best[name], time.perf_counter() - begin)
        pane.show(row, None, None, msgspec.json.decode(lines["big"]), lines["big"], "")
        await pilot.pause()
        text = pane.query_one("#detail-response-text", Static).render()
        chars = len(markdown.source) + len(str(text))
    print(json.dumps({**best, "chars": chars, "answer": len(lines["big"])}))


if __name__ == "__main__":
    main(sys.argv[1:])
