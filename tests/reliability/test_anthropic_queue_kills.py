"""A queue runner on an Anthropic profile, SIGKILLed 20 times, still carries a
60-part job through the server's limit of requests in the processing queue: no
request lost, none sent twice.

As ``test_queue_kills`` (the OpenAI runner), with the embedded server's Message
Batches and ``anthropic_queue_limit`` of 3 parts' worth, configured in
``config.toml`` too (then the server never refuses) or not (then creates over it are
refused with a 429 and the limit is learned). A message batch has no metadata, so a
create whose answer the kill cut off is found again by creation time and request
count (``AnthropicJournal``); a part cut off with no batch made goes back to the queue.
Kills land after the runner's k-th registry change (k from 1 to 12) or at its start.
"""

from __future__ import annotations

import random
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api._cli import env_for, run
from tests.api.conftest import API_KEY, FAST
from tests.api.test_anthropic_queue import (
    KEY_ENV,
    LIMIT,
    MODEL,
    PARTS,
    PER_PART,
    all_batches,
    claude_config,
    job_lines,
    joined_ids,
    peak_processing,
    sdk_for,
    write_job,
)
from tests.reliability.conftest import Figures
from tests.reliability.test_queue_kills import Runners, wait_for_changes
from tui.core.queue import queue_dir
from tui.core.queue_limits import LimitBook
from tui.core.registry import Registry
from tui.localapi.server import LocalServer

KILLS = 20
SEED = 20261201


@pytest.fixture(params=[True, False], ids=["configured", "learned"])
def known(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    server = LocalServer(
        tmp_path / "server",
        api_key=API_KEY,
        timing=FAST,
        durable=False,
        time_scale=30,
        dialect="anthropic",
        anthropic_queue_limit=LIMIT,
    )
    server.start()
    yield server
    server.stop()


def mid_submit_now() -> int:
    """1 if a part was left ``creating`` (the journal's to settle)."""
    states = ((job.submission or {}).get("state") for job in Registry().load().values())
    return int(any(state == "creating" for state in states))


def test_runner_kills_lose_and_repeat_nothing_on_anthropic(
    known: bool,
    server: LocalServer,
    tmp_path: Path,
    figures: Figures,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(SEED)
    monkeypatch.setenv(KEY_ENV, API_KEY)
    claude_config(server, LIMIT if known else None)
    source = str(write_job(tmp_path))
    queued = run(capsys, "submit", source, "--queue", "--part-requests", str(PER_PART))
    assert queued.code == 0, queued.err
    registry_dir = Registry().root
    env = {**env_for(None, tmp_path), KEY_ENV: API_KEY}

    kills = early_exits = mid_submit = 0
    with (tmp_path / "runner.log").open("wb") as log:
        runners = Runners(env, log, sdk="anthropic")
        try:
            while kills < KILLS:
                runners.start()
                if rng.random() < 0.8:
                    wait_for_changes(registry_dir, rng.randint(1, 12))
                code = runners.kill()
                if code == -signal.SIGKILL:
                    kills += 1
                    mid_submit += mid_submit_now()
                else:
                    early_exits += 1
                    break
            runners.start()
            final = runners.wait()
        finally:
            runners.close()

    with sdk_for(server) as sdk:
        ids = joined_ids(sdk)
        batches = len(all_batches(sdk))
        peak = peak_processing(sdk)
    expected = {line["custom_id"] for line in job_lines()}
    lost = len(expected - set(ids))
    duplicates = sum(count - 1 for count in ids.values() if count > 1)
    case = "configured" if known else "learned"
    figures(f"anthropic queue runner kills survived ({case})", kills)
    figures(f"anthropic queue kills mid-submit ({case})", mid_submit)
    figures(f"anthropic queue ids lost ({case})", lost)
    figures(f"anthropic queue ids sent twice ({case})", duplicates)
    figures(f"anthropic queue message batches / 60 ({case})", batches)
    assert final == 0, (tmp_path / "runner.log").read_text()[-2000:]
    assert kills == KILLS and early_exits == 0 and mid_submit > 0
    assert lost == 0 and duplicates == 0 and set(ids) == expected
    assert batches == PARTS and peak <= LIMIT
    learned = LimitBook(queue_dir(Registry())).learned("claude", MODEL)
    if known:
        assert learned is None  # never refused, nothing to learn
