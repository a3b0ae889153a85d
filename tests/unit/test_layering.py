"""tui.core never imports Textual, and start-up modules do not pull in heavy ones."""

from __future__ import annotations

import subprocess
import sys

CORE_MODULES = [
    "tui.core.paths",
    "tui.core.fsutil",
    "tui.core.config",
    "tui.core.models",
    "tui.core.errors",
    "tui.core.text",
    "tui.core.timefmt",
    "tui.core.registry",
    "tui.core.requests",
    "tui.core.client",
    "tui.core.journal",
    "tui.core.pricing",
]


def _loaded_after(imports: str) -> set[str]:
    code = f"import sys\n{imports}\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_core_imports_no_textual() -> None:
    loaded = _loaded_after("\n".join(f"import {name}" for name in CORE_MODULES))
    assert "tui.core.client" in loaded  # the import really happened
    assert not {m for m in loaded if m == "textual" or m.startswith("textual.")}
    assert "rich" not in loaded


def test_client_imports_openai_lazily() -> None:
    loaded = _loaded_after("import tui.core.client")
    assert "openai" not in loaded


def test_cli_imports_neither_textual_nor_openai() -> None:
    loaded = _loaded_after("import tui.cli")
    assert "textual" not in loaded
    assert "openai" not in loaded
