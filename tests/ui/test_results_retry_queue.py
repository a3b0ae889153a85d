"""``R`` then Queue on the results screen: the retry goes into the local queue (one
job group, each part linked to the batch by ``retry_of_batch``); nothing is sent."""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest

from tests.api.conftest import API_KEY, FAST, chat_lines, jsonl
from tests.ui.conftest import click_shown, until
from tests.ui.test_results import KEY_ENV, open_results
from tui.app import make_app
from tui.core.client import BatchClient
from tui.core.config import Config, Profile
from tui.core.queue_view import groups_of, queue_table
from tui.core.registry import Registry
from tui.dialogs.retry_choice import RetryDialog
from tui.localapi.clock import ManualClock
from tui.localapi.server import LocalServer
from tui.screens import queue_runner


async def test_queue_button_puts_the_retry_in_the_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with LocalServer(
        tmp_path / "server", api_key=API_KEY, clock=ManualClock(), timing=FAST, durable=False
    ) as server:
        sdk = openai.OpenAI(base_url=server.base_url, api_key=API_KEY)
        file_id = sdk.files.create(
            file=("in.jsonl", jsonl(chat_lines(6, fail_every=3))), purpose="batch"
        ).id
        batch = sdk.batches.create(
            input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        server.advance(60)
        monkeypatch.setenv(KEY_ENV, API_KEY)
        profile = Profile("test", base_url=server.base_url, api_key_env=KEY_ENV)
        config = Config(profiles={"test": profile}, default_profile="test")
        registry = Registry()
        app = make_app(config, BatchClient(profile), registry, profile=profile)
        # The button sends nothing; the app's queue runner would, at its first pass (1 s
        # after start-up, which a run on a busy machine reached): it waits here.
        monkeypatch.setattr(queue_runner, "FIRST_AFTER", 3600.0)
        app.queue_runner.interval = 3600.0
        async with app.run_test(size=(80, 24)) as pilot:
            await open_results(pilot, batch.id)
            await pilot.press("R")
            await until(pilot, lambda: isinstance(app.screen, RetryDialog))
            await click_shown(pilot, "#retry-queue")
            await until(pilot, lambda: bool(groups_of(registry.load().values())))
            await until(pilot, lambda: any("Retry queued" in n.message for n in app._notifications))
        assert app.queue_runner.passes == 0
        (group,) = groups_of(registry.load().values()).values()
        assert group.status == "waiting"
        parts = [part.job for part in group.latest.values()]
        assert all(job.batch_id is None and job.retry_of is None for job in parts)
        assert all((queue_table(job) or {})["retry_of_batch"] == batch.id for job in parts)
        sent = [
            json.loads(x)["custom_id"]
            for job in parts
            for x in Path(job.input_path or "").read_text().splitlines()
        ]
        assert sorted(sent) == ["req-2", "req-5"]
        assert len(sdk.batches.list().data) == 1  # nothing was sent
