"""Modes under a permissive umask: a whole session (submit, watch, downloads, results
export, registry ops, config and prices, compose, a retry file) against the embedded
server, then a walk of the config and data dirs: every directory 0700, every file
0600. The one exception, the user's export (``results --export``), follows the umask.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api._cli import run
from tests.api.conftest import API_KEY, FAST, chat_lines, jsonl
from tests.reliability.conftest import Figures
from tui.core import paths
from tui.core.registry import Registry
from tui.localapi.server import LocalServer

Capsys = pytest.CaptureFixture[str]
UMASK = 0o022


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    """The embedded server (its own data outside batchdeck's dirs); the default
    profile points at it."""
    server = LocalServer(
        tmp_path / "server", api_key=API_KEY, timing=FAST, durable=False, time_scale=100_000
    )
    server.start()
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    yield server
    server.stop()


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def audit(*roots: Path) -> tuple[int, list[str]]:
    """How many paths were checked under ``roots`` (included), and those not 0700
    (directories) or 0600 (files), as ``mode path`` lines."""
    checked, bad = 0, []
    for root in roots:
        for path in (root, *sorted(root.rglob("*"))):
            found = path.lstat().st_mode
            wanted = 0o700 if stat.S_ISDIR(found) else 0o600
            checked += 1
            if stat.S_IMODE(found) != wanted:
                bad.append(f"{oct(stat.S_IMODE(found))} {path}")
    return checked, bad


def ok(capsys: Capsys, *argv: str) -> str:
    ran = run(capsys, *argv)
    assert ran.code == 0, (argv, ran.err)
    return ran.out


def app_downloads(batch_id: str) -> None:
    """What the app does: a batch's files in their one place (results/<batch>/) and the
    inspector's input lines. (The files screen saves into a folder the user picks.)"""
    from tui.commands import _shared
    from tui.core.downloads import (
        batch_file_path,
        record_download,
    )

    async def go() -> None:
        _, profile = _shared.resolve_profile(None)
        client = _shared.make_client(profile)
        registry = _shared.open_registry()
        try:
            batch = await client.retrieve_batch(batch_id)
            assert batch.output_file_id and batch.error_file_id
            for kind, file_id in (("output", batch.output_file_id), ("error", batch.error_file_id)):
                info = await client.retrieve_file(file_id)
                target = batch_file_path(batch.id, kind)
                await client.download_file(file_id, target, info=info)
                record_download(registry, batch, kind, target, profile=profile.name)
            await client.download_file(batch.input_file_id, batch_file_path(batch.id, "input"))
        finally:
            await client.close()

    asyncio.run(go())


def local_writes(batch_id: str) -> None:
    """Config, prices, a compose output in the data dir and a retry file."""
    from tui.core.compose import write_requests
    from tui.core.config import load_config, save_config
    from tui.core.pricing import Price, save_price
    from tui.core.results import ResultIndex, load_local, retry_path, write_retry_file

    save_config(load_config())
    save_price("gpt-4o-mini", Price(input=0.15, output=0.6))
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    write_requests(
        paths.data_dir() / "compose" / "requests.jsonl", "/v1/chat/completions", [("a", body)]
    )
    local = load_local(batch_id)
    assert local is not None
    index = ResultIndex([local.attempt(0)]).build_all()
    write_retry_file(index, retry_path(batch_id))


def test_every_file_and_directory_is_private_but_the_export(
    server: LocalServer,
    permissive_umask: None,
    tmp_path: Path,
    capsys: Capsys,
    figures: Figures,
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    source = work / "requests.jsonl"
    source.write_bytes(jsonl(chat_lines(6, fail_every=3)))

    (line,) = ok(capsys, "submit", str(source)).splitlines()
    batch_id = line.split()[0]
    run(capsys, "watch", batch_id, "--interval", "0.01s", "--timeout", "60s")  # 1: failures
    ok(capsys, "download", batch_id, "--output", str(work / "got" / "output.jsonl"))
    app_downloads(batch_id)
    export = work / "rows.csv"
    ok(capsys, "results", batch_id, "--export", str(export))
    ok(capsys, "registry", "describe", batch_id, "checked modes")
    ok(capsys, "registry", "tag", batch_id, "+modes")
    ok(capsys, "registry", "ls")
    ok(capsys, "reconcile")
    local_writes(batch_id)
    job = Registry().find_by_batch(batch_id)
    assert job is not None and job.description == "checked modes" and "modes" in job.tags

    config, data = paths.config_dir(), paths.data_dir()
    for expected in (paths.registry_dir(), data / "results"):
        assert expected.is_dir()
    checked, bad = audit(config, data, work / "got")
    ok(capsys, "registry", "forget", job.job_id, "--yes")  # rewrites the registry's cache
    checked_after, bad_after = audit(config)
    checked, bad = checked + checked_after, bad + bad_after
    assert bad == [], "\n".join(bad)
    assert mode(export) == 0o666 & ~UMASK  # the user's export follows the umask
    assert mode(source) == 0o644  # and the user's own files are left alone
    wrong = len(bad)
    figures("files checked", checked)
    figures("wrong modes", wrong)
