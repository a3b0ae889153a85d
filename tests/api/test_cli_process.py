"""Headless commands in fresh interpreters: real exit codes, and Textual never imported."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import openai

from tests.api._cli import REPO, env_for, run_child
from tests.api.conftest import chat_lines, submit, wait_for
from tui.localapi.server import LocalServer

PROBE = textwrap.dedent(
    """
    import json, sys
    from tui.cli import main
    codes = [main(argv) for argv in json.loads(sys.argv[1])]
    heavy = sorted({m.split(".")[0] for m in sys.modules} & {"textual", "rich", "textual_serve"})
    print(json.dumps({"codes": codes, "heavy": heavy}), file=sys.stderr)
    """
)


def test_headless_commands_never_import_textual(
    server: LocalServer, client: openai.OpenAI, tmp_path: Path
) -> None:
    batch = wait_for(client, submit(client, chat_lines(2)).id)
    commands = [
        ["ls", "--json"],
        ["ls"],
        ["show", batch.id],
        ["watch", batch.id, "--interval", "0.01s"],
        ["download", batch.id, "-o", "-"],
        ["files", "ls"],
        ["registry", "ls"],
        ["reconcile"],
    ]
    child = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(commands)],
        env=env_for(server, tmp_path),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    report = json.loads(child.stderr.strip().splitlines()[-1])
    assert report == {"codes": [0] * len(commands), "heavy": []}


def test_exit_codes_from_a_real_process(server: LocalServer, tmp_path: Path) -> None:
    unknown = run_child(server, tmp_path, "show", "batch_nope")
    assert unknown.returncode == 1
    assert unknown.stderr == (
        "batchdeck: unknown batch 'batch_nope' "
        "(Not found: No batch found with id 'batch_nope'. (param: batch_id))\n"
    )
    bad = run_child(server, tmp_path, "watch", "--interval", "1s")
    assert bad.returncode == 2 and "usage: batchdeck watch" in bad.stderr
    assert "Traceback" not in unknown.stderr + bad.stderr
