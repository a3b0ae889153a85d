"""Make the README's screenshots from the real app on the demo data.

Usage: ``.venv/bin/python screenshots/make.py [--size 120x36]``

Starts ``batchdeck demo``'s seeded server and app headless (``build_demo``), visits
each screen that exists (batches, F1 help, the batch inspector, files, the queue,
results and its retry choice, spend, the fleet view with more profiles beside the
demo's, compose), exports each as SVG with Textual and converts it to PNG with cairosvg
(libcairo). The demo key is random and never shown, so it cannot appear in a picture.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SHOWCASE = "Nightly support-ticket summaries"  # a completed demo batch with failed lines


def to_png(svg: str, path: Path) -> None:
    """Write ``svg`` as a PNG (the terminal font mapped to an installed monospace one)."""
    import cairosvg

    svg = svg.replace("Fira Code", "DejaVu Sans Mono")
    cairosvg.svg2png(bytestring=svg.encode("utf-8"), write_to=str(path), output_width=1600)


async def settle(pilot: Any, seconds: float = 1.0) -> None:
    """Let workers finish and the screen repaint (bounded)."""
    for _ in range(int(seconds / 0.1)):
        await pilot.pause(0.1)


async def shoot(app: Any, name: str, made: list[Path]) -> None:
    path = HERE / f"{name}.png"
    to_png(app.export_screenshot(), path)
    made.append(path)


TEAM_BATCHES = (  # (description, age in hours, lines, seconds per line)
    ("Weekly churn-risk scoring", 1.0, 400, 30.0),
    ("Invoice field extraction (EU)", 3.0, 120, 20.0),
    ("Call-centre transcript summaries", 7.0, 60, 5.0),
)


def start_fleet_servers(root: Path) -> dict[str, Any]:
    """Two more servers for the fleet view: a team's (a few batches, one running) and
    one whose batch list fails (503); same demo key, loopback only."""
    import json
    import os

    from tests.api.conftest import chat_lines
    from tui.commands.demo import DEMO_KEY_ENV
    from tui.localapi.clock import Timing
    from tui.localapi.server import LocalServer

    servers = {}
    for name in ("eu-team", "research"):
        server = LocalServer(root / name, api_key=os.environ[DEMO_KEY_ENV], durable=False)
        server.start()
        servers[name] = server
    team = servers["eu-team"]

    def seed() -> None:
        now = team.engine.now()
        for description, hours, count, per_line in TEAM_BATCHES:
            data = "".join(json.dumps(line) + "\n" for line in chat_lines(count)).encode()
            source = team.store.create_file(
                data, filename="in.jsonl", purpose="batch", created_at=now - hours * 3600 - 60
            )
            team.engine.create_batch(
                input_file_id=source["id"],
                endpoint="/v1/chat/completions",
                metadata={"description": description},
                timing=Timing(validation=60, per_request=per_line, finalizing=60),
                created_at=now - hours * 3600,
            )

    team.call(seed)
    team.settle()
    servers["research"].faults.add("503", times=None, path="/v1/batches*", retry_after=0.01)
    return servers


async def shoot_fleet(app: Any, pilot: Any, root: Path, made: list[Path]) -> None:
    """The fleet view: the demo's profile, the two servers above, and a profile whose
    key variable is empty (never contacted: a hosted service without a key)."""
    import os

    from tui.commands.demo import DEMO_KEY_ENV
    from tui.core.config import Profile
    from tui.screens.fleet import FleetScreen

    servers = start_fleet_servers(root)
    try:
        for name, server in servers.items():
            app.config.profiles[name] = Profile(
                name, base_url=server.base_url, api_key_env=DEMO_KEY_ENV
            )
        os.environ.pop("AZURE_WEST_KEY", None)
        app.config.profiles["azure-west"] = Profile("azure-west", api_key_env="AZURE_WEST_KEY")
        app.push_screen(FleetScreen())
        await settle(pilot, 2.0)
        app.screen.query_one("#fleet").move_cursor(row=1)
        await settle(pilot, 0.2)
        await shoot(app, "fleet", made)
        app.pop_screen()
        await settle(pilot, 0.2)
    finally:
        for server in servers.values():
            server.stop()


def has_screen(module: str) -> bool:
    return importlib.util.find_spec(f"tui.screens.{module}") is not None


async def make(size: tuple[int, int]) -> list[Path]:
    from tui.commands.demo import build_demo
    from tui.screens.batches import BatchesScreen

    made: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="batchdeck-shots-") as tmp:
        app, server = build_demo(Path(tmp))
        try:
            async with app.run_test(size=size) as pilot:
                screen = app.screen
                assert isinstance(screen, BatchesScreen)
                for _ in range(100):
                    await pilot.pause(0.05)
                    if screen.cycles and not screen.table.loading_rows:
                        break
                await shoot(app, "batches", made)
                await pilot.press("f1")
                await settle(pilot, 0.3)
                await shoot(app, "help", made)
                await pilot.press("escape")
                table = screen.table
                showcase = next(
                    (i for i, job in table.jobs.items() if job.description.startswith(SHOWCASE)),
                    None,
                )
                if showcase is not None:
                    table.move_cursor(row=table.get_row_index(showcase))
                if has_screen("batch_detail"):
                    await pilot.press("enter")
                    await settle(pilot)
                    await shoot(app, "inspector", made)
                    app.pop_screen()
                    await settle(pilot, 0.2)
                if has_screen("files"):
                    app.action_open_files()
                    await settle(pilot)
                    await shoot(app, "files", made)
                    app.pop_screen()
                    await settle(pilot, 0.2)
                if has_screen("queue"):  # the demo's queued job, after the runner's first pass
                    for _ in range(100):
                        if app.queue_runner.passes:
                            break
                        await pilot.pause(0.05)
                    app.action_open_queue()
                    await settle(pilot)
                    await shoot(app, "queue", made)
                    app.pop_screen()
                    await settle(pilot, 0.2)
                if has_screen("results") and showcase is not None:
                    app.open_results(showcase)
                    await settle(pilot, 1.5)
                    await shoot(app, "results", made)
                    await pilot.press("R")  # which failed requests to send again
                    await settle(pilot, 0.5)
                    if type(app.screen).__name__ == "RetryDialog":
                        await shoot(app, "retry-choice", made)
                        await pilot.press("escape")
                        await settle(pilot, 0.2)
                    app.pop_screen()
                    await settle(pilot, 0.2)
                if has_screen("spend"):
                    await shoot_spend(app, pilot, made)
                if has_screen("fleet"):
                    await shoot_fleet(app, pilot, Path(tmp), made)
                if has_screen("compose"):
                    app.action_open_compose()
                    await settle(pilot)
                    await shoot(app, "compose", made)
                await app.action_quit()
        finally:
            server.stop()
    return made


async def shoot_spend(app: Any, pilot: Any, made: list[Path]) -> None:
    """The Spend screen, with the demo server's fake Costs API beside it (the demo key
    stands in for an admin key: it is sent to the demo server only, never shown)."""
    import os

    from tui.commands.demo import DEMO_KEY_ENV
    from tui.core.spend import ADMIN_KEY_ENV

    before = os.environ.get(ADMIN_KEY_ENV)
    os.environ[ADMIN_KEY_ENV] = os.environ[DEMO_KEY_ENV]
    try:
        app.action_open_spend()
        await settle(pilot, 1.5)
        await shoot(app, "spend", made)
        app.pop_screen()
        await settle(pilot, 0.2)
    finally:
        if before is None:
            os.environ.pop(ADMIN_KEY_ENV, None)
        else:
            os.environ[ADMIN_KEY_ENV] = before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="120x36", help="terminal size, COLUMNSxROWS")
    args = parser.parse_args()
    columns, rows = (int(part) for part in args.size.split("x"))
    for path in asyncio.run(make((columns, rows))):
        print(path.relative_to(REPO))


if __name__ == "__main__":
    main()
