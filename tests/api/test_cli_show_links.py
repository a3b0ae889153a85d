"""``batchdeck show`` names the retry links both ways (tui.core.results.retry_links)."""

from __future__ import annotations

import pytest

from tests.api._cli import run
from tests.api.test_cli_ls_show import two_batches  # noqa: F401 (the fixture)
from tui.core.registry import Job, Registry


def test_show_names_the_retry_links_both_ways(
    two_batches: tuple[str, str],  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    done, waiting = two_batches
    Registry().add(Job(batch_id=waiting, retry_of=done))
    parent = run(capsys, "show", done)
    assert parent.code == 0, parent.err
    assert f"Retries:      retried by {waiting}" in parent.out
    child = run(capsys, "show", waiting, "--json").json_lines()[0]
    assert child["retry_of"] == done and child["retried_by"] == []
    assert f"Retries:      retry of {done}" in run(capsys, "show", waiting).out
