"""Benchmark: ``batchdeck ls --json`` over 1,000 batches vs a bare SDK script.

Usage: ``.venv/bin/python bench/cli.py [--batches N] [--rounds N]``

The embedded server (pinned clock, so nothing moves) holds N batches. Each round
runs, each in a fresh child process, interleaved:

* the baseline: a script that imports ``openai``, lists every batch with the SDK's
  auto-paging iterator and prints each as one JSON line;
* ``batchdeck ls --json`` (the console script): the CLI, config, registry and
  client, the same pages, one JSON line per batch with the registry's fields.

Both print the same N batches (checked). Wall time of each child, interpreter
start-up included; best of ``--rounds``. Goal: batchdeck / baseline <= 1.2 (so
the headless commands must not import Textual, nor more than they need).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from _common import Run, check_ok, record_verdict, run_measured

from tui.localapi.clock import ManualClock
from tui.localapi.server import LocalServer

RATIO_GOAL = 1.2
KEY = "sk-bench"

BASELINE = """
import sys
import openai

client = openai.OpenAI()
write = sys.stdout.write
for batch in client.batches.list(limit=100):
    write(batch.to_json(indent=None) + "\\n")
"""


def seed(server: LocalServer, count: int) -> None:
    """One input file and ``count`` batches on it, through the SDK."""
    import openai

    client = openai.OpenAI(base_url=server.base_url, api_key=KEY)
    line = {
        "custom_id": "r-0",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
    }
    file_id = client.files.create(
        file=("in.jsonl", (json.dumps(line) + "\n").encode()), purpose="batch"
    ).id
    for i in range(count):
        client.batches.create(
            input_file_id=file_id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
            metadata={"n": str(i), "team": "bench"},
        )
    client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="batchdeck-bench-cli-") as tmp:
        root = Path(tmp)
        server = LocalServer(root / "server", api_key=KEY, clock=ManualClock(), durable=False)
        server.start()
        try:
            seed(server, args.batches)
            for name in list(os.environ):
                if name.startswith(("OPENAI_", "BATCHDECK_")):
                    del os.environ[name]
            os.environ.update(
                OPENAI_BASE_URL=server.base_url,
                OPENAI_API_KEY=KEY,
                BATCHDECK_CONFIG_DIR=str(root / "config"),
                BATCHDECK_DATA_DIR=str(root / "data"),
            )
            script = root / "baseline.py"
            script.write_text(BASELINE)
            baseline_cmd = [sys.executable, str(script)]
            batchdeck_cmd = [str(Path(sys.executable).parent / "batchdeck"), "ls", "--json"]
            if not Path(batchdeck_cmd[0]).exists():
                batchdeck_cmd = [sys.executable, "-m", "tui.cli", "ls", "--json"]

            def measure(cmd: list[str], what: str) -> Run:
                run = check_ok(run_measured(cmd), what)
                lines = run.stdout.splitlines()
                if len(lines) != args.batches:
                    raise SystemExit(f"{what} printed {len(lines)} lines, not {args.batches}")
                return run

            for cmd, what in ((baseline_cmd, "baseline"), (batchdeck_cmd, "batchdeck")):
                measure(cmd, what)  # warm-up: bytecode caches, page cache
            base_runs: list[Run] = []
            ours_runs: list[Run] = []
            for _ in range(args.rounds):  # interleaved, so load hits both alike
                base_runs.append(measure(baseline_cmd, "baseline"))
                ours_runs.append(measure(batchdeck_cmd, "batchdeck"))
            base = min(base_runs, key=lambda r: r.seconds)
            ours = min(ours_runs, key=lambda r: r.seconds)
            same = sorted(json.loads(x)["id"] for x in base.stdout.splitlines()) == sorted(
                json.loads(x)["id"] for x in ours.stdout.splitlines()
            )
            if not same:
                raise SystemExit("the two commands listed different batches")
        finally:
            server.stop()

    ratio = ours.seconds / base.seconds
    print(f"bench/cli.py: `batchdeck ls --json` over {args.batches} batches, best of {args.rounds}")
    for label, run in (("bare SDK script", base), ("batchdeck ls --json", ours)):
        print(f"  {label:<20} {run.seconds * 1000:6.0f} ms   peak RSS {run.peak_rss / 1e6:5.1f} MB")
    verdict = "ok" if ratio <= RATIO_GOAL else "OVER GOAL"
    record_verdict(
        "batchdeck ls --json / SDK script", ratio, f"<= {RATIO_GOAL}", ratio <= RATIO_GOAL
    )
    print(f"  ratio {ratio:.2f} (goal <= {RATIO_GOAL}) {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
