"""Shared helpers for the benchmarks: a cache dir, cached data files, measured runs.

Every benchmark runs its baseline in the same run and prints a ratio, so numbers from
a busy machine still compare like with like. Peak memory is the peak resident set
size of a child process (``ru_maxrss`` from ``os.wait4`` for that child alone): it
includes the interpreter and its imports, which is honest about what a user pays.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.localapi.server import LocalServer

REPO = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO / ".bench"

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def cached_file(name: str, build: Callable[[Path], None]) -> Path:
    """Return ``.bench/<name>``, building it first (into a temp file, then renamed)."""
    CACHE_DIR.mkdir(exist_ok=True)
    path = CACHE_DIR / name
    if not path.exists():
        tmp = path.with_name(f".{name}.tmp")
        build(tmp)
        os.replace(tmp, path)
    return path


@dataclass(frozen=True)
class Run:
    """One finished child process."""

    seconds: float
    peak_rss: int  # bytes
    returncode: int
    stdout: str
    cpu: float = 0.0  # user + system seconds of the child (and its threads)


def child_environment(tmp: Path, *, private_dirs: bool = False) -> None:
    """Set up this process's environment for the children it measures.

    Children run from bytecode, as an installed package does (pip writes .pyc files
    at install time); the machine may set PYTHONDONTWRITEBYTECODE, which would make
    every child compile batchdeck again, so the bytecode goes to ``tmp/pycache``.
    ``private_dirs`` also gives them a throw-away config and data dir under ``tmp``.
    """
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    if private_dirs:
        os.environ["BATCHDECK_CONFIG_DIR"] = str(tmp / "config")
        os.environ["BATCHDECK_DATA_DIR"] = str(tmp / "data")


def run_measured(cmd: Sequence[str], *, capture: bool = True) -> Run:
    """Run ``cmd``; return its wall time, its own peak RSS and (if asked) its stdout."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out if capture else subprocess.DEVNULL, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode("utf-8", "replace") if capture else ""
    cpu = usage.ru_utime + usage.ru_stime
    return Run(seconds, usage.ru_maxrss * 1024, proc.returncode, text, cpu)


def best_of(rounds: int, fn: Callable[[], Run]) -> Run:
    """The fastest of ``rounds`` runs (the least disturbed by other load)."""
    return min((fn() for _ in range(rounds)), key=lambda run: run.seconds)


def check_ok(run: Run, what: str) -> Run:
    """Fail loudly if a measured child did not succeed."""
    if run.returncode != 0:
        raise SystemExit(f"{what} failed with exit code {run.returncode}")
    return run


_TEXT = (
    "the of and to in is that for it as with was on be by at this from or an are not "
    "batch request model token latency prompt answer summary customer invoice order "
    "shipment delivery report analysis quarterly revenue growth forecast risk policy "
    "contract clause section paragraph translate explain classify extract review "
    "café naïve résumé façade über straße 東京 данные données 数据 niño coöperate"
)
_WORDS = _TEXT.split()


def paragraphs(count: int, words: int, seed: int = 0) -> list[str]:
    """``count`` pseudo-random paragraphs of about ``words`` words (some non-ASCII)."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        text = " ".join(rng.choices(_WORDS, k=words))
        out.append(text[0].upper() + text[1:] + ".")
    return out


def mb(nbytes: float) -> str:
    """Bytes as MB (10**6), for printing."""
    return f"{nbytes / 1e6:.1f} MB"


def seed_completed(server: LocalServer, count: int) -> None:
    """``count`` completed batches, written straight into the server's store (the
    listing and server benches' data)."""
    import json

    from tui.localapi.clock import Timing

    still = Timing(validation=1e9, per_request=1.0, finalizing=1.0, cancelling=1.0)

    def make() -> None:
        now = server.engine.now()
        line = {
            "custom_id": "r1",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
        }
        source = server.store.create_file(
            (json.dumps(line) + "\n").encode(),
            filename="in.jsonl",
            purpose="batch",
            created_at=now - 10 * 86_400,
        )
        for i in range(count):
            record = server.engine.create_batch(
                input_file_id=source["id"],
                endpoint="/v1/chat/completions",
                metadata={"project": "bench", "n": str(i)},
                timing=still,
                created_at=now - 9 * 86_400 + i * 60,
            )
            start = record["created_at"]
            record.update(
                status="completed",
                model="gpt-4o-mini",
                in_progress_at=start + 5,
                finalizing_at=start + 50,
                completed_at=start + 55,
                request_counts={"total": 1, "completed": 1, "failed": 0},
                output_file_id="file-bench",
            )
            server.engine._active.discard(record["id"])
            server.store.save_batch(record)

    server.call(make, timeout=600)


RESULTS = CACHE_DIR / "results.json"


def record_verdict(measure: str, ratio: float, goal: str, met: bool) -> None:
    """Keep one verdict row in ``.bench/results.json`` (by measure; the latest run of a
    measure replaces its row) for ``bench/summary.py``'s table."""
    import json

    CACHE_DIR.mkdir(exist_ok=True)
    try:
        rows = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        rows = {}
    rows[measure] = {"ratio": round(ratio, 3), "goal": goal, "met": met, "at": time.time()}
    tmp = RESULTS.with_name(".results.json.tmp")
    tmp.write_text(json.dumps(rows, indent=1) + "\n")
    os.replace(tmp, RESULTS)
