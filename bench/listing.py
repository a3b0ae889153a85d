"""Benchmark: launch to the embedded server's first page of batches on screen in a
real terminal (tmux) vs a bare SDK script launched the same way.

Usage: ``.venv/bin/python bench/listing.py [--batches N] [--rounds N]``

The parent seeds an embedded server with ``--batches`` finished batches (straight
into its store) and keeps it running. Each round launches, each in a fresh 120x36
tmux session (``bench/_terminal.py``), timed from launch until the newest batch's
id is on screen:

* the baseline: a script that imports ``openai``, lists one page
  (``OpenAI().batches.list(limit=100)``) and prints it, a line per batch;
* ``batchdeck`` (``python -m tui.cli``) with an empty registry: the newest batch's
  row in its table (the tail of the id, as the table shows it). Its first page is
  listed by a child process while Textual starts (``tui/core/first_page.py``), so
  the ratio depends on a second core being free: the load average is printed.

Both get the server and key from ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY``. Rounds
alternate baseline and batchdeck; printed: best of each, the ratio of the bests and
the median of the paired ratios (the verdict). Goal: batchdeck / SDK script <= 1.2.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from _common import child_environment, record_verdict, seed_completed
from _terminal import Shown, require_tmux, time_to_text

from tui.localapi.server import LocalServer

GOAL = 1.2
PYTHON = sys.executable
KEY = "sk-bench-local"

SDK_SCRIPT = """
import openai
page = openai.OpenAI(max_retries=0).batches.list(limit=100)
for batch in page.data:
    print(batch.id, batch.status, batch.created_at)
"""
SDK = [PYTHON, "-c", SDK_SCRIPT]
BATCHDECK = [PYTHON, "-m", "tui.cli"]


def newest_id(server: LocalServer) -> str:
    import json
    import urllib.request

    request = urllib.request.Request(
        f"{server.base_url}/batches?limit=1", headers={"Authorization": f"Bearer {KEY}"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return str(json.loads(response.read())["data"][0]["id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=11)  # a steadier median on a noisy host
    args = parser.parse_args()
    require_tmux()
    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="batchdeck-bench-"))
    child_environment(tmp, private_dirs=True)
    server = LocalServer(tmp / "server", api_key=KEY, durable=False)
    server.start()
    try:
        seed_completed(server, args.batches)
        os.environ["OPENAI_BASE_URL"] = server.base_url
        os.environ["OPENAI_API_KEY"] = KEY
        newest = newest_id(server)
        printed = newest  # the script prints whole ids
        # The table's id column shows the tail after an ellipsis; the detail line under
        # the table shows the whole id of the row under the cursor and must not count
        # (it can be painted before the table).
        in_table = "…" + newest[-12:]
        time_to_text(SDK, printed, history=True)  # warm-up: bytecode, page cache
        time_to_text(BATCHDECK, in_table, history=True)
        sdk: list[Shown] = []
        ours: list[Shown] = []
        for _ in range(args.rounds):
            sdk.append(time_to_text(SDK, printed, history=True))
            ours.append(time_to_text(BATCHDECK, in_table, history=True))
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    best_sdk = min(run.seconds for run in sdk)
    best_ours = min(run.seconds for run in ours)
    paired = statistics.median(a.seconds / b.seconds for a, b in zip(ours, sdk, strict=True))
    met = paired <= GOAL
    print(
        f"{args.batches} batches on the embedded server; {args.rounds} interleaved rounds; "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
        f"({os.cpu_count()} cores: batchdeck lists its first page on a second one)"
    )
    print(
        f"SDK script (import openai, list a page, print it): best {best_sdk * 1000:5.0f} ms "
        f"({', '.join(f'{r.seconds * 1000:.0f}' for r in sdk)})"
    )
    print(
        f"batchdeck, newest batch's row on screen:            best {best_ours * 1000:5.0f} ms "
        f"({', '.join(f'{r.seconds * 1000:.0f}' for r in ours)})"
    )
    print(
        f"ratio of the bests {best_ours / best_sdk:.2f}; median paired ratio {paired:.2f} "
        f"(goal <= {GOAL}): {'met' if met else 'NOT MET'}"
    )
    record_verdict("start-up: the server's first page on screen (tmux)", paired, f"<= {GOAL}", met)


if __name__ == "__main__":
    main()
