"""Benchmark: launch to the first painted batches table, 10,000-job registry, vs a
minimal Textual app.

Usage: ``.venv/bin/python bench/startup.py [--jobs N] [--rounds N]``

A registry of realistic jobs (each with a batch snapshot, see ``bench/registry.py``)
is written into a temp config dir. Each round runs, each in a fresh child process:

* the baseline: a Textual app with Header, DataTable and Footer (the table empty);
* a reference, not the goal's baseline: the same app with 100 rows of 8 fixed-width
  text columns in its table, to show what painting a screenful of rows costs;
* batchdeck as ``batchdeck`` starts it (``tui.cli``'s imports, config, client,
  registry, ``make_app``), on a server that does not answer: the batches screen
  paints the registry's cached view first, which is what is timed;
* batchdeck again with the registry's start-up cache (both files in ``.cache/``)
  deleted (cold).

"Painted" means the first frame shows the table with its newest rows (the first 200
of the 10,000 cached batches; the rest are appended in chunks after it).

Both apps run headless and stop at their first frame that shows the table (a
hook on the screen's compositor refresh, the same in both); each child reports
the time from its first line (before any import) to that frame, and the wall time
of each child (exit included) is measured from outside. Best of
``--rounds``. Goal: batchdeck (warm) / minimal app <= 1.3.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from _common import Run, check_ok, child_environment, run_measured
from registry import make_jobs

from tui.core.registry import CACHE_DIR, CACHE_NAME, NEWEST_NAME, RACY_NS, Registry

RATIO_GOAL = 1.3
PYTHON = sys.executable

# Both children time their first frame the same way: the first compositor refresh
# (the frame written to the terminal) that shows the table (with rows, for batchdeck).
PAINTED = """
from textual.screen import Screen
from textual.widgets import DataTable

_refresh = Screen._compositor_refresh
_done = []

def _painted(screen):
    _refresh(screen)
    tables = screen.query(DataTable)
    table = tables.first() if tables else None
    if _done or table is None or (ROWS and not table.row_count):
        return
    _done.append(time.perf_counter() - t0)
    status = screen.query("#status-line")
    print(_done[0], table.row_count, str(status.first().render()).split()[0] if status else "-")
    screen.app.exit()

Screen._compositor_refresh = _painted
_guard = __import__("threading").Timer(120, __import__("os")._exit, (3,))  # never hang
_guard.daemon = True
_guard.start()
"""

MINIMAL_APP = (
    """
import time
t0 = time.perf_counter()
ROWS = False
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header
"""
    + PAINTED
    + """

class Minimal(App[None]):
    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable()
        yield Footer()

    def on_mount(self) -> None:
        if ROWS:
            table = self.query_one(DataTable)
            for i, width in enumerate((13, 30, 11, 16, 11, 13, 9, 9)):
                table.add_column(f"col {i}", width=width)
            for row in range(100):
                table.add_row(*(f"cell {row}.{i}" for i in range(8)))

Minimal().run(headless=True, size=(120, 36))
"""
)
MINIMAL_FILLED = MINIMAL_APP.replace("ROWS = False", "ROWS = True")

BATCHDECK_APP = (
    """
import time
t0 = time.perf_counter()
ROWS = True
import tui.cli
from tui.app import make_app
from tui.core.config import load_config
from tui.core.client import BatchClient
from tui.core.registry import Registry

config = load_config()
profile = config.profile()
app = make_app(config, BatchClient(profile), Registry(), profile=profile)
"""
    + PAINTED
    + """
app.run(headless=True, size=(120, 36))
"""
)


def child(script: str, what: str) -> tuple[Run, list[str]]:
    run = check_ok(run_measured([PYTHON, "-c", script]), what)
    return run, run.stdout.split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="batchdeck-bench-"))
    child_environment(tmp, private_dirs=True)
    os.environ["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1"  # nothing answers there
    os.environ["OPENAI_API_KEY"] = "sk-bench-not-a-key"
    try:
        registry = Registry(durable=False)
        for job in make_jobs(args.jobs):
            registry.add(replace(job, profile=None))  # all of them the active profile's
        caches = [registry.root / CACHE_DIR / name for name in (CACHE_NAME, NEWEST_NAME)]
        time.sleep(RACY_NS / 1e9)  # records older than the racy window, as real ones are
        child(MINIMAL_APP, "minimal app")  # warm-up (bytecode, page cache)
        _, shown = child(BATCHDECK_APP, "batchdeck")  # warm-up, writes the cache at exit
        if int(shown[1]) == 0 or int(shown[2]) != args.jobs:
            raise SystemExit(f"batchdeck painted {shown[1]} rows of {shown[2]}, not {args.jobs}")
        rows: dict[str, list[tuple[float, float]]] = {
            "minimal": [],
            "filled": [],
            "warm": [],
            "cold": [],
        }
        for round_no in range(args.rounds):
            run, out = child(MINIMAL_APP, "minimal app")
            rows["minimal"].append((float(out[0]), run.seconds))
            run, out = child(MINIMAL_FILLED, "minimal app with rows")
            rows["filled"].append((float(out[0]), run.seconds))
            run, out = child(BATCHDECK_APP, "batchdeck")
            rows["warm"].append((float(out[0]), run.seconds))
            if round_no < 3:
                for cache in caches:
                    cache.unlink(missing_ok=True)
                run, out = child(BATCHDECK_APP, "batchdeck (no cache)")
                rows["cold"].append((float(out[0]), run.seconds))
        best = {name: (min(r[0] for r in rs), min(r[1] for r in rs)) for name, rs in rows.items()}
        base_paint, base_wall = best["minimal"]
        print(f"registry: {args.jobs} jobs; best of {args.rounds} rounds, each a fresh process")
        print(
            "minimal Textual app (Header, empty DataTable, Footer): "
            f"first frame {base_paint * 1000:5.0f} ms"
            f"   process wall {base_wall * 1000:5.0f} ms"
        )
        filled_paint = best["filled"][0]
        print(
            "reference: the same app with 100 rows x 8 columns, first frame with rows: "
            f"{filled_paint * 1000:5.0f} ms ratio {filled_paint / base_paint:4.2f}"
        )
        print("batchdeck: from the first line to the first frame with cached rows in its table")
        for name, label in (("warm", "registry cache warm"), ("cold", "no registry cache")):
            paint, wall = best[name]
            print(
                f"batchdeck, {label:<20} first table {paint * 1000:5.0f} ms"
                f" ratio {paint / base_paint:4.2f}"
                f" | process wall {wall * 1000:5.0f} ms ratio {wall / base_wall:4.2f}"
            )
        ratio = best["warm"][0] / base_paint
        verdict = "OK" if ratio <= RATIO_GOAL else "OVER GOAL"
        print(f"goal: batchdeck (warm) / minimal app <= {RATIO_GOAL}: {ratio:.2f} {verdict}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
