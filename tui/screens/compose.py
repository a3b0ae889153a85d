"""The compose screen: build a batch from a template and rows, check it, estimate it,
save it, submit it.

Tabs, left to right, follow the work:

- Request: endpoint, model and body (:class:`~tui.widgets.body_form.BodyFormPanel`).
- Source: where requests come from: rows of a data file applied to the template, an
  existing batch JSONL file (checked and sent as it is), or requests added one by one;
  and the ``custom_id`` pattern (``row-{index}``, ``{column}``...).
- Preview: the first requests exactly as they will be sent.
- Check: the full validation report, each problem jumping to its line, and the
  estimate (tokens, worst-case output, cost with and without the Batch discount).
- Submit: where the JSONL is saved, description, metadata, output expiry, split.

F5 checks (builds the file, validates and estimates it), F8 previews, F2 saves, F9
submits. F6 keeps the fields as a named template, F7 opens a template or the last
draft (:mod:`tui.core.drafts`); leaving with changes asks whether to keep them as the
last draft. The screen opens with its first field focused.

On an Anthropic profile the same fields build ``{custom_id, params}`` lines
(:mod:`tui.core.anthropic_compose`: max tokens required, the system message as
``system``), checked with Anthropic's rules, priced, and sent as one message batch
through the Anthropic journal.

The steps are :mod:`tui.core.submission`'s; this screen reads the widgets, runs each
step in a worker (blocking ones in a thread) and paints what the workers post back.
Nothing blocks the screen, and every failure is a message on the status line and a
notification.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import (
    Button,
    Checkbox,
    Footer,
    Input,
    Label,
    Select,
    Static,
    TabbedContent,
    TabPane,
    TextArea,
)

from tui.core import drafts, submission
from tui.core.anthropic_compose import check_anthropic, preview_anthropic
from tui.core.anthropic_journal import journal_for
from tui.core.compose import columns_of
from tui.core.drafts import Draft
from tui.core.errors import BatchdeckError
from tui.core.journal import Journal, SubmitError
from tui.core.results import record_compose_source
from tui.core.submission import (
    CheckedFile,
    ComposeInputs,
    PartialSubmitError,
    SubmitOptions,
    check_inputs,
    default_output,
    not_sent_message,
    preview_lines,
    save_inputs,
    send_plan,
    submit_options,
)
from tui.core.text import one_line, printable
from tui.deck import styles_dir
from tui.screens import compose_fields, compose_templates
from tui.screens.base import DeckScreen, reason
from tui.screens.compose_anthropic import submit_anthropic
from tui.screens.compose_fields import read_draft
from tui.widgets.body_form import BodyFormPanel
from tui.widgets.estimate_view import EstimateView
from tui.widgets.header import DeckHeader
from tui.widgets.request_list import RequestList
from tui.widgets.transfer import TransferProgress
from tui.widgets.validation_panel import ValidationPanel

if TYPE_CHECKING:
    from tui.core.registry import Job

logger = logging.getLogger(__name__)

SOURCES = (
    ("Rows of a CSV, TSV, JSONL or text file + the template", "rows"),
    ("An existing batch JSONL file", "jsonl"),
    ("Requests added one by one", "manual"),
)
TABS = ("tab-request", "tab-source", "tab-preview", "tab-check", "tab-submit")


class ComposeScreen(DeckScreen):
    """Compose, check, estimate, save and submit a batch."""

    CSS_PATH = str(styles_dir() / "compose.tcss")
    PALETTE_GROUP = "Compose"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f5", "check", "Check", id="compose.check", tooltip="Build, validate, estimate"),
        Binding("f8", "preview", "Preview", id="compose.preview", tooltip="Preview requests"),
        Binding("f2", "save", "Save", id="compose.save", tooltip="Save the JSONL, not sent"),
        Binding("f9", "submit", "Submit", id="compose.submit", tooltip="Upload and create"),
        Binding("f4", "next_tab", "Next tab", id="compose.next_tab"),
        Binding("shift+f4", "previous_tab", "Previous tab", id="compose.prev_tab", show=False),
        Binding("escape", "back", "Back", id="compose.back", tooltip="Back to the batches"),
        Binding("q", "quit", "Quit", id="compose.quit", tooltip="Quit (asks about changes)"),
        Binding(
            "f6",
            "save_template",
            "Template",
            id="compose.save_template",
            tooltip="Save the fields as a named template",
        ),
        Binding(
            "f7",
            "open_draft",
            "Open",
            id="compose.open_draft",
            tooltip="Open a template or the last draft",
        ),
    ]

    # What the workers hand back; handled (painted) only while the screen is mounted.
    @dataclass
    class Said(Message, bubble=False):
        """A status line; an ``error`` is also a notification."""

        text: str
        error: bool = False

    @dataclass
    class Previewed(Message, bubble=False):
        """The first request lines, as they will be sent."""

        lines: list[Any]

    @dataclass
    class Checked(Message, bubble=False):
        """A check (``saved``: and save) ended with ``result``, or ``problem`` if none."""

        result: CheckedFile | None
        problem: str = ""
        saved: bool = False

    @dataclass
    class Uploading(Message, bubble=False):
        """``sent`` bytes of ``size`` of the ``part`` (0-based) called ``label``."""

        part: int
        label: str
        sent: int
        size: int | None

    @dataclass
    class SubmitEnded(Message, bubble=False):
        """A submit is over: ``jobs`` sent (maybe only some parts), ``problem`` why not
        all; ``declined``: the user said no."""

        jobs: list[Job]
        problem: str = ""
        declined: bool = False

    def __init__(self) -> None:
        super().__init__()
        self.checked: CheckedFile | None = None
        self.checks = 0  # finished checks (tests wait on it)
        self.submitted: list[Job] = []
        self.busy = False
        self._editing: str | None = None
        self._upload_part = -1  # the part whose upload the progress bar shows
        self._saved_draft = Draft()  # the fields as last kept (opened, saved); set on mount

    # -- layout ---------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield DeckHeader()
        yield Static("", id="compose-status")
        with TabbedContent(id="compose-tabs", initial="tab-request"):
            with TabPane("Request", id="tab-request"), VerticalScroll():
                yield BodyFormPanel(id="compose-body")
            with TabPane("Source", id="tab-source"), VerticalScroll():
                yield Select(SOURCES, value="rows", allow_blank=False, id="source-kind")
                with Vertical(id="source-rows"):
                    yield Label("Data file: its rows fill the {column} placeholders")
                    yield Input(placeholder="rows.csv, rows.jsonl, lines.txt", id="rows-path")
                    yield Static("", id="rows-columns")
                    yield Label("custom_id: {column} takes a column, {index} numbers the rows")
                    with Horizontal(classes="buttons"):
                        yield Input("row-{index}", id="id-pattern")
                        yield Select[str]([], prompt="or take it from a column", id="id-column")
                with Vertical(id="source-jsonl", classes="-hidden"):
                    yield Label("Batch input file (JSONL) to check and send as it is")
                    yield Input(placeholder="requests.jsonl", id="jsonl-path")
                with Vertical(id="source-manual", classes="-hidden"):
                    yield Label("The Request tab's body is added as it is (no placeholders)")
                    with Horizontal(classes="buttons"):
                        yield Input(placeholder="custom_id", id="manual-id")
                        yield Button("Add / update", id="manual-add", variant="primary")
                        yield Button("Edit selected", id="manual-edit")
                        yield Button("Remove", id="manual-remove")
                    yield RequestList(id="manual-list")
            with TabPane("Preview", id="tab-preview"), VerticalScroll():
                yield Static("F8 shows the first requests as they will be sent.", id="preview")
            with TabPane("Check", id="tab-check"), Vertical():
                yield ValidationPanel(id="validation")
                yield EstimateView(id="estimate")
            with TabPane("Submit", id="tab-submit"), VerticalScroll():
                yield Label("Save to (JSONL; blank: beside the data file)")
                yield Input(placeholder="<data file>.batch.jsonl", id="output-path")
                yield Label("Description (kept in the local registry)")
                yield Input(placeholder="what this batch is for", id="description")
                yield Label("Metadata: key=value, one per line (at most 15 pairs)")
                yield TextArea(id="metadata")
                yield Label("Output expiry: 1h to 30d (blank: the API's default)")
                yield Input(placeholder="e.g. 7d", id="expiry")
                yield Label("Completion window (the ones this profile's provider offers)")
                yield compose_fields.window_select(compose_fields.app_profile(self))
                yield Checkbox(
                    "Split files over the limits into several batches (one job group)",
                    id="split",
                )
                with Horizontal(classes="buttons"):
                    yield Button("Save JSONL (F2)", id="save")
                    yield Button("Submit (F9)", id="submit", variant="success")
                yield TransferProgress(id="compose-transfer")
        yield Footer()

    def on_mount(self) -> None:
        if self.anthropic:
            compose_fields.anthropic_defaults(self)
        self._saved_draft = read_draft(self)
        self.call_after_refresh(self._focus_first, "tab-request")

    # -- reading the widgets ----------------------------------------------------------

    def _value(self, selector: str) -> str:
        return self.query_one(selector, Input).value.strip()

    def _path(self, selector: str) -> Path | None:
        text = self._value(selector)
        return Path(text).expanduser() if text else None

    @property
    def source(self) -> str:
        return str(self.query_one("#source-kind", Select).value)

    def gather(self) -> ComposeInputs:
        """The current inputs; :class:`BodyError` when the body cannot be built."""
        form = self.query_one(BodyFormPanel)
        source = self.source
        body = form.body() if source != "jsonl" else {}
        rows_path, jsonl_path = self._path("#rows-path"), self._path("#jsonl-path")
        output = self._path("#output-path") or default_output(source, rows_path, jsonl_path)
        return ComposeInputs(
            source=source,
            endpoint=form.endpoint,
            body=body,
            id_pattern=self._value("#id-pattern") or "row-{index}",
            rows_path=rows_path,
            jsonl_path=jsonl_path,
            requests=tuple(self.query_one(RequestList).requests),
            output=output,
            limits=compose_fields.app_profile(self).limits.request_limits(),
        )

    def gather_options(self) -> SubmitOptions:
        """The Submit tab's fields; :class:`SubmitError` when one is wrong."""
        options = submit_options(
            description=self._value("#description"),
            metadata_lines=self.query_one("#metadata", TextArea).text.splitlines(),
            expiry=self._value("#expiry"),
            split=self.query_one("#split", Checkbox).value,
        )
        if self.anthropic:
            return compose_fields.anthropic_checked(options)
        return compose_fields.provider_checked(self, options)

    @property
    def anthropic(self) -> bool:
        """Whether the app's profile sends Claude message batches."""
        return compose_fields.app_profile(self).provider == "anthropic"

    @on(Said)
    def _said(self, event: Said) -> None:
        if event.error:
            self.fail(event.text)
        else:
            self.set_status(event.text)

    # -- status ---------------------------------------------------------------------------

    def set_status(self, message: str, *, error: bool = False) -> None:
        status = self.query_one("#compose-status", Static)
        status.update(Text(one_line(message, 300)))
        status.set_class(error, "-error")

    def fail(self, message: str) -> None:
        self.set_status(message, error=True)
        self.notify(one_line(message, 300), severity="error", markup=False)

    # -- source switching -------------------------------------------------------------------

    @on(Select.Changed, "#source-kind")
    def _source_changed(self) -> None:
        for kind in ("rows", "jsonl", "manual"):
            self.query_one(f"#source-{kind}").set_class(kind != self.source, "-hidden")
        self.checked = None

    @on(Input.Submitted, "#rows-path")
    @on(Input.Changed, "#rows-path")
    def _rows_path_changed(self) -> None:
        path = self._path("#rows-path")
        view = self.query_one("#rows-columns", Static)
        if path is None or not path.is_file():
            view.update(Text("(no such file yet)" if path else "", style="dim"))
            return
        try:
            columns = columns_of(path)
        except (BatchdeckError, OSError) as exc:
            view.update(Text(f"cannot read it: {one_line(str(exc), 120)}", style="red"))
            return
        text = Text("columns: ", style="dim")
        text.append(one_line(", ".join("{" + c + "}" for c in columns[:30]), 300))
        view.update(text)
        self.query_one("#id-column", Select).set_options(
            (one_line(column, 40), column) for column in columns if column
        )

    @on(Select.Changed, "#id-column")
    def _id_column_chosen(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value:
            self.query_one("#id-pattern", Input).value = "{" + event.value + "}"

    # -- one by one -------------------------------------------------------------------------

    @on(Button.Pressed, "#manual-add")
    def action_add_request(self) -> None:
        """Add the Request tab's body under the given custom_id (or update the edited one)."""
        requests = self.query_one(RequestList)
        custom_id = self._value("#manual-id") or f"request-{len(requests.requests) + 1}"
        try:
            body = self.query_one(BodyFormPanel).body()
            requests.put(custom_id, body, replacing=self._editing)
        except BatchdeckError as exc:
            self.fail(str(exc))
            return
        self._editing = None
        self.query_one("#manual-id", Input).value = ""
        self.set_status(f"{len(requests.requests)} request(s) in the list")

    @on(Button.Pressed, "#manual-edit")
    def action_edit_request(self) -> None:
        """Load the selected request into the raw body editor to change it."""
        chosen = self.query_one(RequestList).selected()
        if chosen is None:
            self.fail("no request selected")
            return
        custom_id, body = chosen
        self._editing = custom_id
        self.query_one("#manual-id", Input).value = custom_id
        self.query_one(BodyFormPanel).edit_raw(body)
        self.show_tab("tab-request")
        self.set_status(f"editing {custom_id}: change the body, then Add / update")

    @on(Button.Pressed, "#manual-remove")
    def action_remove_request(self) -> None:
        chosen = self.query_one(RequestList).selected()
        if chosen is not None:
            self.query_one(RequestList).drop(chosen[0])
            self.set_status(f"removed {chosen[0]}")

    # -- tabs and leaving ----------------------------------------------------------------------

    def show_tab(self, name: str) -> None:
        """Bring tab ``name`` forward and focus its first field.

        Focus leaves the old tab first: a hidden focused widget would pull its tab back.
        """
        tabs = self.query_one(TabbedContent)
        if tabs.active == name:
            return
        self.set_focus(None)
        tabs.active = name
        self.call_after_refresh(self._focus_first, name)

    def _focus_first(self, name: str) -> None:
        pane = self.query_one(TabbedContent).get_pane(name)
        for widget in pane.query("Select, Input, TextArea, DataTable, Button, Checkbox"):
            shown = all(getattr(node, "display", True) for node in widget.ancestors_with_self)
            if widget.focusable and shown:
                widget.focus()
                return

    def action_next_tab(self, step: int = 1) -> None:
        tabs = self.query_one(TabbedContent)
        index = TABS.index(tabs.active) if tabs.active in TABS else 0
        self.show_tab(TABS[(index + step) % len(TABS)])

    def action_previous_tab(self) -> None:
        self.action_next_tab(-1)

    def action_back(self) -> None:
        """Leave; with changes not kept anywhere, ask first (keep / discard / stay)."""
        self._leave(lambda: self.dismiss(None))

    def action_quit(self) -> None:
        """``q`` (when no field has focus) quits, asking first as leaving does."""
        self._leave(self.app.exit)

    def _leave(self, go: Callable[[], object]) -> None:
        from tui.dialogs.compose_drafts import LeaveComposeDialog

        if not self.changed():
            go()
            return

        def answered(answer: str | None) -> None:
            if answer == "save" and not self.keep_draft():
                return  # not written: the status line says why; stay
            if answer in ("save", "discard"):
                go()

        self.app.push_screen(LeaveComposeDialog(), answered)

    # -- drafts and templates (tui.core.drafts) ----------------------------------------------

    def changed(self) -> bool:
        """Whether the fields differ from what was last opened or kept."""
        return read_draft(self) != self._saved_draft

    def mark_kept(self, draft: Draft) -> None:
        """``draft`` is what the fields were when last opened or kept."""
        self._saved_draft = draft

    def keep_draft(self) -> bool:
        """Keep the fields as the last draft; False (and said) if it cannot be written."""
        draft = read_draft(self)
        try:
            drafts.save_last(draft)
        except BatchdeckError as exc:
            self.fail(str(exc))
            return False
        self._saved_draft = draft
        return True

    def action_save_template(self) -> None:
        compose_templates.save_template(self)

    def action_open_draft(self) -> None:
        compose_templates.open_draft(self)

    # -- preview -------------------------------------------------------------------------------

    def action_preview(self) -> None:
        try:
            inputs = self.gather()
        except BatchdeckError as exc:
            self.fail(str(exc))
            return
        self.show_tab("tab-preview")
        self._preview(inputs)

    @work(exclusive=True, group="compose-preview")
    async def _preview(self, inputs: ComposeInputs) -> None:
        try:
            build = preview_anthropic if self.anthropic else preview_lines
            lines = await asyncio.to_thread(build, inputs)
        except (BatchdeckError, OSError) as exc:
            self.post_message(self.Said(f"Preview: {exc}", error=True))
        except Exception as exc:  # last resort: the screen says so, the app goes on
            logger.exception("previewing the requests failed")
            self.post_message(self.Said(f"Preview: {reason(exc)}", error=True))
        else:
            self.post_message(self.Previewed(lines))

    @on(Previewed)
    def _previewed(self, event: Previewed) -> None:
        text = Text()
        for number, line in enumerate(event.lines, start=1):
            text.append(f"── request {number} ──\n", style="bold")
            text.append(printable(json.dumps(line, indent=2, ensure_ascii=False)) + "\n")
        if not event.lines:
            text.append("No requests.", style="dim")
        self.query_one("#preview", Static).update(text)
        self.set_status(f"Preview of the first {len(event.lines)} request(s)")

    # -- check (build + validate + estimate) and save ---------------------------------------------

    def action_check(self) -> None:
        self._start_check(save=False)

    def action_save(self) -> None:
        self._start_check(save=True)

    def _start_check(self, *, save: bool) -> None:
        try:
            inputs = self.gather()
        except BatchdeckError as exc:
            self.fail(str(exc))
            return
        if not save:
            self.set_status("Checking…")
        self._check(inputs, save)

    @work(exclusive=True, group="compose-check")
    async def _check(self, inputs: ComposeInputs, save: bool) -> None:
        try:
            if self.anthropic:  # the output is written by every check
                result = await asyncio.to_thread(check_anthropic, inputs)
            else:
                result = await asyncio.to_thread(save_inputs if save else check_inputs, inputs)
        except (BatchdeckError, OSError) as exc:
            self.post_message(self.Checked(None, str(exc)))
        except Exception as exc:  # last resort: the screen says so, the app goes on
            logger.exception("checking the requests failed")
            self.post_message(self.Checked(None, reason(exc)))
        else:
            self.post_message(self.Checked(result, saved=save))

    @on(Checked)
    def _checked(self, event: Checked) -> None:
        self.checks += 1
        self.checked = result = event.result
        if result is None:
            self.fail(f"Check: {event.problem}")
            return
        for note in result.notes:
            self.fail(note)
        self.query_one(ValidationPanel).show(result.report, rows_from=result.rows_from)
        self.query_one(EstimateView).show(result.estimate)
        self.show_tab("tab-check")
        report = result.report
        if event.saved:
            message = f"Saved {report.request_count:,} requests to {result.path}"
            self.set_status(message)
            self.notify(message, markup=False)
        elif report.ok:
            self.set_status(f"{report.request_count:,} requests in {result.path}: valid")
        elif report.only_limit_problems:
            self.set_status(f"{result.path}: over the API's limits; tick split to send it in parts")
        else:
            self.set_status(f"{result.path}: {report.problem_count:,} problem(s)", error=True)

    # -- submit -----------------------------------------------------------------------------------

    def action_submit(self) -> None:
        if self.busy:
            self.notify("A submit is already running.", severity="warning")
            return
        if getattr(self.app, "registry", None) is None:  # a bare app hosting the screen
            self.fail("Submitting needs the batchdeck app's client")
            return
        try:
            inputs = self.gather()
        except BatchdeckError as exc:
            self.fail(str(exc))
            return
        try:
            options = self.gather_options()
        except SubmitError as exc:
            self.show_tab("tab-submit")
            self.fail(str(exc))
            return
        self.busy = True
        self._upload_part = -1
        self.set_status("Checking before sending…")
        self._submit(inputs, options)

    async def confirm_submit(self, parts: int, requests: int, host: str) -> bool:
        """Sending spends money: say what goes where, and ask."""
        from tui.dialogs.confirm import ConfirmDialog

        batches = f"{parts} batches" if parts > 1 else "1 batch"
        dialog = ConfirmDialog(
            f"Submit {requests} requests as {batches} to {host}?",
            "The Batch API bills what it runs; cancelling later keeps what finished.",
            yes="Submit",
            no="Not now",
        )
        answer: bool = await self.app.push_screen_wait(dialog)
        return answer

    @work(exclusive=True, group="compose-submit")
    async def _submit(self, inputs: ComposeInputs, options: SubmitOptions) -> None:
        """Check, plan, ask, send; each step's outcome comes back as a message."""
        deck = self.deck
        if self.anthropic:
            await submit_anthropic(self, inputs, options)
            return
        try:
            checked = await asyncio.to_thread(check_inputs, inputs)
            self.post_message(self.Checked(checked))
            plan = await asyncio.to_thread(
                submission.plan_checked, checked, inputs.endpoint, options
            )
            requests = checked.report.request_count
            if not await self.confirm_submit(len(plan.parts), requests, deck.profile.host()):
                self.post_message(self.SubmitEnded([], declined=True))
                return

            def progress(index: int, total: int, sent: int, size: int | None) -> None:
                label = plan.parts[index].name + (f" ({index + 1}/{total})" if total > 1 else "")
                self.post_message(self.Uploading(index, f"Uploading {label}", sent, size))

            self.post_message(self.Said(f"Uploading {len(plan.parts)} file(s)…"))
            journal = journal_for(deck.registry, deck.client, deck.profile)
            if not isinstance(journal, Journal):
                raise SubmitError("the app's client is an Anthropic one; switch profile")
            jobs = await send_plan(journal, plan, options, progress)
            await asyncio.to_thread(record_compose_source, deck.registry, jobs, inputs)
        except PartialSubmitError as exc:
            self.post_message(self.SubmitEnded(exc.jobs, str(exc)))
        except (BatchdeckError, OSError) as exc:
            self.post_message(self.SubmitEnded([], not_sent_message(exc)))
        except Exception as exc:  # last resort: the screen says so, the app goes on
            logger.exception("submitting the compose file failed")
            self.post_message(self.SubmitEnded([], f"Not sent: {reason(exc)}"))
        else:
            self.post_message(self.SubmitEnded(jobs))

    @on(Uploading)
    def _uploading(self, event: Uploading) -> None:
        transfer = self.query_one(TransferProgress)
        if event.part != self._upload_part:
            self._upload_part = event.part
            transfer.begin(event.label, event.size)
        transfer.report(event.sent, event.size)

    @on(SubmitEnded)
    def _submit_ended(self, event: SubmitEnded) -> None:
        self.busy = False
        self.query_one(TransferProgress).end()
        if event.declined or event.jobs:
            self.keep_draft()  # declined or sent: the fields can be reopened (F7)
        if event.jobs:
            self.submitted = event.jobs
        if event.problem:
            self.fail(event.problem)
        elif event.jobs:
            self._announce(event.jobs)
        else:
            self.set_status("Not sent.")

    def _announce(self, jobs: list[Job]) -> None:
        from tui.screens.batch_detail import BatchDetailScreen

        ids = ", ".join(job.batch_id or job.job_id for job in jobs)
        group = f" in job group {jobs[0].group_id}" if len(jobs) > 1 else ""
        self.set_status(f"Submitted {len(jobs)} batch(es){group}: {ids}")
        self.notify(f"Submitted {ids}{group}", markup=False)
        if not jobs[0].batch_id:
            return
        inspector = BatchDetailScreen(jobs[0].batch_id)
        if self.app.screen is self:  # in Compose's place: its Escape goes back to the list
            self.app.switch_screen(inspector)
        else:  # a dialog is on top: leave it be
            self.app.push_screen(inspector)

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#submit")
    def _submit_pressed(self) -> None:
        self.action_submit()
