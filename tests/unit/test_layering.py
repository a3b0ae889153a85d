"""The layers, proven for every module rather than for a list of them.

- tui/core and tui/localapi never load Textual or Rich: every module of both is
  found on disk, all are imported in a fresh interpreter, and sys.modules is read.
- The arrows of ARCHITECTURE.md, read from each file's syntax tree (imports inside
  functions included): nothing in core or the UI (screens, widgets, dialogs) imports
  tui.localapi; the UI never imports tui.app (tui.deck is its way to the app); localapi
  imports no UI.
- Start-up modules do not pull in heavy ones (the client, the CLI).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

TUI = Path(__file__).resolve().parents[2] / "tui"
UI_FREE = ("core", "localapi")  # packages that must load neither textual nor rich
UI_PACKAGES = ("screens", "widgets", "dialogs")


def _modules(package: str) -> list[str]:
    """Every module of ``tui.<package>`` found on disk, subpackages included."""
    root = TUI / package
    names = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(TUI.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


def _loaded_after(imports: str) -> set[str]:
    code = f"import sys\n{imports}\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def _imported_names(path: Path) -> set[str]:
    """Modules ``path`` imports anywhere in it (``from a import b`` counts as ``a.b`` too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _imports(path: Path, module: str) -> bool:
    """Whether ``path`` imports ``module`` or anything inside it."""
    return any(name == module or name.startswith(f"{module}.") for name in _imported_names(path))


def _imports_localapi(path: Path) -> bool:
    return _imports(path, "tui.localapi")


FORBIDDEN = [
    *((package, "tui.localapi") for package in ("core", *UI_PACKAGES)),
    *((package, "tui.app") for package in UI_PACKAGES),
    *(("localapi", f"tui.{ui}") for ui in ("app", *UI_PACKAGES)),
]


def test_every_core_and_localapi_module_is_found() -> None:
    found = {name for package in UI_FREE for name in _modules(package)}
    # A few known modules, subpackages included, so a broken discovery cannot pass quietly.
    assert {"tui.core", "tui.core.results.index", "tui.localapi.server"} <= found
    assert len(found) > 30


def test_core_and_localapi_load_neither_textual_nor_rich() -> None:
    modules = [name for package in UI_FREE for name in _modules(package)]
    loaded = _loaded_after("\n".join(f"import {name}" for name in modules))
    assert set(modules) <= loaded  # every import really happened
    heavy = sorted(m for m in loaded if m.split(".")[0] in ("textual", "rich"))
    assert heavy == []


@pytest.mark.parametrize(("package", "module"), FORBIDDEN)
def test_no_forbidden_imports(package: str, module: str) -> None:
    files = sorted((TUI / package).rglob("*.py"))
    assert files
    offenders = [str(path.relative_to(TUI.parent)) for path in files if _imports(path, module)]
    assert offenders == []


def test_the_localapi_import_check_sees_every_form(tmp_path: Path) -> None:
    forms = [
        "import tui.localapi",
        "import tui.localapi.server as s",
        "from tui.localapi import echo",
        "from tui.localapi.server import LocalServer",
        "from tui import localapi",
        "def f():\n    from tui.localapi import echo",
    ]
    for number, form in enumerate(forms):
        path = tmp_path / f"m{number}.py"
        path.write_text(form + "\n")
        assert _imports_localapi(path), form
    clean = tmp_path / "clean.py"
    clean.write_text("import tui.core.results\nfrom tui.core import localapi_help\n")
    assert not _imports_localapi(clean)


def test_client_imports_openai_lazily() -> None:
    loaded = _loaded_after("import tui.core.client")
    assert "openai" not in loaded


def test_cli_imports_neither_textual_nor_openai() -> None:
    loaded = _loaded_after("import tui.cli")
    assert "textual" not in loaded
    assert "openai" not in loaded
