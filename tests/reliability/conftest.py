"""The reliability suite: kills, concurrent writers, hostile input and secret leaks.

Each test reports what it tried and what it found through the ``figures`` fixture
(``figures("kills survived", 52)``); the figures travel with the test report (also
from xdist workers) and are printed as one table at the end of the run.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import FIGURE_KEY

Figures = Callable[[str, object], None]


@pytest.fixture
def figures(
    record_property: Callable[[str, object], None], request: pytest.FixtureRequest
) -> Figures:
    """Record one figure of this test: ``figures("writes lost", 0)``."""

    def record(name: str, value: object) -> None:
        record_property(FIGURE_KEY, (name, value))

    return record
