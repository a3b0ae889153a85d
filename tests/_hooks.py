"""A hook command for the notification tests: it writes its argv and its
``BATCHDECK_*`` environment to a new JSON file per run."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

# Writes its argv and the BATCHDECK_* environment to one new file per run.
RECORDER = """
import json, os, sys, uuid
from pathlib import Path
out = Path(sys.argv[1])
facts = {k: v for k, v in os.environ.items() if k.startswith("BATCHDECK_")}
(out / uuid.uuid4().hex).write_text(json.dumps({"argv": sys.argv[1:], "env": facts}))
"""


def recorder(tmp_path: Path) -> tuple[Path, str]:
    """A hook command line (as config.toml holds it) and the folder it writes to."""
    script = tmp_path / "record.py"
    script.write_text(RECORDER)
    out = tmp_path / "runs"
    out.mkdir()
    return out, shlex.join([sys.executable, str(script), str(out), "--flag"])


def runs(out: Path) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(out.iterdir())]


def hooks_config(tmp_path: Path, command: str, extra: str = "") -> Path:
    """Write ``[hooks] on_final = command`` (and ``extra`` lines) to the test's
    config.toml (the ``isolated_dirs`` fixture's ``BATCHDECK_CONFIG_DIR``)."""
    path = tmp_path / "bd-config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"[hooks]\non_final = {json.dumps(command)}\n{extra}")
    return path
