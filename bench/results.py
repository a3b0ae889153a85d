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

Each round first reads the three files once, unmeasured (:func:`warm`), so every
command of the round finds them in the page cache: the measure is the index, not the
disk, and no command pays for the cache another one filled. The best round of
each is compared (wall time of the whole child, interpreter start-up and imports
included; children run from bytecode, as an installed package does); every round's
ratio is judged. Time to first rows is measured inside our child, from before the index is
created to the first step that yields rows. Peak memory is the larger peak RSS of
our two children (``ru_maxrss``: interpreter, msgspec, the index and the rows; it
excludes the page cache of the files, which the kernel owns), each plus the peak RSS
of the worker process its index ran for a big file's tail (summed: the most both
could hold at once); a child that only imports the module is measured too, as the
floor.
Goals: ratio ours/jq <= 0.15 in every round (the CPU-time ratio is printed too: the
machine may be busy), peak RSS < 150 MB.

Then the detail pane (``_results_child.py --detail``, headless): the time from
decoding a row's line to the pane painted, for a ~10 MB answer against a ~1 KB one
in the same child (best of 3 each); the pane renders only the start of the big one.
Goal: the big answer paints within 5x the time of the small one.

Then the scaling table (``--no-scale`` skips it): batches of 10k, 50k and 200k lines
(the last ~750 MB) generated in a temp dir, deleted after; the full join and a CSV
export (``_results_child.py DIR --export FILE``, what ``batchdeck results --export``
does) in interleaved rounds; wall, CPU and peak RSS of each.
Goal: the export's peak RSS < 100 MB at every size (the rows are columns, no
per-row object is kept; the export streams).
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
    record_verdict,
    run_measured,
)
from validate import shown

LINES = 50_000
OUTPUT_BYTES = 200_000_000
RATIO_GOAL = 0.15  # in every round
RSS_GOAL = 150_000_000
EXPORT_RSS_GOAL = 100_000_000  # the export's peak RSS, at any size
SCALE_LINES = (10_000, 50_000, 200_000)
DETAIL_GOAL = 5.0  # a 10 MB answer's pane paints within this many times a 1 KB one's
JQ = shutil.which("jq") or "/usr/bin/jq"
WC = shutil.which("wc") or "/usr/bin/wc"
NAME = f"results-{LINES}"


def build_all(directory: Path, lines: int = LINES) -> None:
    """Write input.jsonl, output.jsonl and error.jsonl into ``directory``, streamed:
    the output lines go to a scratch file first, then are copied out shuffled."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    pool = paragraphs(500, 60, seed=3)
    per_answer = OUTPUT_BYTES // LINES - 900  # the JSON around each answer
    spans: list[tuple[int, int]] = []  # where each output line is in the scratch file
    failures: list[str] = []
    scratch = directory / "output.unshuffled"
    with (
        open(directory / "input.jsonl", "w", encoding="utf-8") as inputs,
        open(scratch, "wb") as unshuffled,
    ):
        for i in range(lines):
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
            data = _line(custom_id, (200, _chat_body(i, " ".join(parts))), None).encode()
            spans.append((unshuffled.tell(), len(data)))
            unshuffled.write(data)
    rng.shuffle(spans)  # as the API returns them
    rng.shuffle(failures)
    with open(scratch, "rb") as source, open(directory / "output.jsonl", "wb") as output:
        for start, length in spans:
            source.seek(start)
            output.write(source.read(length))
    scratch.unlink()
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
    parser.add_argument("--scale-rounds", type=int, default=2, help="rounds at each size")
    parser.add_argument("--no-scale", action="store_true", help="skip the scaling table")
    parser.add_argument("--generate", nargs=2, metavar=("DIR", "LINES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:  # a child of the scaling table: the parent stays small
        build_all(Path(args.generate[0]), int(args.generate[1]))
        return
    if not (CACHE_DIR / NAME).exists():
        cached_file(NAME, build_all)
        # Start afresh: a child's ru_maxrss includes the parent's peak at fork time.
        os.execv(sys.executable, [sys.executable, *sys.argv])
    pycache = Path(tempfile.mkdtemp(prefix="batchdeck-bench-"))
    child_environment(pycache)
    try:
        met = measure(args.rounds)
        if not args.no_scale:
            met = scaling(args.scale_rounds) and met
    finally:
        shutil.rmtree(pycache, ignore_errors=True)
    if not met:
        raise SystemExit(1)


CHILD = [sys.executable, str(Path(__file__).resolve().with_name("_results_child.py"))]


def measure(rounds: int) -> bool:
    """Run every child ``rounds`` times, interleaved; print the summary; whether the
    goals are met."""
    directory = CACHE_DIR / NAME
    output = directory / "output.jsonl"
    sizes = {
        name: (directory / name).stat().st_size
        for name in ("output.jsonl", "error.jsonl", "input.jsonl")
    }
    child = CHILD
    alone_cmd = [*child, str(directory), "--output-only"]
    join_cmd = [*child, str(directory)]
    jq_cmd = [JQ, "-c", ".custom_id", str(output)]
    wc_cmd = [WC, "-l", str(output)]

    # The warm-up indexes the file: bytecode is written for all a measured run imports,
    # the worker's and the standard library's too (PYTHONPYCACHEPREFIX moves it all, so
    # with only the import-only child first, round 1 compiled `tempfile`, `shutil` ...).
    check_ok(run_measured(alone_cmd), "warm-up (writes the bytecode)")
    floor = check_ok(run_measured([*child, "--import-only"]), "import baseline")
    # Rounds interleave the commands, so a busy moment of the machine hits each alike;
    # each round starts by reading the files (unmeasured), so every command finds them
    # in the page cache, whatever ran before the round.
    commands = {"index output": alone_cmd, "index": join_cmd, "jq": jq_cmd, "wc": wc_cmd}
    runs: dict[str, list[Run]] = {name: [] for name in commands}
    for _ in range(rounds):
        warm([directory / name for name in sizes])
        for name, cmd in commands.items():
            run = run_measured(cmd, capture=name.startswith("index"))
            runs[name].append(check_ok(run, name))
    alone, join, jq, wc = (
        min(runs[name], key=lambda run: run.seconds)
        for name in ("index output", "index", "jq", "wc")
    )
    found = json.loads(join.stdout)
    alone_found = json.loads(alone.stdout)
    ratio = alone.seconds / jq.seconds
    paired = zip(runs["index output"], runs["jq"], strict=True)
    each = [ours.seconds / theirs.seconds for ours, theirs in paired]
    cpu_ratio = min(r.cpu for r in runs["index output"]) / min(r.cpu for r in runs["jq"])
    peak = max(max(map(tree_rss, runs[name])) for name in ("index output", "index"))
    pane_run = check_ok(run_measured([*child, "--detail"]), "detail pane")
    pane = json.loads(pane_run.stdout)
    pane_ratio = pane["big"] / pane["small"]
    met = max(each) <= RATIO_GOAL and peak < RSS_GOAL and pane_ratio <= DETAIL_GOAL
    record_verdict(
        "results index / jq -c .custom_id, worst round",
        max(each),
        f"<= {RATIO_GOAL}",
        max(each) <= RATIO_GOAL,
    )
    record_verdict(
        "results index peak RSS (MB)", peak / 1e6, f"< {RSS_GOAL / 1e6:g}", peak < RSS_GOAL
    )
    record_verdict(
        "results: 10 MB answer pane / 1 KB one",
        pane_ratio,
        f"<= {DETAIL_GOAL:g}",
        pane_ratio <= DETAIL_GOAL,
    )
    verdict = "PASS" if met else "FAIL"
    print(
        f"{verdict} results index of {mb(sizes['output.jsonl'])} output, "
        f"{alone_found['rows']} lines; best of {rounds}, child wall times (start-up included)\n"
        f"  output file alone, what jq reads (the goal): {alone.seconds:.2f} s "
        f"(cpu {alone.cpu:.2f} s; index {alone_found['full']:.2f} s, first rows after "
        f"{alone_found['first_rows'] * 1000:.0f} ms)\n"
        f"    vs jq -c .custom_id {jq.seconds:.2f} s (cpu {jq.cpu:.2f} s): "
        f"{jq.seconds / alone.seconds:.1f}x faster, ratio {ratio:.3f} (goal <= {RATIO_GOAL} "
        f"in every round: {', '.join(f'{r:.3f}' for r in each)}); cpu-time ratio "
        f"{cpu_ratio:.3f}; vs wc -l {wc.seconds:.2f} s (the floor): "
        f"{alone.seconds / wc.seconds:.1f}x\n"
        f"  full join, output + error {mb(sizes['error.jsonl'])} + input "
        f"{mb(sizes['input.jsonl'])} (more than jq reads): {join.seconds:.2f} s "
        f"(cpu {join.cpu:.2f} s; index {found['full']:.2f} s, first rows after "
        f"{found['first_rows'] * 1000:.0f} ms), ratio to jq {join.seconds / jq.seconds:.3f}; "
        f"{found['rows']} rows {found['counts']}\n"
        f"  peak RSS {mb(peak)} (import-only child {mb(floor.peak_rss)}, "
        f"{floor.seconds:.2f} s; goal < {mb(RSS_GOAL)})\n"
        f"  detail pane, headless: a {mb(pane['answer'])} answer painted in "
        f"{pane['big'] * 1000:.0f} ms vs a 1 KB one in {pane['small'] * 1000:.0f} ms, "
        f"ratio {pane_ratio:.1f} (goal <= {DETAIL_GOAL:g}); {pane['chars']:,} characters "
        f"rendered; child peak RSS {mb(pane_run.peak_rss)}\n"
        f"  cmds: `{shown(alone_cmd)}` and `{shown(join_cmd)}` vs "
        f"`{shown(jq_cmd)} >/dev/null` vs `{shown(wc_cmd)}`"
    )
    return met


def tree_rss(run: Run) -> int:
    """The peak RSS of an index child plus its worker's (as the child printed them)."""
    found = json.loads(run.stdout)
    return int(found["self_rss"]) + int(found["worker_rss"])


def warm(paths: list[Path]) -> None:
    """Read ``paths`` once, so the next commands find them in the page cache (without
    it, the first command of the first round read from disk: other benches had
    evicted the files, and that round's ratio was ours cold against jq warm)."""
    buffer = bytearray(1 << 20)
    for path in paths:
        with open(path, "rb", buffering=0) as handle:
            while handle.readinto(buffer):
                pass


def scaling(rounds: int) -> bool:
    """Index and export (CSV, as ``results --export`` writes) batches of
    :data:`SCALE_LINES` lines, generated in a temp dir deleted after; print the best
    of ``rounds`` interleaved rounds at each size; whether the export's peak RSS stays
    under :data:`EXPORT_RSS_GOAL` at every size."""
    top = Path(tempfile.mkdtemp(prefix="batchdeck-results-scale-"))
    rows: list[str] = []
    peaks: list[int] = []
    try:
        for lines in SCALE_LINES:
            directory = top / str(lines)
            generate = [sys.executable, str(Path(__file__).resolve()), "--generate"]
            check_ok(run_measured([*generate, str(directory), str(lines)]), "generating")
            size = (directory / "output.jsonl").stat().st_size
            commands = {
                "index": [*CHILD, str(directory)],
                "export": [*CHILD, str(directory), "--export", str(directory / "out.csv")],
            }
            runs: dict[str, list[Run]] = {name: [] for name in commands}
            for _ in range(rounds):
                for name, cmd in commands.items():
                    runs[name].append(check_ok(run_measured(cmd), name))
            index, export = (min(found, key=lambda run: run.seconds) for found in runs.values())
            peaks.append(max(map(tree_rss, runs["export"])))
            rows.append(
                f"  {lines:>7,} lines {mb(size):>9}: index {index.seconds:5.2f} s "
                f"(cpu {index.cpu:5.2f} s) {mb(max(map(tree_rss, runs['index']))):>8} | export "
                f"{export.seconds:6.2f} s (cpu {export.cpu:6.2f} s) {mb(peaks[-1]):>8}"
            )
            shutil.rmtree(directory, ignore_errors=True)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    met = max(peaks) < EXPORT_RSS_GOAL
    record_verdict(
        "results --export peak RSS (MB), every size",
        max(peaks) / 1e6,
        f"< {EXPORT_RSS_GOAL / 1e6:g}",
        met,
    )
    print(
        f"{'PASS' if met else 'FAIL'} scaling: full join, then CSV export; best of {rounds} "
        f"interleaved rounds; wall, cpu, peak RSS; goal: export peak RSS < "
        f"{mb(EXPORT_RSS_GOAL)} at every size\n" + "\n".join(rows) + "\n"
        f"  cmds: `{shown(CHILD)} DIR` and `{shown(CHILD)} DIR --export DIR/out.csv`"
    )
    return met


if __name__ == "__main__":
    main()
