"""``tui.core.results`` re-exports its public names, each loaded when first used."""

from __future__ import annotations

import subprocess
import sys

import tui.core.results as results


def test_every_public_name_resolves_from_its_module() -> None:
    assert sorted(results.__all__) == sorted(results._HOMES)
    for name in results.__all__:
        value = getattr(results, name)
        module = sys.modules[f"tui.core.results.{results._HOMES[name]}"]
        assert value is getattr(module, name)


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        results.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("an unknown name resolved")


def test_the_index_alone_loads_neither_the_export_nor_the_store() -> None:
    code = (
        "import sys\n"
        "from tui.core.results import Attempt, ResultIndex\n"
        "print(sorted(m for m in sys.modules if m.startswith('tui.core.results.')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "tui.core.results.index" in out
    for heavy in ("exporting", "store", "sources"):
        assert f"tui.core.results.{heavy}'" not in out
