"""The start-up child of ``batchdeck`` (tui.core.first_page) with the real SDK: its
page is the screen's first page, a page of another profile is refused, a child that
gets no answer is ended and reaped (no zombie, nothing left running), the SDK loads
once the page is on screen, ``batchdeck`` forks before it imports anything heavy,
and the real app in a pty leaves no process behind when it quits, whether the page
came or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.api._cli import REPO, env_for
from tests.api.conftest import API_KEY, chat_lines, submit
from tests.reliability.test_hangup import EXIT_WAIT, open_pty, read_until
from tui.core import first_page
from tui.core.client import BatchClient
from tui.core.config import Profile, load_config
from tui.localapi.server import LocalServer


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A base URL whose server takes the connection and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"


def start(client: BatchClient) -> first_page.Prefetch | None:
    """A child for the default profile (as ``batchdeck`` forks it) handed over to
    ``client`` (made for that same profile)."""
    prefetch = first_page.fork(None)
    if prefetch is not None:
        first_page.hand_over(prefetch, client)
    return prefetch


def point_at(monkeypatch: pytest.MonkeyPatch, base_url: str) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)


def gone(pid: int) -> bool:
    """No such process, not even a zombie (it was reaped)."""
    return not Path(f"/proc/{pid}").exists()


async def test_the_child_s_page_is_the_listing_s_first_page(
    server: LocalServer, client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(3):
        submit(client, chat_lines(1))
    point_at(monkeypatch, server.base_url)
    profile = load_config().profile()
    child = start(BatchClient(profile, max_retries=0))
    assert child is not None
    content = await child.read()
    assert content is not None and gone(child.pid)
    page = first_page.parse(content)
    listing = BatchClient(profile, max_retries=0)
    expected = await anext(aiter(listing.iter_batch_pages()))
    await listing.close()
    assert page is not None and page.batches == expected and page.after is None
    assert first_page.parse(b"not json") is None
    assert first_page.parse(b'{"data": [{"no": "id"}]}') is None


async def test_a_child_without_an_answer_is_ended_and_reaped(
    silent_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_at(monkeypatch, silent_server)
    profile = load_config().profile()
    waited = start(BatchClient(profile, max_retries=0))
    assert waited is not None
    assert await waited.read(timeout=0.2) is None  # late: given up, ended, reaped
    assert gone(waited.pid) and waited.done.is_set()
    closed = start(BatchClient(profile, max_retries=0))
    assert closed is not None
    assert closed.close() is False  # the app quit first
    assert gone(closed.pid) and await closed.read() is None


def child_setup(pid: int) -> tuple[int, int, int]:
    """The child's (nice, process group, session) once it has set itself up (its
    process group of its own comes last)."""
    deadline = time.monotonic() + 20
    while True:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        nice, pgrp, session = int(fields[16]), int(fields[2]), int(fields[3])
        if pgrp == pid or time.monotonic() > deadline:
            return nice, pgrp, session
        time.sleep(0.01)  # the poll's interval: the child needs the CPU to get there


@pytest.mark.parametrize("jobs", [0, 1])
def test_the_child_yields_to_the_app(
    silent_server: str, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    """The child runs in the app's session (one scheduling group) and in a process
    group of its own (the terminal's Ctrl-C and hang-up are the app's to handle); at
    the lowest priority if the registry has jobs (the app's cached first frame comes
    first), else at the app's (the page is the first thing to show)."""
    from tui.core.registry import Job, Registry

    point_at(monkeypatch, silent_server)
    if jobs:
        Registry().add(Job(description="cached", input_path="in.jsonl"))
    child = start(BatchClient(load_config().profile(), max_retries=0))
    assert child is not None
    try:
        nice, pgrp, session = child_setup(child.pid)
        assert (nice, pgrp, session) == (19 if jobs else os.nice(0), child.pid, os.getsid(0))
    finally:
        child.close()
    assert gone(child.pid)


async def test_a_child_forked_first_reads_the_profile_itself(
    server: LocalServer, client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``fork`` (what ``batchdeck`` does first) lists the config's profile; its page
    counts for a client of that profile only."""
    batch_id = submit(client, chat_lines(1)).id
    point_at(monkeypatch, server.base_url)
    profile = load_config().profile()
    same = first_page.fork(None)
    assert same is not None
    first_page.hand_over(same, BatchClient(profile, max_retries=0))
    content = await same.read()
    page = None if content is None else first_page.parse(content)
    assert page is not None and [b.id for b in page.batches] == [batch_id]
    other = first_page.fork(None)
    assert other is not None
    first_page.hand_over(other, BatchClient(Profile("other", base_url=server.base_url)))
    assert await other.read() is None  # a page, but of another profile
    assert gone(same.pid) and gone(other.pid)
    azure = first_page.fork(None)
    assert azure is not None
    first_page.hand_over(azure, BatchClient(Profile("a", provider="azure")))
    assert gone(azure.pid) and azure.done.is_set()  # no page for it: ended at once


async def test_the_sdk_loads_once_the_page_is_shown(
    server: LocalServer, client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    submit(client, chat_lines(1))
    point_at(monkeypatch, server.base_url)
    listing = BatchClient(load_config().profile(), max_retries=0)
    assert start(listing) is not None
    assert await first_page.take(listing) is not None
    waiting = asyncio.create_task(first_page.settled(listing))
    await asyncio.sleep(0)
    assert not waiting.done()  # the page is read, not yet painted
    first_page.shown(listing)
    await waiting
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-the-key")
    refused = BatchClient(load_config().profile(), max_retries=0)
    assert start(refused) is not None
    assert await first_page.take(refused) is None
    await first_page.settled(refused)  # no page: nothing to wait for


def test_batchdeck_forks_before_it_imports_anything_heavy() -> None:
    """Every module ``batchdeck`` imports before the fork delays the child's page."""
    script = (
        "import os, sys\n"
        "from tui.core import first_page\n"
        "def fork(name):\n"
        "    print(sorted(m for m in HEAVY if m in sys.modules), name, flush=True)\n"
        "    os._exit(0)\n"
        "first_page.fork = fork\n"
        "from tui.cli import main\n"
        "main(['--profile', 'p'])\n"
    )
    heavy = "HEAVY = ('argparse', 'asyncio', 'msgspec', 'openai', 'textual', 'tui.core.config')\n"
    done = subprocess.run(
        [sys.executable, "-c", heavy + script], capture_output=True, text=True, cwd=REPO
    )
    assert done.stdout == "[] p\n", done.stderr


def test_no_page_for_an_azure_or_anthropic_profile() -> None:
    assert first_page.eligible(Profile("p"))
    assert not first_page.eligible(Profile("a", provider="azure"))
    assert not first_page.eligible(Profile("c", provider="anthropic"))


def marked(marker: str) -> list[int]:
    """The processes whose environment holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
    return found


def children_of(pid: int) -> list[str]:
    """The state letters of ``pid``'s children (``Z``: a zombie)."""
    states = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, IndexError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if entry.name.isdigit() and int(fields[1]) == pid:
                states.append(fields[0])
    return states


def exit_code(app: subprocess.Popen[bytes], master: int) -> int:
    """Wait (bounded) for ``app`` to exit, reading what it draws meanwhile (a full pty
    would block it)."""
    deadline = time.monotonic() + EXIT_WAIT
    while app.poll() is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"still running {EXIT_WAIT:g} s after q")
        if select.select([master], [], [], 0.1)[0]:
            with contextlib.suppress(OSError):  # EIO once the app has closed the pty
                os.read(master, 65536)
    return app.returncode


AZURE = """[settings]
profile = "azure"
[profiles.azure]
provider = "azure"
azure_endpoint = "{url}"
api_version = "2024-10-21"
api_key_env = "OPENAI_API_KEY"
"""


@pytest.mark.parametrize("case", ["page", "silent server", "azure"])
def test_the_app_leaves_no_process_behind(
    server: LocalServer,
    client: openai.OpenAI,
    silent_server: str,
    tmp_path: Path,
    case: str,
) -> None:
    """``batchdeck`` in a pty: with the page on screen its child is already reaped;
    quitting before a silent server answered ends the child too; a profile whose
    page is not prefetched gets no child."""
    batch_id = submit(client, chat_lines(1)).id
    marker = f"BATCHDECK_TEST_MARK={uuid.uuid4().hex}"
    env = env_for(server, tmp_path)
    env["TERM"] = "xterm-256color"
    env[marker.split("=")[0]] = marker.split("=")[1]
    if case == "silent server":
        env["OPENAI_BASE_URL"] = silent_server
    if case == "azure":
        config = Path(env["BATCHDECK_CONFIG_DIR"]) / "config.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(AZURE.format(url=server.url), encoding="utf-8")
    master, slave = open_pty()
    app = subprocess.Popen(
        [sys.executable, "-m", "tui.cli"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=REPO,
        start_new_session=True,
    )
    os.close(slave)
    try:
        if case == "page":
            read_until(master, batch_id[-12:].encode())  # the page is on screen
            assert "Z" not in children_of(app.pid)
            assert marked(marker) == [app.pid]  # the child has ended
        else:
            read_until(master, b"\x1b[?1049h")  # the app is up
            assert "Z" not in children_of(app.pid)
            # a silent server's child still waits; the Azure profile has none
            assert len(marked(marker)) == (2 if case == "silent server" else 1)
        os.write(master, b"q")
        assert exit_code(app, master) == 0
        assert marked(marker) == []
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
        os.close(master)
