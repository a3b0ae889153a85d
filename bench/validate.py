"""Benchmark: validate a 50,000-request, ~200 MB batch input file against ``jq -c .``.

Usage: ``.venv/bin/python bench/validate.py [--rounds N]``

The input (realistic chat-completion requests with long user messages, some non-ASCII
text) is generated once into ``.bench/``. Each round runs, in separate child
processes, :func:`tui.core.requests.validate` over the file and ``jq -c . FILE
>/dev/null``; the best round of each is compared. Times are wall-clock times of the
whole child, interpreter start-up included. Memory is the validation child's peak
RSS; a child that only imports the module is measured too, as the floor.
Goals: ratio (validate / jq) <= 0.25, peak RSS < 100 MB.
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

from _common import REPO, best_of, cached_file, check_ok, mb, paragraphs, run_measured

LINES = 50_000
TARGET_BYTES = 198_000_000  # just under the API's 200 MB, so the file is valid
RATIO_GOAL = 0.25
RSS_GOAL = 100_000_000
JQ = shutil.which("jq") or "/usr/bin/jq"


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


def child(path: str) -> None:
    """Validate ``path`` in this process and print what was found as JSON."""
    from tui.core.requests import validate

    start = time.perf_counter()
    report = validate(path)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "ok": report.ok, "requests": report.request_count}))
    if not report.ok:
        print(report.summary(), file=sys.stderr)
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-baseline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_baseline:
        import tui.core.requests  # noqa: F401  (the import is what is measured)

        return
    if args.child:
        child(args.child)
        return

    path = cached_file(f"requests-chat-{LINES}-{TARGET_BYTES}.jsonl", build_input)
    size = path.stat().st_size
    me = [sys.executable, str(Path(__file__).resolve())]
    validate_cmd = [*me, "--child", str(path)]
    jq_cmd = [JQ, "-c", ".", str(path)]

    floor = check_ok(run_measured([*me, "--child-baseline"]), "import baseline")
    ours = best_of(args.rounds, lambda: check_ok(run_measured(validate_cmd), "validate"))
    jq = best_of(args.rounds, lambda: check_ok(run_measured(jq_cmd, capture=False), "jq"))
    inner = json.loads(ours.stdout)["seconds"]
    ratio = ours.seconds / jq.seconds
    verdict = "PASS" if ratio <= RATIO_GOAL and ours.peak_rss < RSS_GOAL else "FAIL"
    print(
        f"{verdict} validate {size / 1e6:.1f} MB / {LINES} lines: {ours.seconds:.2f} s "
        f"(validate() alone {inner:.2f} s) vs jq {jq.seconds:.2f} s, ratio {ratio:.3f} "
        f"(goal <= {RATIO_GOAL}); peak RSS {mb(ours.peak_rss)} (import-only child "
        f"{mb(floor.peak_rss)}; goal < {mb(RSS_GOAL)}); best of {args.rounds}; "
        f"cmds: `{shown(validate_cmd)}` vs `{shown(jq_cmd)} >/dev/null`"
    )
    if verdict != "PASS":
        raise SystemExit(1)


def shown(cmd: list[str]) -> str:
    """A command as one string, paths inside the repo made relative to it."""
    return " ".join(os.path.relpath(arg, REPO) if arg.startswith(str(REPO)) else arg for arg in cmd)


if __name__ == "__main__":
    main()
