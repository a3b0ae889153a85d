"""Benchmark: launch to the first painted batches table in a real terminal (tmux),
10,000-job registry, vs a minimal Textual app launched the same way.

Usage: ``.venv/bin/python bench/startup.py [--jobs N] [--rounds N]``
       ``.venv/bin/python bench/startup.py --scale [--rounds N]`` (1k, 10k, 50k jobs)
       ``.venv/bin/python bench/startup.py --instructions`` (needs valgrind)

A registry of realistic jobs (each with a batch snapshot, see ``bench/registry.py``)
is written into a temp config dir, and its start-up cache with it. Each round
launches, each in a fresh 120x36 tmux session (``bench/_terminal.py``), timed from
launch until the expected text is on screen:

* the baseline: a Textual app with Header, DataTable and Footer whose table gets a
  screenful of rows (30 x 8 columns) on mount; done when its first row's id shows;
* ``batchdeck`` (``python -m tui.cli``, as the console script runs it) on a server
  that does not answer: done when the newest cached batch's row shows.

Rounds alternate baseline and batchdeck. Printed: best of each, the ratio of the
bests and the median of the paired ratios (each pair ran under about the same load);
the verdict is on the median. ``--scale`` prints, at each registry size, the best
times, batchdeck's peak RSS (``VmHWM`` when its table showed) and the median paired
ratio. Goal: batchdeck / minimal app <= 1.2.

``--instructions`` counts instead of timing, which the machine's load does not sway:
each app runs once under ``valgrind --tool=callgrind`` in tmux and ends at the
terminal write that carries its expected text (batchdeck without its first-page
child, which runs on the other core); printed: both counts and their ratio.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from _common import child_environment, mb, record_verdict
from _terminal import Shown, require_tmux, time_to_text
from registry import make_jobs

from tui.core.registry import RACY_NS, Registry

GOAL = 1.2
SCALES = (1_000, 10_000, 50_000)
PYTHON = sys.executable
FIRST_ID = "first-row"

MINIMAL_APP = f"""
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header

class Minimal(App[None]):
    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for i, width in enumerate((13, 30, 11, 16, 11, 13, 9, 9)):
            table.add_column(f"col {{i}}", width=width)
        table.add_row({FIRST_ID!r}, *(f"cell 0.{{i}}" for i in range(1, 8)))
        for row in range(1, 30):
            table.add_row(*(f"cell {{row}}.{{i}}" for i in range(8)))

Minimal().run()
"""
MINIMAL = [PYTHON, "-c", MINIMAL_APP]
BATCHDECK = [PYTHON, "-m", "tui.cli"]

# --instructions: the process ends at the terminal write that carries the text.
STOP_AT_WRITE = """
import os
def stop_at_write():
    from textual.drivers import linux_driver
    write = linux_driver.LinuxDriver.write
    def stopping(self, data):
        if {expected!r} in data:
            os._exit(0)
        write(self, data)
    linux_driver.LinuxDriver.write = stopping
"""
MINIMAL_STOPPING = STOP_AT_WRITE.format(expected=FIRST_ID) + MINIMAL_APP.replace(
    "Minimal().run()", "stop_at_write()\nMinimal().run()"
)
BATCHDECK_STOPPING = """
import sys
import tui.hangup
from tui.core import first_page
first_page.fork = lambda profile_name: None  # its child would be counted too
run_app = tui.hangup.run_app
def stopping_run_app(*args, **kwargs):
    stop_at_write()  # here: batchdeck imports Textual after its own start-up steps
    return run_app(*args, **kwargs)
tui.hangup.run_app = stopping_run_app
from tui.cli import main
sys.argv = ["batchdeck"]
sys.exit(main())
"""


def write_registry(count: int) -> str:
    """``count`` jobs of the active profile and their start-up cache; the text that
    shows the newest cached batch's row: the tail of its id after the ellipsis, as
    the table's id column shows it (the detail line under the table shows the whole
    id of the row under the cursor, which must not count: it can be painted first)."""
    registry = Registry(durable=False)
    jobs = [replace(job, profile=None) for job in make_jobs(count)]
    for job in jobs:
        registry.add(job)
    time.sleep(RACY_NS / 1e9)  # records older than the racy window, as real ones are
    Registry(durable=False).load()  # writes the start-up cache
    newest = max(jobs, key=lambda job: job.snapshot_created_at or 0)
    assert newest.batch_id is not None
    return "…" + newest.batch_id[-12:]


def fresh_dirs(tmp: Path, name: str) -> None:
    os.environ["BATCHDECK_CONFIG_DIR"] = str(tmp / name / "config")
    os.environ["BATCHDECK_DATA_DIR"] = str(tmp / name / "data")


def compare(expected: str, rounds: int) -> None:
    time_to_text(MINIMAL, FIRST_ID)  # warm-up: bytecode, page cache
    time_to_text(BATCHDECK, expected)
    base: list[Shown] = []
    ours: list[Shown] = []
    for _ in range(rounds):
        base.append(time_to_text(MINIMAL, FIRST_ID))
        ours.append(time_to_text(BATCHDECK, expected))
    best_base = min(run.seconds for run in base)
    best_ours = min(run.seconds for run in ours)
    paired = statistics.median(a.seconds / b.seconds for a, b in zip(ours, base, strict=True))
    met = paired <= GOAL
    print(
        f"minimal Textual app (Header, DataTable with 30 rows, Footer): best "
        f"{best_base * 1000:5.0f} ms ({', '.join(f'{r.seconds * 1000:.0f}' for r in base)})"
    )
    print(
        f"batchdeck, newest cached row on screen:                  best "
        f"{best_ours * 1000:5.0f} ms ({', '.join(f'{r.seconds * 1000:.0f}' for r in ours)})"
    )
    print(
        f"ratio of the bests {best_ours / best_base:.2f}; median paired ratio {paired:.2f} "
        f"(goal <= {GOAL}): {'met' if met else 'NOT MET'}"
    )
    record_verdict("start-up, 10k-job registry: first table (tmux)", paired, f"<= {GOAL}", met)


def scale(tmp: Path, rounds: int) -> None:
    print("registry jobs | minimal app | batchdeck: first table, peak RSS | median paired ratio")
    for count in SCALES:
        fresh_dirs(tmp, f"scale-{count}")
        expected = write_registry(count)
        time_to_text(BATCHDECK, expected)  # warm-up
        base, ours = [], []
        for _ in range(rounds):
            base.append(time_to_text(MINIMAL, FIRST_ID))
            ours.append(time_to_text(BATCHDECK, expected))
        fast = min(run.seconds for run in ours)
        baseline = min(run.seconds for run in base)
        paired = statistics.median(a.seconds / b.seconds for a, b in zip(ours, base, strict=True))
        print(
            f"{count:>13,} | {baseline * 1000:8.0f} ms | {fast * 1000:8.0f} ms, "
            f"{mb(max(run.peak_rss for run in ours)):>9} | {paired:5.2f}"
        )


def instructions(code: str) -> int:
    """Instructions ``python -c code`` runs (callgrind) in a fresh 120x36 tmux pane."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "callgrind.txt"
        valgrind = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
        command = f"{shlex.join([*valgrind, PYTHON, '-c', code])} 2>{report}; "
        socket = f"{tmp}/tmux"
        command += f"tmux -S {shlex.quote(socket)} wait-for -S done"
        tmux = ["tmux", "-S", socket, "-f", "/dev/null"]
        size = ["-x", "120", "-y", "36"]
        subprocess.run([*tmux, "new-session", "-d", *size, "-s", "b", command], check=True)
        subprocess.run([*tmux, "wait-for", "done"], check=True, timeout=600)
        subprocess.run([*tmux, "kill-server"], capture_output=True)
        found = re.search(r"Collected : (\d+)", report.read_text())
        if found is None:
            raise SystemExit(f"valgrind counted nothing:\n{report.read_text()[-2000:]}")
        return int(found.group(1))


def count_instructions(expected: str) -> None:
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind")
    time_to_text(MINIMAL, FIRST_ID)  # warm-up: bytecode, page cache
    time_to_text(BATCHDECK, expected)
    base = instructions(MINIMAL_STOPPING)
    ours = instructions(STOP_AT_WRITE.format(expected=expected) + BATCHDECK_STOPPING)
    print(f"minimal Textual app, to the write of its table: {base / 1e6:8,.0f} M instructions")
    print(f"batchdeck, to the write of the newest cached row: {ours / 1e6:6,.0f} M instructions")
    print(f"ratio {ours / base:.3f} (goal <= {GOAL}, for time)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=11)  # a steadier median on a noisy host
    parser.add_argument("--scale", action="store_true", help="1k, 10k and 50k jobs")
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions (valgrind), not time"
    )
    args = parser.parse_args()
    require_tmux()
    tmp = Path(tempfile.mkdtemp(prefix="batchdeck-bench-"))
    child_environment(tmp)
    os.environ["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1"  # nothing answers there
    os.environ["OPENAI_API_KEY"] = "sk-bench-not-a-key"
    try:
        if args.scale:
            scale(tmp, args.rounds)
            return
        fresh_dirs(tmp, "main")
        expected = write_registry(args.jobs)
        if args.instructions:
            count_instructions(expected)
            return
        print(f"registry: {args.jobs} jobs; {args.rounds} interleaved rounds in tmux")
        compare(expected, args.rounds)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
