"""A job group in the batches list: its parts fold into one row (summed progress,
one status, the group's description) that ``+`` or Enter expands to its parts and
``+`` folds again; with a status filter the matching parts show one by one."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ui.batches_support import batches_screen, build_app, loaded, seed, wait_for
from tui.core.registry import Job, Registry
from tui.localapi.server import LocalServer
from tui.screens.batches import BatchesScreen
from tui.widgets.batch_groups import FOLDED, OPEN

GROUP = "grp-0123456789ab"
LABEL = "Catalogue \x1b[2J[b]Q&A[/b]"  # shown literally


def shown_ids(screen: Any) -> list[str]:
    table = screen.table
    return [table.get_row_at(i)[0].batch_id for i in range(table.row_count)]


def cell(screen: Any, batch_id: str, column: int) -> str:
    return str(screen.table.get_row(batch_id)[column])


async def test_a_job_group_is_one_row_that_expands_to_its_parts(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed(server, final=3, active=2)  # newest first: 2 validating, 3 completed
    parts, others = ids[1:4], [ids[0], ids[4]]  # one validating and two completed parts
    registry = Registry(durable=False)
    for number, batch_id in enumerate(reversed(parts), start=1):
        queue = {"order": number - 1, "parts": 4, "tokens": 10, "model": "gpt-4o-mini"}
        registry.add(
            Job(
                batch_id=batch_id,
                description=f"{LABEL} (part {number}/4)",
                group_id=GROUP,
                submission={"state": "created", "queue": queue},
            )
        )
    app = build_app(server, monkeypatch, registry)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        screen = batches_screen(pilot)
        await wait_for(pilot, lambda: len(shown_ids(screen)) == 3)
        (lead,) = [b for b in shown_ids(screen) if b in parts]
        assert set(shown_ids(screen)) == {lead, *others}
        assert cell(screen, lead, 0) == f"{FOLDED} …23456789ab"
        description = cell(screen, lead, 1)
        assert description.startswith("2/4 parts · Catalogue \\x1b[2J[b]Q&A[/b]")
        assert cell(screen, lead, 2) == "validating"  # the least advanced part
        assert cell(screen, lead, 3).endswith(" 4/4")  # 2+2 answered; the validating one has 0
        screen.table.move_cursor(row=screen.table.get_row_index(lead))
        screen.table.focus()
        await pilot.press("enter")  # on a folded group: expands, opens nothing
        await wait_for(pilot, lambda: len(shown_ids(screen)) == 5)
        assert isinstance(app.screen, BatchesScreen)
        assert cell(screen, lead, 0).startswith(OPEN) and "(part" in cell(screen, lead, 1)
        assert set(shown_ids(screen)) == set(ids)
        screen.table.move_cursor(
            row=screen.table.get_row_index(next(p for p in parts if p != lead))
        )
        await pilot.press("plus")  # on a part: folds its group, the cursor on its row
        await wait_for(pilot, lambda: len(shown_ids(screen)) == 3)
        assert screen.table.selected_id() == lead
        await pilot.press("s")  # a status filter: matching parts one by one
        await wait_for(pilot, lambda: screen.table.status_filter != "all")
        await wait_for(pilot, lambda: not screen.table.loading_rows)
        shown = shown_ids(screen)
        assert all(not cell(screen, b, 0).startswith((FOLDED, OPEN)) for b in shown)


async def test_parts_recorded_while_the_list_is_up_fold_into_their_group(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed(server, final=3)
    registry = Registry(durable=False)
    app = build_app(server, monkeypatch, registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        screen = batches_screen(pilot)
        assert len(shown_ids(screen)) == 3
        for number, batch_id in enumerate(ids[:2], start=1):  # as the queue runner sends
            registry.add(
                Job(batch_id=batch_id, description=f"Parts (part {number}/2)", group_id=GROUP)
            )
        screen.action_refresh()
        await wait_for(pilot, lambda: len(shown_ids(screen)) == 2)
        (lead,) = [b for b in shown_ids(screen) if b in ids[:2]]
        assert cell(screen, lead, 0).startswith(FOLDED)
        assert cell(screen, lead, 1).startswith("2/2 parts · Parts")
        assert cell(screen, lead, 2) == "completed"
