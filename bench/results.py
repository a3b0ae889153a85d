"""Benchmark: index a 50,000-line, ~200 MB batch output (joined to its input).

Usage: ``.venv/bin/python bench/results.py [--rounds N]``

Generated once into ``.bench/``: an input of 50,000 chat requests (~50 MB) and its
results, shuffled as the API returns them: ~97% in an output file of ~200 MB (long
answers, some non-ASCII), 2% HTTP 500s and 0.5% ``batch_expired`` in an error file,
0.5% missing from both. Each round runs, in separate child processes:

- ours: :class:`tui.core.results.ResultIndex` over output + error + input (the full
  join, rows put in input order at the end), as the results screen's worker does;
  and, for a like-for-like line, over the output file alone;
- ``jq -c .custom_id OUTPUT >/dev/null``: reads the output file only;
- ``wc -l OUTPUT``: the floor (reading the bytes, finding newlines).

The best round of each is compared (wall time of the whole child, interpreter
start-up and imports included). Time to first rows is measured inside our child,
from before the index is created to the first step that yields rows. Peak memory is
our child's peak RSS (``ru_maxrss``: interpreter, msgspec, the index and the rows;
it excludes the page cache of the files, which the kernel owns); a child that only
imports the module is measured too, as the floor.
Goals: at least 5x faster than jq (ratio ours/jq <= 0.2), peak RSS < 150 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path

from _common import CACHE_DIR, best_of, cached_file, check_ok, mb, paragraphs, run_measured
from validate import shown

LINES = 50_000
OUTPUT_BYTES = 200_000_000
RATIO_GOAL = 0.2
RSS_GOAL = 150_000_000
JQ = shutil.which("jq") or "/usr/bin/jq"
WC = shutil.which("wc") or "/usr/bin/wc"
NAME = f"results-{LINES}"


def build_all(directory: Path) -> None:
    """Write input.jsonl, output.jsonl and error.jsonl into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    pool = paragraphs(500, 60, seed=3)
    per_answer = OUTPUT_BYTES // LINES - 900  # the JSON around each answer
    outputs: list[str] = []
    failures: list[str] = []
    with open(directory / "input.jsonl", "w", encoding="utf-8") as inputs:
        for i in range(LINES):
            custom_id = f"request-{i:06d}"
            question = " ".join(rng.choice(pool) for _ in range(2))
            request = {
                "custom_id": custom_id,
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {
                    "model": "gpt-4o-mini",
                    "messages": [
                        {"role": "system", "content": "You are a careful analyst."},
                        {"role": "user", "content": question},
                    ],
                    "max_tokens": 1024,
                },
            }
            inputs.write(json.dumps(request, ensure_ascii=False, separators=(",", ":")) + "\n")
            roll = rng.random()
            if roll < 0.005:
                continue  # missing from both files
            if roll < 0.01:
                failures.append(_line(custom_id, None, {"code": "batch_expired"}))
                continue
            if roll < 0.03:
                body = {"error": {"message": "The server had an error.", "type": "server_error"}}
                failures.append(_line(custom_id, (500, body), None))
                continue
            want = rng.randint(per_answer // 2, per_answer * 3 // 2)
            parts: list[str] = []
            size = 0
            while size < want:
                parts.append(rng.choice(pool))
                size += len(parts[-1].encode()) + 1
            outputs.append(_line(custom_id, (200, _chat_body(i, " ".join(parts))), None))
    rng.shuffle(outputs)
    rng.shuffle(failures)
    (directory / "output.jsonl").write_text("".join(outputs), encoding="utf-8")
    (directory / "error.jsonl").write_text("".join(failures), encoding="utf-8")


def _line(custom_id: str, response: tuple[int, dict] | None, error: dict | None) -> str:
    line = {
        "id": f"batch_req_{custom_id}",
        "custom_id": custom_id,
        "response": (
            {"status_code": response[0], "request_id": f"req_{custom_id}", "body": response[1]}
            if response
            else None
        ),
        "error": error,
    }
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n"


def _chat_body(i: int, text: str) -> dict:
    tokens = len(text) // 4
    return {
        "id": f"chatcmpl-{i:08d}",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 180,
            "completion_tokens": tokens,
            "total_tokens": 180 + tokens,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
        "system_fingerprint": "fp_bench",
    }


def child(directory: str, *, output_only: bool = False) -> None:
    """Index the files in this process; print timings and counts as JSON."""
    start = time.perf_counter()
    from tui.core.results import Attempt, ResultIndex

    root = Path(directory)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-baseline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--output-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_baseline:
        import tui.core.results  # noqa: F401  (the import is what is measured)

        return
    if args.child:
        child(args.child, output_only=args.output_only)
        return

    if not (CACHE_DIR / NAME).exists():
        cached_file(NAME, build_all)
        # Start afresh: a child's ru_maxrss includes the parent's peak at fork time.
        os.execv(sys.executable, [sys.executable, *sys.argv])
    directory = CACHE_DIR / NAME
    output = directory / "output.jsonl"
    sizes = {name: (directory / name).stat().st_size for name in ("output.jsonl", "input.jsonl")}
    me = [sys.executable, str(Path(__file__).resolve())]
    ours_cmd = [*me, "--child", str(directory)]
    jq_cmd = [JQ, "-c", ".custom_id", str(output)]
    wc_cmd = [WC, "-l", str(output)]

    floor = check_ok(run_measured([*me, "--child-baseline"]), "import baseline")
    ours = best_of(args.rounds, lambda: check_ok(run_measured(ours_cmd), "index"))
    alone_cmd = [*ours_cmd, "--output-only"]
    alone = best_of(args.rounds, lambda: check_ok(run_measured(alone_cmd), "index output"))
    jq = best_of(args.rounds, lambda: check_ok(run_measured(jq_cmd, capture=False), "jq"))
    wc = best_of(args.rounds, lambda: check_ok(run_measured(wc_cmd, capture=False), "wc"))
    found = json.loads(ours.stdout)
    ratio = ours.seconds / jq.seconds
    verdict = "PASS" if ratio <= RATIO_GOAL and ours.peak_rss < RSS_GOAL else "FAIL"
    print(
        f"{verdict} results index: output {mb(sizes['output.jsonl'])} + input "
        f"{mb(sizes['input.jsonl'])}, {found['rows']} rows {found['counts']}\n"
        f"  first rows after {found['first_rows'] * 1000:.0f} ms; full index "
        f"{ours.seconds:.2f} s (child wall; index alone {found['full']:.2f} s)\n"
        f"  vs jq -c .custom_id {jq.seconds:.2f} s: {jq.seconds / ours.seconds:.1f}x faster, "
        f"ratio {ratio:.3f} (goal <= {RATIO_GOAL}); vs wc -l {wc.seconds:.2f} s: "
        f"{ours.seconds / wc.seconds:.1f}x the floor\n"
        f"  the output file alone (what jq reads): {alone.seconds:.2f} s, "
        f"{jq.seconds / alone.seconds:.1f}x faster than jq "
        f"(ratio {alone.seconds / jq.seconds:.3f})\n"
        f"  peak RSS {mb(ours.peak_rss)} (import-only child {mb(floor.peak_rss)}; "
        f"goal < {mb(RSS_GOAL)}); best of {args.rounds}\n"
        f"  cmds: `{shown(ours_cmd)}` vs `{shown(jq_cmd)} >/dev/null` vs `{shown(wc_cmd)}`"
    )
    if verdict != "PASS":
        raise SystemExit(1)


if __name__ == "__main__":
    main()
