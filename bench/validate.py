"""Benchmark: ``batchdeck validate`` (estimate included, the default) on a
50,000-request, ~195 MB batch input file against ``jq -c .``.

Usage: ``.venv/bin/python bench/validate.py [--rounds N] [--exact]``

The input (realistic chat-completion requests with long user messages, some non-ASCII
text) is generated once into ``.bench/``. Each round runs, in separate child
processes and one after the other (interleaved, so both see the same load), the CLI
``batchdeck validate FILE`` and ``jq -c . FILE >/dev/null``; the best round of each
is compared. Times are wall-clock times of the whole child, interpreter start-up
included; CPU time (user + system, all threads) is printed too, as the machine may be
shared. Memory is the validation child's peak RSS; a child that only imports the
CLI is measured too, as the floor. ``--exact`` also times ``validate --exact``
(every line tokenized), for information: the goals are for the default.
Goals: ratio (validate / jq, wall) <= 0.2, peak RSS < 100 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import shutil
import sys
from pathlib import Path

from _common import REPO, Run, cached_file, check_ok, mb, paragraphs, record_verdict, run_measured

LINES = 50_000
TARGET_BYTES = 198_000_000  # just under the API's 200 MB, so the file is valid
RATIO_GOAL = 0.2
RSS_GOAL = 100_000_000
JQ = shutil.which("jq") or "/usr/bin/jq"
CLI = "import sys; from tui.cli import main; sys.exit(main(sys.argv[1:]))"


def build_input(path: Path) -> None:
    """Write LINES chat-completion requests totalling about TARGET_BYTES."""
    rng = random.Random(42)
    pool = paragraphs(500, 60, seed=1)
    per_line = TARGET_BYTES // LINES
    with open(path, "w", encoding="utf-8") as out:
        for i in range(LINES):
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--exact", action="store_true", help="also time validate --exact")
    parser.add_argument("--child-baseline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_baseline:
        import tui.cli  # the import is what is measured
        import tui.core.requests
        import tui.core.tokens  # noqa: F401

        return
    path = cached_file(f"requests-chat-{LINES}-{TARGET_BYTES}.jsonl", build_input)
    size = path.stat().st_size
    me = [sys.executable, str(Path(__file__).resolve())]
    cli = [sys.executable, "-c", CLI]  # what the installed `batchdeck` script runs
    validate_cmd = [*cli, "validate", str(path)]
    exact_cmd = [*cli, "validate", "--exact", str(path)]
    jq_cmd = [JQ, "-c", ".", str(path)]

    floor = check_ok(run_measured([*me, "--child-baseline"]), "import baseline")
    cmds = [validate_cmd, jq_cmd] + ([exact_cmd] if args.exact else [])
    ours, jq, *exact = interleaved(args.rounds, cmds)
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
    print(f"validate {size / 1e6:.1f} MB / {LINES} lines, best of {args.rounds}, interleaved:")
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
