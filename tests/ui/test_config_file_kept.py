"""The app's own edits of ``config.toml`` (T: next theme, b: bell) change only those
values: the user's comments, blank lines, key order and inline tables stay."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ui.batches_support import KEY_ENV, build_app
from tests.ui.conftest import until
from tui.core.config import load_config
from tui.localapi.server import LocalServer

USER_CONFIG = """\
# batchdeck: the test server (keep this comment)

[profiles]
test = {{ base_url = "{url}", api_key_env = "{key_env}" }}  # inline

[settings]
bell = false   # quiet nights
theme = 'textual-dark'
"""


async def test_theme_and_bell_keep_every_other_byte(
    tmp_path: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.toml"
    original = USER_CONFIG.format(url=server.base_url, key_env=KEY_ENV)
    path.write_text(original)
    app = build_app(server, monkeypatch, config=load_config(path))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("T")
        await until(pilot, lambda: "textual-dark" not in path.read_text())
        chosen = app.theme
        await pilot.press("b")
        await until(pilot, lambda: "bell = true" in path.read_text())
    expected = original.replace("'textual-dark'", f'"{chosen}"').replace(
        "bell = false", "bell = true"
    )
    assert path.read_text() == expected


async def test_a_file_broken_meanwhile_is_reported_and_left_alone(
    tmp_path: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(USER_CONFIG.format(url=server.base_url, key_env=KEY_ENV))
    app = build_app(server, monkeypatch, config=load_config(path))
    async with app.run_test(size=(80, 24)) as pilot:
        path.write_text("[settings\n")  # the user is half-way through an edit
        await pilot.press("T")
        await until(pilot, lambda: any("Could not save" in n.message for n in app._notifications))
        assert app.is_running
    assert path.read_text() == "[settings\n"
