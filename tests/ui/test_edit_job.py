"""The Describe dialog writes back only what the user changed: a tag added by the
CLI while the dialog was open survives a description edit."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from tests.ui import test_batch_detail_support as support
from tests.ui.test_batch_detail_support import build_app, completed_batch, settle, text_of, until
from tui.core.registry import Job, Registry
from tui.dialogs.edit_job import EditJobDialog, JobEdit
from tui.localapi.server import LocalServer
from tui.screens.batch_detail import BatchDetailScreen

server = support.server  # the shared pinned-clock server fixture


async def test_a_tag_added_meanwhile_survives_a_description_edit(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = completed_batch(server)
    Registry().add(Job(job_id="job_edit", batch_id=batch_id, description="old", tags=("a",)))
    app = build_app(server, monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = BatchDetailScreen(batch_id)
        await pilot.app.push_screen(screen)
        await until(pilot, lambda: screen.is_live)
        await settle(pilot)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(pilot.app.screen, EditJobDialog))
        Registry().update("job_edit", tags=("a", "from-cli"))  # `batchdeck registry tag`
        pilot.app.screen.query_one("#edit-description", Input).value = "new description"
        await pilot.press("enter")
        await until(pilot, lambda: "new description" in text_of(screen, "#detail-head"))
    job = Registry().get("job_edit")
    assert job is not None
    assert (job.description, job.tags) == ("new description", ("a", "from-cli"))


def test_an_edit_applies_only_its_changes() -> None:
    stored = Job(job_id="j", description="theirs", tags=("a", "b", "cli"))
    edit = JobEdit("old", ("b", "new"), old_description="old", old_tags=("a", "b"))
    assert edit.apply(stored).description == "theirs"  # description untouched
    assert edit.apply(stored).tags == ("b", "cli", "new")  # a removed, new added
    assert JobEdit("x", ("a",), "x", ("a",)).apply(stored) is stored
