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


def _modules_after(imports: str) -> list[str]:
    """The modules a fresh interpreter has loaded after running ``imports``."""
    code = f"import sys\n{imports}\nprint(*sorted(sys.modules))\n"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return run.stdout.split()


def test_the_index_alone_loads_neither_the_export_nor_the_store() -> None:
    loaded = _modules_after("from tui.core.results import Attempt, ResultIndex")
    assert "tui.core.results.index" in loaded
    for heavy in ("exporting", "store", "sources"):
        assert f"tui.core.results.{heavy}" not in loaded


def test_the_index_loads_neither_typing_extensions_nor_the_descriptions() -> None:
    """Start-up of a headless index: msgspec takes ``get_type_hints`` from ``typing``
    (the same function on 3.11+), and ``describe``/``text``/``json`` wait for an odd line."""
    loaded = _modules_after(
        "from tui.core.results import Attempt, ResultIndex\nimport tui.core.results.index"
    )
    for lazy in ("typing_extensions", "inspect", "json", "pathlib", "tui.core.results.describe"):
        assert lazy not in loaded
    assert "tui.core.text" not in loaded


def test_msgspec_imported_without_typing_extensions_still_reads_typed_dicts() -> None:
    code = (
        "import sys\n"
        "import tui.core.results\n"
        "from typing import NotRequired, TypedDict\n"
        "import msgspec\n"
        "class Line(TypedDict):\n"
        "    custom_id: str\n"
        "    note: NotRequired[str]\n"
        'print(msgspec.json.decode(b\'{"custom_id": "a"}\', type=Line))\n'
        "try:\n"
        "    msgspec.json.decode(b'{}', type=Line)\n"
        "except msgspec.ValidationError as exc:\n"
        "    print(exc)\n"
        "import typing_extensions\n"  # still importable afterwards
        "print(typing_extensions.__name__, 'typing_extensions' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines() == [
        "{'custom_id': 'a'}",
        "Object missing required field `custom_id`",
        "typing_extensions True",
    ]
