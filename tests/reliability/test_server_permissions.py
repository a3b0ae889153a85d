"""The embedded server's data dir under a permissive umask: after batches ran (one to
completion with failed lines, one cancelled, one left running), a file was deleted
and the server was restarted, every directory it made is 0700 and every file 0600.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import (
    API_KEY,
    FAST,
    chat_lines,
    make_client,
    submit,
    upload,
    wait_for,
)
from tests.reliability.conftest import Figures
from tests.reliability.test_permissions import audit
from tui.localapi.clock import Timing
from tui.localapi.server import LocalServer

UMASK = 0o022
SLOW = Timing(validation=2.0, per_request=1_000_000.0, finalizing=2.0, cancelling=2.0)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def started(data: Path) -> LocalServer:
    server = LocalServer(data, api_key=API_KEY, timing=FAST, durable=False, time_scale=100_000)
    server.start()
    return server


def test_server_data_dir_is_private(
    permissive_umask: None, tmp_path: Path, figures: Figures
) -> None:
    top = tmp_path / "server-home"  # missing parents are the server's to make too
    data = top / "nested" / "data"
    server = started(data)
    with make_client(server) as client:
        done = wait_for(client, submit(client, chat_lines(6, fail_every=3)).id)
        assert done.status == "completed" and done.output_file_id and done.error_file_id
        client.files.content(done.output_file_id).read()
        server.timing = SLOW
        slow = submit(client, chat_lines(3)).id
        wait_for(client, slow, ("in_progress",))
        client.batches.cancel(slow)
        assert wait_for(client, slow).status == "cancelled"
        client.files.delete(upload(client, chat_lines(1), name="gone.jsonl"))
        running = submit(client, chat_lines(3)).id  # its work files stay on disk
        wait_for(client, running, ("in_progress",))
    server.stop()
    restarted = started(data)
    with make_client(restarted) as client:
        assert client.batches.retrieve(done.id).status == "completed"
    restarted.stop()

    assert (data / "server.lock").exists() and (data / "batches" / running).is_dir()
    checked, bad = audit(top)
    assert bad == [], "\n".join(bad)
    figures("server paths checked", checked)
