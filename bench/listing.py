"""Benchmark: 10,000 batches on the embedded server, first and last row on screen vs
a bare SDK ``batches.list()`` loop.

Usage: ``.venv/bin/python bench/listing.py [--batches N] [--rounds N]``

The parent seeds an embedded server with ``--batches`` finished batches (straight
into its store) and keeps it running. Each round then runs, each in a fresh child
process with its imports done before the clock starts:

* the baseline: ``openai.OpenAI(...).batches.list(limit=100)`` on a new client: the
  first page (time until it returns: connection, request, 100 pydantic models),
  then iterating it to the end (the SDK fetches page after page): the full loop;
* batchdeck's app, headless at 120x36, with an empty registry, measured twice in
  the same process, each from its first list request to the first frame showing a
  row and to the first frame showing all of them (a hook on the screen's
  compositor refresh):

  - at launch: the listing starts right after the app's first frame, while
    Textual is still finishing its start-up (footer, bindings, styles) on the same
    event loop; the app's launch before that first request is reported on the side;
  - running: once the app is idle (0.5 s after the launch listing), a new client
    (a new connection, like the SDK's) and the listing again into an emptied
    table: request, decoding, one table update and one frame for the first row.

  The goals are checked against the running app; the launch numbers are printed too.

Best of ``--rounds``. Goals: first row / SDK first page <= 1.2, last row / SDK full
loop <= 1.2.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from _common import Run, check_ok, child_environment, run_measured, seed_completed

from tui.localapi.server import LocalServer

GOAL = 1.2
PYTHON = sys.executable
KEY = "sk-bench-local"

SDK_LOOP = """
import json, sys, time
import openai
client = openai.OpenAI(base_url=sys.argv[1], api_key=sys.argv[2], max_retries=0)
t0 = time.perf_counter()
page = client.batches.list(limit=100)
assert page.data
first = time.perf_counter() - t0
count = sum(1 for _ in page)
full = time.perf_counter() - t0
print(json.dumps({"first": first, "last": full, "count": count}))
"""

APP = """
import json, os, sys, time
t_launch = time.perf_counter()
import openai  # the SDK child imports it before its clock starts too
from textual.screen import Screen
from tui.app import make_app
from tui.core.client import BatchClient
from tui.core.config import Config, Profile
from tui.core.registry import Registry
from tui.screens.batches import BatchesScreen

expected = int(sys.argv[3])
os.environ["BENCH_KEY"] = sys.argv[2]
profile = Profile("bench", base_url=sys.argv[1], api_key_env="BENCH_KEY")
config = Config(profiles={"bench": profile}, default_profile="bench")
app = make_app(config, BatchClient(profile, max_retries=0), Registry(), profile=profile)
runs = [{}, {}]  # at launch, then in the running app
_pages = BatchClient.iter_batch_pages

def iter_batch_pages(self, **kw):
    runs[-1 if runs[0].get("last") else 0].setdefault("start", time.perf_counter())
    return _pages(self, **kw)

BatchClient.iter_batch_pages = iter_batch_pages
_refresh = Screen._compositor_refresh

async def again(screen):
    old = app.client
    app.client = BatchClient(profile, max_retries=0)
    await app.client.prepare()
    await old.close()
    screen.reload()

def painted(screen):
    _refresh(screen)
    marks = runs[-1 if runs[0].get("last") else 0]
    if not isinstance(screen, BatchesScreen) or "start" not in marks or "last" in marks:
        return
    table = screen.table
    now = time.perf_counter()
    if table.row_count and "first" not in marks:
        marks["first"] = now
    if table.row_count >= expected:
        marks["last"] = now
        if marks is runs[0]:
            screen.set_timer(0.5, lambda: screen.run_worker(again(screen)))
            return
        launch, running = ({k: v - m["start"] for k, v in m.items()} for m in runs)
        print(json.dumps({
            "first": running["first"],
            "last": running["last"],
            "launch_first": launch["first"],
            "launch_last": launch["last"],
            "launch": runs[0]["start"] - t_launch,
            "count": table.row_count,
        }))
        screen.app.exit()

Screen._compositor_refresh = painted
guard = __import__("threading").Timer(300, os._exit, (3,))  # never hang
guard.daemon = True
guard.start()
app.run(headless=True, size=(120, 36))
"""


def child(script: str, server: LocalServer, count: int, what: str) -> tuple[Run, dict[str, float]]:
    run = check_ok(run_measured([PYTHON, "-c", script, server.base_url, KEY, str(count)]), what)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    if int(result["count"]) != count:
        raise SystemExit(f"{what} saw {result['count']} batches, not {count}")
    return run, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="batchdeck-bench-"))
    child_environment(tmp, private_dirs=True)
    server = LocalServer(tmp / "server", api_key=KEY, durable=False)
    server.start()
    try:
        seed_completed(server, args.batches)
        child(SDK_LOOP, server, args.batches, "SDK loop")  # warm-up
        child(APP, server, args.batches, "batchdeck")
        sdk: list[dict[str, float]] = []
        app: list[dict[str, float]] = []
        for _ in range(args.rounds):
            sdk.append(child(SDK_LOOP, server, args.batches, "SDK loop")[1])
            app.append(child(APP, server, args.batches, "batchdeck")[1])

        def best(rows: list[dict[str, float]], key: str) -> float:
            return min(row[key] for row in rows)

        print(f"{args.batches} batches on the embedded server; best of {args.rounds} rounds")
        sdk_first, sdk_last = best(sdk, "first"), best(sdk, "last")
        app_first, app_last = best(app, "first"), best(app, "last")
        print(
            f"SDK batches.list() on a new client: first page {sdk_first * 1000:6.0f} ms, "
            f"full loop {sdk_last * 1000:6.0f} ms"
        )
        print(
            "batchdeck at launch (from its first request, Textual still starting): "
            f"first row {best(app, 'launch_first') * 1000:6.0f} ms, "
            f"last row {best(app, 'launch_last') * 1000:6.0f} ms; "
            f"launch before that {best(app, 'launch') * 1000:4.0f} ms"
        )
        print(
            "batchdeck running (new client, from its first request to the frame): "
            f"first row {app_first * 1000:6.0f} ms, last row {app_last * 1000:6.0f} ms"
        )
        for name, ratio, at_launch in (
            (
                "first row / first page",
                app_first / sdk_first,
                best(app, "launch_first") / sdk_first,
            ),
            ("last row / full loop", app_last / sdk_last, best(app, "launch_last") / sdk_last),
        ):
            print(
                f"goal: {name} <= {GOAL}: running {ratio:.2f} "
                f"{'OK' if ratio <= GOAL else 'OVER GOAL'} (at launch {at_launch:.2f})"
            )
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
