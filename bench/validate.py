"""Benchmark: ``batchdeck validate`` (estimate included, the default) on a
50,000-request, ~195 MB batch input file against ``jq -c .``.

Usage: ``.venv/bin/python bench/validate.py [--rounds N] [--exact] [--scale]``

The input (realistic chat-completion requests with long user messages, some non-ASCII
text) is generated once into ``.bench/``. Each round runs, in separate child
processes and one after the other (interleaved, so both see the same load), the CLI
``batchdeck validate FILE`` and ``jq -c . FILE >/dev/null``; the best round of each
is compared (children run from bytecode, as an installed batchdeck does, after one
warm-up run writes it). Times are wall-clock times of the whole child, interpreter
start-up included; CPU time (user + system, all threads) is printed too, as the machine may be
shared. Memory is the validation child's peak RSS; a child that only imports the
CLI is measured too, as the floor. ``--exact`` also times ``validate --exact``
(every line tokenized), for information: the goals are for the default.
Goals: ratio (validate / jq, wall) <= 0.2, peak RSS < 100 MB.

``--scale`` prints instead a scaling table: ``validate`` (estimate included) and
``validate --exact`` at 10k, 50k and 200k lines (the 10k and 200k files, ~40 MB and
~780 MB, are generated into a temporary directory and deleted after; the 200k file is
over the API's limits, so validate exits 1 there and still estimates), wall time, CPU
time and peak RSS of each: time should grow linearly, memory stay flat. It compares
the sampled input-token figure with ``--exact``'s at every size, against the error
bound the sampled run printed. A ``--exact`` run over a minute is stopped and said so.
It takes a few minutes, so ``make bench`` does not run it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import (
    REPO,
    Run,
    cached_file,
    check_ok,
    child_environment,
    mb,
    paragraphs,
    record_verdict,
    run_measured,
)

LINES = 50_000
TARGET_BYTES = 198_000_000  # just under the API's 200 MB, so the file is valid
RATIO_GOAL = 0.2
RSS_GOAL = 100_000_000
JQ = shutil.which("jq") or "/usr/bin/jq"
CLI = "import sys; from tui.cli import main; sys.exit(main(sys.argv[1:]))"


SCALE_LINES = (10_000, 50_000, 200_000)
EXACT_LIMIT = 60.0  # seconds: a --exact run past this is stopped (and said so)


def build_input(path: Path, lines: int = LINES) -> None:
    """Write ``lines`` chat-completion requests of about TARGET_BYTES / LINES bytes each
    (the first lines of every size are the same)."""
    rng = random.Random(42)
    pool = paragraphs(500, 60, seed=1)
    per_line = TARGET_BYTES // LINES
    with open(path, "w", encoding="utf-8") as out:
        for i in range(lines):
            # Minus the JSON around the message and the average overshoot of the loop.
            want = rng.randint(per_line // 2, per_line * 3 // 2) - 530
            parts: list[str] = []
            size = 0
            while size < want:
                parts.append(rng.choice(pool))
                size += len(parts[-1].encode()) + 1
            request = {
                "custom_id": f"request-{i:06d}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {
                    "model": "gpt-4o-mini",
                    "messages": [
                        {"role": "system", "content": "You are a careful analyst. Be brief."},
                        {"role": "user", "content": " ".join(parts)},
                    ],
                    "max_tokens": 512,
                    "temperature": 0.2,
                    "metadata": {"source": "bench", "row": i},
                },
            }
            out.write(json.dumps(request, ensure_ascii=False, separators=(",", ":")) + "\n")


def interleaved(rounds: int, cmds: list[list[str]]) -> list[Run]:
    """Run every command once per round, in turn; the fastest run of each."""
    runs: list[list[Run]] = [[] for _ in cmds]
    for _ in range(rounds):
        for cmd, done in zip(cmds, runs, strict=True):
            done.append(check_ok(run_measured(cmd, capture=cmd[0] != JQ), shown(cmd)))
    return [min(done, key=lambda run: run.seconds) for done in runs]


def run_limited(cmd: list[str], limit: float) -> Run | None:
    """Run ``cmd`` as :func:`run_measured` does; None if it took over ``limit`` seconds
    (it is then stopped)."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, cwd=REPO)
        timer = threading.Timer(limit, proc.kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        timer.cancel()
        if seconds > limit:
            return None
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    code = os.waitstatus_to_exitcode(status)
    return Run(seconds, usage.ru_maxrss * 1024, code, text, usage.ru_utime + usage.ru_stime)


def estimate_of(run: Run) -> dict[str, object]:
    """The ``estimate`` object of a ``validate --json`` run (exit 1 is a file over the
    API's limits, which is still estimated)."""
    if run.returncode not in (0, 1):
        raise SystemExit(f"validate failed with exit code {run.returncode}")
    found = json.loads(run.stdout)["estimate"]
    if not isinstance(found, dict):
        raise SystemExit("validate gave no estimate")
    return found


def scale() -> None:
    """The scaling table (see the module docstring)."""
    cli = [sys.executable, "-c", CLI]
    rows = []
    with tempfile.TemporaryDirectory(prefix="batchdeck-scale-") as tmp:
        for lines in SCALE_LINES:
            if lines == LINES:
                path = cached_file(f"requests-chat-{LINES}-{TARGET_BYTES}.jsonl", build_input)
            else:
                path = Path(tmp) / f"requests-chat-{lines}.jsonl"
                build_input(path, lines)
            size = path.stat().st_size
            sampled = run_limited([*cli, "validate", "--json", str(path)], 3600)
            assert sampled is not None
            exact = run_limited([*cli, "validate", "--json", "--exact", str(path)], EXACT_LIMIT)
            guess = estimate_of(sampled)
            truth = estimate_of(exact) if exact is not None else None
            rows.append((lines, size, sampled, guess, exact, truth))
            if lines != LINES:
                path.unlink()
    print("validate scaling (one run each; CPU = user + system, all threads):")
    print(
        f"  {'lines':>7} {'MB':>6} | {'validate: wall':>14} {'CPU':>6} {'peak RSS':>9} | "
        f"{'--exact: wall':>13} {'CPU':>6} {'peak RSS':>9} | "
        f"{'sampled vs exact':>16} {'bound':>6}"
    )
    for lines, size, sampled, guess, exact, truth in rows:
        bound = float(str(guess["input_tokens_error_bound"]))
        if exact is None or truth is None:
            exact_cols = f"{f'over {EXACT_LIMIT:.0f} s':>13} {'':>6} {'':>9}"
            diff = "not run"
        else:
            exact_cols = f"{exact.seconds:>11.2f} s {exact.cpu:>6.2f} {mb(exact.peak_rss):>9}"
            got, want = int(str(guess["input_tokens"])), int(str(truth["input_tokens"]))
            diff = f"{(got - want) / want:+.3%}"
            if abs(got - want) > bound * want:
                diff += " (OVER)"
        print(
            f"  {lines:>7,} {size / 1e6:>6.0f} | {sampled.seconds:>12.2f} s "
            f"{sampled.cpu:>6.2f} {mb(sampled.peak_rss):>9} | {exact_cols} | "
            f"{diff:>16} {bound:>6.2%}"
        )
    first, last = rows[0], rows[-1]
    print(
        f"  {last[0] // first[0]}x the lines: validate {last[2].seconds / first[2].seconds:.1f}x "
        f"the wall time, {last[2].peak_rss / first[2].peak_rss:.2f}x the peak RSS"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Best of 5: the method ("best of 5-7, interleaved"); validate is ~1 s, jq ~5 s.
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--exact", action="store_true", help="also time validate --exact")
    parser.add_argument(
        "--scale", action="store_true", help="print the scaling table (10k, 50k, 200k lines)"
    )
    parser.add_argument("--child-baseline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_baseline:
        import tui.cli  # the import is what is measured
        import tui.core.requests
        import tui.core.tokens  # noqa: F401

        return
    with tempfile.TemporaryDirectory(prefix="batchdeck-bench-") as tmp:
        warm_up(Path(tmp))
        if args.scale:
            scale()
        else:
            compare(args.rounds, args.exact)


def warm_up(tmp: Path) -> None:
    """Children run from bytecode, as an installed batchdeck does
    (:func:`_common.child_environment`); one validate of a small file writes it."""
    child_environment(tmp)
    small = tmp / "warm-up.jsonl"
    build_input(small, 3)
    cli = [sys.executable, "-c", CLI]
    check_ok(run_measured([*cli, "validate", str(small)]), "warm-up")


def compare(rounds: int, with_exact: bool) -> None:
    """The goal's measure: validate against jq, interleaved, best of ``rounds``."""
    path = cached_file(f"requests-chat-{LINES}-{TARGET_BYTES}.jsonl", build_input)
    size = path.stat().st_size
    me = [sys.executable, str(Path(__file__).resolve())]
    cli = [sys.executable, "-c", CLI]  # what the installed `batchdeck` script runs
    validate_cmd = [*cli, "validate", str(path)]
    exact_cmd = [*cli, "validate", "--exact", str(path)]
    jq_cmd = [JQ, "-c", ".", str(path)]

    floor = check_ok(run_measured([*me, "--child-baseline"]), "import baseline")
    cmds = [validate_cmd, jq_cmd] + ([exact_cmd] if with_exact else [])
    ours, jq, *exact = interleaved(rounds, cmds)
    tokens_line = next(line for line in ours.stdout.splitlines() if "input tokens" in line)
    ratio = ours.seconds / jq.seconds
    verdict = "PASS" if ratio <= RATIO_GOAL and ours.peak_rss < RSS_GOAL else "FAIL"
    record_verdict("validate (estimate) / jq -c .", ratio, f"<= {RATIO_GOAL}", ratio <= RATIO_GOAL)
    record_verdict(
        "validate peak RSS (MB)",
        ours.peak_rss / 1e6,
        f"< {RSS_GOAL / 1e6:g}",
        ours.peak_rss < RSS_GOAL,
    )
    print(f"validate {size / 1e6:.1f} MB / {LINES} lines, best of {rounds}, interleaved:")
    print(
        f"  validate (estimate included): {ours.seconds:.2f} s wall, {ours.cpu:.2f} s "
        f"CPU, peak RSS {mb(ours.peak_rss)} (import-only child {mb(floor.peak_rss)})"
    )
    print(f"  jq -c .:                      {jq.seconds:.2f} s wall, {jq.cpu:.2f} s CPU")
    for run in exact:
        print(
            f"  validate --exact:             {run.seconds:.2f} s wall, {run.cpu:.2f} s "
            f"CPU, peak RSS {mb(run.peak_rss)} (ratio {run.seconds / jq.seconds:.3f})"
        )
    print(f"  {tokens_line.strip()}")
    print(
        f"{verdict} ratio {ratio:.3f} wall, {ours.cpu / jq.cpu:.3f} CPU "
        f"(goal <= {RATIO_GOAL}, wall); peak RSS {mb(ours.peak_rss)} (goal < {mb(RSS_GOAL)}); "
        f"cmds: `{shown(validate_cmd)}` vs `{shown(jq_cmd)} >/dev/null`"
    )
    if verdict != "PASS":
        raise SystemExit(1)


def shown(cmd: list[str]) -> str:
    """A command as one string, paths inside the repo made relative to it."""
    inside = str(REPO)
    return shlex.join(os.path.relpath(arg, REPO) if arg.startswith(inside) else arg for arg in cmd)


if __name__ == "__main__":
    main()
