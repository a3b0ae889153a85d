"""``batchdeck webhooks``: a correctly signed batch event is recorded and fires the
hook once; forged, tampered, stale, malformed and replayed deliveries are refused;
no secret, no receiver. The receiver runs as the user would run it (a process)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests._hooks import recorder, runs
from tests.api._cli import REPO, env_for
from tests.api.conftest import chat_lines, submit, wait_for
from tui.core.registry import Registry
from tui.localapi.server import LocalServer

SECRET = "whsec_" + base64.b64encode(b"batchdeck-test-webhook-secret-32b").decode()
OTHER = "whsec_" + base64.b64encode(b"somebody-else-entirely-secret-32").decode()


def sign(body: bytes, *, webhook_id: str, secret: str = SECRET, at: int | None = None) -> dict:
    """Standard-webhooks headers: HMAC-SHA256 of ``id.timestamp.body`` with the secret."""
    timestamp = str(int(time.time()) if at is None else at)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{webhook_id}.{timestamp}.{body.decode()}".encode()
    digest = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": f"v1,{digest}",
        "content-type": "application/json",
    }


def event(kind: str, batch_id: str, event_id: str = "evt_1") -> bytes:
    body = {"id": event_id, "object": "event", "type": kind, "created_at": int(time.time())}
    body["data"] = {"id": batch_id}
    return json.dumps(body).encode()


def post(url: str, body: bytes, headers: dict) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


class Receiver:
    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tui.cli", "webhooks", "--port", "0"],
            env=env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stderr is not None
        first = self.process.stderr.readline()  # waits for the listening line
        found = re.search(r"listening on (http://\S+/)", first)
        assert found, first + self.process.stderr.read()
        self.url = found.group(1)

    def stop(self) -> tuple[int, str, str]:
        self.process.send_signal(signal.SIGINT)
        out, err = self.process.communicate(timeout=30)
        return self.process.returncode, out, err


@pytest.fixture
def env(server: LocalServer, tmp_path: Path) -> dict[str, str]:
    env = env_for(server, tmp_path)
    env["OPENAI_WEBHOOK_SECRET"] = SECRET
    return env


@pytest.fixture
def hook_runs(env: dict[str, str], tmp_path: Path) -> Path:
    out, command = recorder(tmp_path)
    config = Path(env["BATCHDECK_CONFIG_DIR"]) / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"[hooks]\non_final = {json.dumps(command)}\n")
    return out


@pytest.fixture
def receiver(env: dict[str, str], hook_runs: Path) -> Iterator[Receiver]:
    running = Receiver(env)
    yield running
    if running.process.poll() is None:
        running.stop()


def test_a_signed_batch_event_is_recorded_and_fires_the_hook_once(
    client: openai.OpenAI, env: dict[str, str], hook_runs: Path, receiver: Receiver
) -> None:
    batch = submit(client, chat_lines(3, fail_every=3), metadata={"description": "$(touch z)"})
    wait_for(client, batch.id)
    body = event("batch.completed", batch.id)
    assert post(receiver.url, body, sign(body, webhook_id="wh_1")) == (200, {"received": "wh_1"})

    [hook] = runs(hook_runs)
    assert hook["env"]["BATCHDECK_BATCH_ID"] == batch.id
    assert hook["env"]["BATCHDECK_STATUS"] == "completed"
    assert hook["env"]["BATCHDECK_DESCRIPTION"] == "$(touch z)"
    assert (hook["env"]["BATCHDECK_COMPLETED"], hook["env"]["BATCHDECK_FAILED"]) == ("2", "1")
    job = Registry(Path(env["BATCHDECK_CONFIG_DIR"]) / "jobs").find_by_batch(batch.id)
    assert job is not None and job.status == "completed" and set(job.notified) == {"final"}
    # adopted as the receiver's profile's: no other profile lists it
    assert (job.profile, job.base_url) == ("default", env["OPENAI_BASE_URL"])

    # The same delivery again (a replay within the tolerance): refused, nothing fires.
    status, answer = post(receiver.url, body, sign(body, webhook_id="wh_1"))
    assert status == 409 and "received before" in answer["error"]
    # Another delivery of the same news (a new id): accepted, but the hook fired already.
    assert post(receiver.url, body, sign(body, webhook_id="wh_2"))[0] == 200
    assert len(runs(hook_runs)) == 1

    code, out, err = receiver.stop()
    assert code == 130
    assert f"batch.completed  {batch.id}  completed  3/3 (1 failed)" in out
    assert "webhook refused (409)" in err

    # The seen ids outlive the process: a restarted receiver still refuses the replay.
    again = Receiver(env)
    assert post(again.url, body, sign(body, webhook_id="wh_1"))[0] == 409
    again.stop()


def test_forged_stale_and_malformed_deliveries_are_refused(
    client: openai.OpenAI, env: dict[str, str], hook_runs: Path, receiver: Receiver
) -> None:
    batch = submit(client, chat_lines(1))
    wait_for(client, batch.id)
    body = event("batch.completed", batch.id)
    forged = sign(body, webhook_id="wh_f", secret=OTHER)
    assert post(receiver.url, body, forged)[0] == 401
    tampered = event("batch.completed", "batch_other")
    assert post(receiver.url, tampered, sign(body, webhook_id="wh_t"))[0] == 401
    stale = sign(body, webhook_id="wh_s", at=int(time.time()) - 3600)
    status, answer = post(receiver.url, body, stale)
    assert status == 401 and "too old" in answer["error"]
    unsigned = {"content-type": "application/json"}
    assert post(receiver.url, body, unsigned)[0] == 400
    junk = b"{not json"
    assert post(receiver.url, junk, sign(junk, webhook_id="wh_j"))[0] == 400
    assert runs(hook_runs) == []
    job = Registry(Path(env["BATCHDECK_CONFIG_DIR"]) / "jobs").find_by_batch(batch.id)
    assert job is None  # nothing refused reached the registry
    # After all that, the genuine delivery still goes through.
    assert post(receiver.url, body, sign(body, webhook_id="wh_ok"))[0] == 200
    assert len(runs(hook_runs)) == 1


def test_a_batch_that_cannot_be_retrieved_gets_the_events_status(
    env: dict[str, str], hook_runs: Path, receiver: Receiver
) -> None:
    body = event("batch.expired", "batch_elsewhere")
    assert post(receiver.url, body, sign(body, webhook_id="wh_x"))[0] == 200
    [hook] = runs(hook_runs)
    assert (hook["env"]["BATCHDECK_BATCH_ID"], hook["env"]["BATCHDECK_STATUS"]) == (
        "batch_elsewhere",
        "expired",
    )
    job = Registry(Path(env["BATCHDECK_CONFIG_DIR"]) / "jobs").find_by_batch("batch_elsewhere")
    assert job is not None and job.status == "expired"
    other = json.dumps({"id": "e", "type": "response.completed", "data": {"id": "r"}}).encode()
    assert post(receiver.url, other, sign(other, webhook_id="wh_r")) == (
        200,
        {"ignored": "response.completed"},
    )
    assert len(runs(hook_runs)) == 1


def test_no_secret_no_receiver(env: dict[str, str]) -> None:
    env = {k: v for k, v in env.items() if k != "OPENAI_WEBHOOK_SECRET"}
    ran = subprocess.run(
        [sys.executable, "-m", "tui.cli", "webhooks", "--port", "0"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 2
    assert "OPENAI_WEBHOOK_SECRET is not set" in ran.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "tui.cli", "webhooks", "--port", "0"],
        env={**env, "OPENAI_WEBHOOK_SECRET": "whsec_!!!"},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "bad base64" in bad.stderr
    assert "whsec_!!!" not in bad.stderr  # a secret is never echoed
    assert os.environ.get("OPENAI_WEBHOOK_SECRET") is None
