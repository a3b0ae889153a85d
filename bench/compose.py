"""Benchmark: compose 50,000 chat requests from a CSV (build, validate, estimate) against
writing the same JSONL with a plain ``json.dumps`` loop.

Usage: ``.venv/bin/python bench/compose.py [--rounds N]``

The CSV (an id, a product and a ~40-word review per row, some non-ASCII) is generated
once into ``.bench/``. Each round, in this process, times

- the baseline: read the CSV with ``csv.DictReader`` and write each request with
  ``json.dumps`` (string concatenation for the template, no checks, no estimate);
- batchdeck: :func:`tui.core.compose.build_file`: template every row, refuse duplicate
  ids, write atomically (fsync), validate the file with
  :func:`tui.core.requests.validate`, count input tokens with the real tokenizer and
  price the estimate.

Rounds alternate the two and the best of each is compared. The tokenizer's one-time
table build is paid in the first round and reported separately too. Both outputs are
checked to hold the same requests. Goal: ratio <= 3.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from _common import cached_file, paragraphs, record_verdict

ROWS = 50_000
RATIO_GOAL = 3.0
SYSTEM = "You label product reviews. Answer with one word: positive, negative or mixed."
USER = "Product: {product}\nReview: {review}\nLabel:"
MODEL = "gpt-4o-mini"
ENDPOINT = "/v1/chat/completions"


def build_csv(path: Path) -> None:
    rng = random.Random(7)
    reviews = paragraphs(2000, 40, seed=3)
    products = ["kettle", "phone case", "desk lamp", "café grinder", "東京 map", "boots"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "product", "review"])
        for i in range(ROWS):
            writer.writerow([f"rev-{i:06d}", rng.choice(products), rng.choice(reviews)])


def baseline(src: Path, out: Path) -> None:
    """What a quick script does: no checks, no estimate."""
    with open(src, newline="", encoding="utf-8") as fh, open(out, "w", encoding="utf-8") as dst:
        for row in csv.DictReader(fh):
            user = f"Product: {row['product']}\nReview: {row['review']}\nLabel:"
            request = {
                "custom_id": row["id"],
                "method": "POST",
                "url": ENDPOINT,
                "body": {
                    "model": MODEL,
                    "messages": [
                        {"role": "system", "content": SYSTEM},
                        {"role": "user", "content": user},
                    ],
                    "max_completion_tokens": 5,
                },
            }
            dst.write(json.dumps(request) + "\n")


def compose(src: Path, out: Path) -> tuple[int, bool, int]:
    from tui.core.bodies import BodyForm, build_body
    from tui.core.compose import RequestTemplate, build_file, read_rows
    from tui.core.pricing import load_prices

    body = build_body(ENDPOINT, BodyForm(MODEL, USER, SYSTEM, max_tokens=5))
    template = RequestTemplate(ENDPOINT, body, custom_id="{id}")
    result = build_file(read_rows(src), template, out, prices=load_prices())
    assert result.estimate is not None and result.estimate.cost is not None
    return result.requests, result.report.ok, result.estimate.input_tokens


def same_requests(a: Path, b: Path) -> bool:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return all(json.loads(x) == json.loads(y) for x, y in zip(fa, fb, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    src = cached_file(f"compose-rows-{ROWS}.csv", build_csv)
    with tempfile.TemporaryDirectory() as tmp:
        ours_out, base_out = Path(tmp) / "ours.jsonl", Path(tmp) / "base.jsonl"
        start = time.perf_counter()
        from tui.core.tokens import O200K, _tokenizer

        _tokenizer(O200K)
        load = time.perf_counter() - start
        ours_times, base_times = [], []
        tokens = 0
        for _ in range(args.rounds):
            start = time.perf_counter()
            baseline(src, base_out)
            base_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            count, ok, tokens = compose(src, ours_out)
            ours_times.append(time.perf_counter() - start)
            if count != ROWS or not ok:
                raise SystemExit(f"compose made {count} requests, valid={ok}")
        if not same_requests(ours_out, base_out):
            raise SystemExit("compose and the baseline wrote different requests")
    ours, base = min(ours_times), min(base_times)
    ratio = ours / base
    cold = (ours + load) / base
    verdict = "PASS" if ratio <= RATIO_GOAL else "FAIL"
    record_verdict("compose / json.dumps loop", ratio, f"<= {RATIO_GOAL}", ratio <= RATIO_GOAL)
    print(
        f"{verdict} compose {ROWS:,} rows (build + validate + estimate, {tokens:,} input tokens): "
        f"{ours:.2f} s vs json.dumps loop {base:.2f} s, ratio {ratio:.2f} (goal <= {RATIO_GOAL}); "
        f"tokenizer table build once per process {load:.2f} s (ratio with it {cold:.2f}); "
        f"best of {args.rounds}; cmd: `.venv/bin/python bench/compose.py --rounds {args.rounds}`"
    )
    if verdict != "PASS":
        sys.exit(1)


if __name__ == "__main__":
    main()
