"""The wheel carries the stylesheets, and the app finds them from a wheel install
and from the editable install the tests run in."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("batchdeck-*.whl")
    return built


def test_wheel_holds_styles_and_entry_point(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.name for p in (ROOT / "styles").glob("*.tcss")}
    assert shipped, "no stylesheets in styles/"
    for name in shipped:
        assert f"tui/styles/{name}" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "batchdeck = tui.cli:main" in text


def test_styles_found_from_unpacked_wheel(wheel: Path, tmp_path: Path) -> None:
    zipfile.ZipFile(wheel).extractall(tmp_path)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import tui.app; print(tui.app.__file__); print(tui.app.styles_dir())"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout.split()
    assert out[0].startswith(str(tmp_path))
    assert out[1] == str(tmp_path / "tui" / "styles")


def test_styles_found_from_editable_install() -> None:
    from tui.app import styles_dir

    assert styles_dir() in (ROOT / "styles", ROOT / "tui" / "styles")
    assert (styles_dir() / "app.tcss").is_file()
