"""The benchmarks' verdicts as one table: measure, ratio, goal, met.

Usage: ``.venv/bin/python bench/summary.py [--since EPOCH]``

Each benchmark keeps its verdict rows in ``.bench/results.json`` (``record_verdict``
in ``bench/_common.py``); ``make bench`` runs them all, then this. ``--since`` shows
only rows written from that time on (``make bench`` passes its start, so rows of
an earlier run never pass for this one's). Exit status 1 if a goal is not met, or if
there is no row at all.
"""

from __future__ import annotations

import argparse
import json

from _common import RESULTS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--since", type=float, default=0.0, help="only rows from then on")
    args = parser.parse_args()
    try:
        rows = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        rows = {}
    chosen = {name: row for name, row in rows.items() if row["at"] >= args.since}
    if not chosen:
        print(f"no benchmark verdicts in {RESULTS}")
        return 1
    width = max(len("measure"), *map(len, chosen))
    print(f"{'measure':<{width}}  {'ratio':>7}  {'goal':<9}  met")
    print(f"{'-' * width}  {'-' * 7}  {'-' * 9}  ---")
    for name, row in chosen.items():
        met = "yes" if row["met"] else "no"
        print(f"{name:<{width}}  {row['ratio']:>7.3g}  {row['goal']:<9}  {met}")
    return 0 if all(row["met"] for row in chosen.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
