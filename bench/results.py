"""Benchmark: index a 50,000-line, ~200 MB batch output (joined to its input).

Usage: ``.venv/bin/python bench/results.py [--rounds N]``

Generated once into ``.bench/``: an input of 50,000 chat requests (~50 MB) and its
results, shuffled as the API returns them: ~97% in an output file of ~200 MB (long
answers, some non-ASCII), 2% HTTP 500s and 0.5% ``batch_expired`` in an error file,
0.5% missing from both. Each round runs, in separate child processes
(``bench/_results_child.py``, which imports only ``tui.core.results``), one after
the other:

- ours over the output file alone: what ``jq`` reads, so the like-for-like measure
  the goal is judged on (the issue: "the full index time as a ratio to
  ``jq -c .custom_id`` over the same file");
- ours over output + error + input: the full join the results screen's worker does
  (rows put in input order at the end). It reads 50 MB more than jq and joins; its
  ratio is printed too, as extra work, not as the goal;
- ``jq -c .custom_id OUTPUT >/dev/null``: reads the output file only;
- ``wc -l OUTPUT``: the floor (reading the bytes, finding newlines).

The best round of each is compared (wall time of the whole child, interpreter
start-up and imports included; children run from bytecode, as an installed package
does). Time to first rows is measured inside our child, from before the index is
created to the first step that yields rows. Peak memory is the larger peak RSS of
our two children (``ru_maxrss``: interpreter, msgspec, the index and the rows; it
excludes the page cache of the files, which the kernel owns); a child that only
imports the module is measured too, as the floor.
Goals: at least 5x faster than jq (ratio ours/jq <= 0.2), peak RSS < 150 MB.

Then the detail pane (``_results_child.py --detail``, headless): the time from
decoding a row's line to the pane painted, for a ~10 MB answer against a ~1 KB one
in the same child (best of 3 each); the pane renders only the start of the big one.
Goal: the big answer paints within 5x the time of the small one.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

from _common import (
    CACHE_DIR,
    Run,
    cached_file,
    check_ok,
    child_environment,
    mb,
    paragraphs,
    run_measured,
)
from validate import shown

LINES = 50_000
OUTPUT_BYTES = 200_000_000
RATIO_GOAL = 0.2
RSS_GOAL = 150_000_000
DETAIL_GOAL = 5.0  # a 10 MB answer's pane paints within this many times a 1 KB one's
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


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not (CACHE_DIR / NAME).exists():
        cached_file(NAME, build_all)
        # Start afresh: a child's ru_maxrss includes the parent's peak at fork time.
        os.execv(sys.executable, [sys.executable, *sys.argv])
    pycache = Path(tempfile.mkdtemp(prefix="batchdeck-bench-"))
    child_environment(pycache)
    try:
        measure(args.rounds)
    finally:
        shutil.rmtree(pycache, ignore_errors=True)


def measure(rounds: int) -> None:
    """Run every child ``rounds`` times; print the summary; exit 1 if a goal is missed."""
    directory = CACHE_DIR / NAME
    output = directory / "output.jsonl"
    sizes = {
        name: (directory / name).stat().st_size
        for name in ("output.jsonl", "error.jsonl", "input.jsonl")
    }
    child = [sys.executable, str(Path(__file__).resolve().with_name("_results_child.py"))]
    alone_cmd = [*child, str(directory), "--output-only"]
    join_cmd = [*child, str(directory)]
    jq_cmd = [JQ, "-c", ".custom_id", str(output)]
    wc_cmd = [WC, "-l", str(output)]

    check_ok(run_measured([*child, "--import-only"]), "warm-up (writes the bytecode)")
    floor = check_ok(run_measured([*child, "--import-only"]), "import baseline")
    # Rounds interleave the commands, so a busy moment of the machine hits each alike.
    commands = {"index output": alone_cmd, "index": join_cmd, "jq": jq_cmd, "wc": wc_cmd}
    runs: dict[str, list[Run]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, cmd in commands.items():
            run = run_measured(cmd, capture=name.startswith("index"))
            runs[name].append(check_ok(run, name))
    alone, join, jq, wc = (min(found, key=lambda run: run.seconds) for found in runs.values())
    found = json.loads(join.stdout)
    alone_found = json.loads(alone.stdout)
    ratio = alone.seconds / jq.seconds
    peak = max(alone.peak_rss, join.peak_rss)
    pane_run = check_ok(run_measured([*child, "--detail"]), "detail pane")
    pane = json.loads(pane_run.stdout)
    pane_ratio = pane["big"] / pane["small"]
    met = ratio <= RATIO_GOAL and peak < RSS_GOAL and pane_ratio <= DETAIL_GOAL
    verdict = "PASS" if met else "FAIL"
    print(
        f"{verdict} results index of {mb(sizes['output.jsonl'])} output, "
        f"{alone_found['rows']} lines; best of {rounds}, child wall times (start-up included)\n"
        f"  output file alone, what jq reads (the goal): {alone.seconds:.2f} s "
        f"(index {alone_found['full']:.2f} s, first rows after "
        f"{alone_found['first_rows'] * 1000:.0f} ms)\n"
        f"    vs jq -c .custom_id {jq.seconds:.2f} s: {jq.seconds / alone.seconds:.1f}x faster, "
        f"ratio {ratio:.3f} (goal <= {RATIO_GOAL}); vs wc -l {wc.seconds:.2f} s (the floor): "
        f"{alone.seconds / wc.seconds:.1f}x\n"
        f"  full join, output + error {mb(sizes['error.jsonl'])} + input "
        f"{mb(sizes['input.jsonl'])} (more than jq reads): {join.seconds:.2f} s "
        f"(index {found['full']:.2f} s, first rows after {found['first_rows'] * 1000:.0f} ms), "
        f"ratio to jq {join.seconds / jq.seconds:.3f}; {found['rows']} rows {found['counts']}\n"
        f"  peak RSS {mb(peak)} (import-only child {mb(floor.peak_rss)}, "
        f"{floor.seconds:.2f} s; goal < {mb(RSS_GOAL)})\n"
        f"  detail pane, headless: a {mb(pane['answer'])} answer painted in "
        f"{pane['big'] * 1000:.0f} ms vs a 1 KB one in {pane['small'] * 1000:.0f} ms, "
        f"ratio {pane_ratio:.1f} (goal <= {DETAIL_GOAL:g}); {pane['chars']:,} characters "
        f"rendered; child peak RSS {mb(pane_run.peak_rss)}\n"
        f"  cmds: `{shown(alone_cmd)}` and `{shown(join_cmd)}` vs "
        f"`{shown(jq_cmd)} >/dev/null` vs `{shown(wc_cmd)}`"
    )
    if verdict != "PASS":
        raise SystemExit(1)


if __name__ == "__main__":
    main()
