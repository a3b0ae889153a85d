"""Every test runs with private config and data dirs and no OpenAI environment,
so nothing reads or writes the real user's files or reaches a real account."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BATCHDECK_CONFIG_DIR", str(tmp_path / "bd-config"))
    monkeypatch.setenv("BATCHDECK_DATA_DIR", str(tmp_path / "bd-data"))
