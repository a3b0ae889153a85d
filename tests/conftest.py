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


# The reliability suite's figures (tests/reliability/conftest.py records them): each
# travels with its test's report, from xdist workers too, and all print at the end.
FIGURE_KEY = "reliability-figure"
_figures: list[tuple[str, str, object]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call":
        return
    for key, value in report.user_properties:
        if key == FIGURE_KEY:
            name, figure = value  # type: ignore[misc]
            _figures.append((report.nodeid.rsplit("::", 1)[-1], name, figure))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _figures:
        return
    terminalreporter.section("reliability figures")
    for test, name, figure in sorted(_figures, key=lambda row: (row[1], row[0])):
        terminalreporter.line(f"{name:>34}: {figure}   ({test})")
