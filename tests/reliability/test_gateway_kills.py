"""A gateway (``batchdeck serve --upstream A --upstream B``) SIGKILLed again and again
while a batch runs finishes it whole, and never sends an upstream a line it had
already recorded.

The part files are the only record of a finished line (see
``tui.localapi.workfiles``). After each kill, before the next life starts, the test
reads the whole lines the parts hold (what the next life will find) and notes how
many requests each upstream has seen; every request an upstream sees later must be
for a line not among them. Lines that were in flight at a kill (sent, not yet
recorded) are sent again: that is allowed, and counted. The servers are the kill
test's (``test_server_kills.Servers``: ``batchdeck serve`` forked from a parent that
imported it once); the upstreams are ``tests.api._upstreams.FakeUpstream`` threads
of this process, so they outlive every kill.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections import Counter
from pathlib import Path

import openai

from tests.api._upstreams import FakeUpstream, wait_until
from tests.api.conftest import chat_line, jsonl
from tests.reliability.conftest import Figures
from tests.reliability.test_server_kills import (
    FINAL,
    KEY,
    Servers,
    free_port,
    run_until,
    status,
    written,
)

LINES = 2_500
KILLS = 15
SEED = 20261217


def gone(pid: int) -> bool:
    """True once the process has stopped running (dead, or a zombie not yet reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):  # reaped while being read
        return True


def recorded(work: Path) -> set[str]:
    """Markers of the whole lines in the batch's part files (as a restart reads them)."""
    markers: set[str] = set()
    for name in ("output.part", "error.part"):
        with contextlib.suppress(FileNotFoundError), (work / name).open("rb") as part:
            for raw in part:
                try:
                    custom_id = json.loads(raw)["custom_id"] if raw.endswith(b"\n") else None
                except (ValueError, KeyError, TypeError):
                    custom_id = None
                if custom_id is None:
                    break
                markers.add(f"line-{custom_id[1:]}")
    return markers


def test_kills_of_a_gateway_resend_no_recorded_line(tmp_path: Path, figures: Figures) -> None:
    rng = random.Random(SEED)
    lines = [chat_line(f"l{i}", f"line-{i}") for i in range(LINES)]
    ups = [FakeUpstream(name, delay=0.002).start() for name in ("a", "b")]
    extra = ["--upstream-concurrency", "4"]
    for upstream in ups:
        extra += ["--upstream", upstream.base_url]
    checks: list[tuple[set[str], list[int]]] = []  # after each kill: recorded, requests seen
    try:
        with (tmp_path / "server.log").open("wb") as log:
            servers = Servers(tmp_path / "data", free_port(), log, extra)
            try:
                servers.start()
                with openai.OpenAI(base_url=servers.url + "/v1", api_key=KEY, max_retries=0) as sdk:
                    file_id = sdk.files.create(file=("in.jsonl", jsonl(lines)), purpose="batch").id
                    batch_id = sdk.batches.create(
                        input_file_id=file_id,
                        endpoint="/v1/chat/completions",
                        completion_window="24h",
                    ).id
                work = tmp_path / "data" / "batches" / batch_id
                kills = 0
                while kills < KILLS:
                    size = written(work)
                    if size is not None and rng.random() < 0.6:
                        size = run_until(work, size + rng.randint(8_000, 20_000))
                    if size is None:
                        break  # the batch ended: too few lines for the kills
                    servers.kill()
                    kills += 1
                    wait_until(lambda pid=servers.pid: gone(pid))  # type: ignore[misc]
                    checks.append((recorded(work), [u.requests() for u in ups]))
                    servers.start()
                final = "unknown"
                deadline = time.monotonic() + 120
                while final not in FINAL and time.monotonic() < deadline:
                    with contextlib.suppress(OSError):
                        final = status(servers, batch_id)
                    time.sleep(0.01)
                with openai.OpenAI(base_url=servers.url + "/v1", api_key=KEY, max_retries=0) as sdk:
                    batch = sdk.batches.retrieve(batch_id)
                    files = [batch.output_file_id, batch.error_file_id]
                    data = b"".join(sdk.files.content(f).content for f in files if f)
            finally:
                servers.close()
        seen = [u.snapshot() for u in ups]
    finally:
        for upstream in ups:
            upstream.stop()
    assert batch.status == "completed", batch.status
    ids = Counter(json.loads(line)["custom_id"] for line in data.splitlines())
    resent_recorded = sum(
        1
        for done, counts in checks
        for upstream_seen, count in zip(seen, counts, strict=True)
        for request in upstream_seen[count:]
        if request.marker in done
    )
    sent = Counter(request.marker for upstream_seen in seen for request in upstream_seen)
    figures("gateway kills survived", kills)
    figures("lines recorded before the last kill", len(checks[-1][0]) if checks else 0)
    figures("recorded lines sent again", resent_recorded)
    figures("in-flight lines sent again (allowed)", sum(n - 1 for n in sent.values()))
    figures("custom_ids lost or duplicated", len(set(ids) ^ {x["custom_id"] for x in lines}))
    assert kills == KILLS, f"the batch ended after {kills} kills; make it longer"
    assert set(ids) == {x["custom_id"] for x in lines} and set(ids.values()) == {1}
    assert resent_recorded == 0
    assert batch.request_counts is not None and batch.request_counts.completed == LINES
    assert all(len(upstream_seen) > 0 for upstream_seen in seen)
