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
submits. Building and checking run in a thread, sending in a worker; nothing blocks
the screen, and every failure is a message on the status line and a notification.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import (
    Button,
    Checkbox,
    Footer,
    Header,
    Input,
    Label,
    Select,
    Static,
    TabbedContent,
    TabPane,
    TextArea,
)

from tui.core import errors, paths
from tui.core.bodies import BodyError
from tui.core.compose import (
    ComposeError,
    RequestTemplate,
    build_file,
    columns_of,
    preview,
    read_rows,
    request_line,
    write_requests,
)
from tui.core.journal import SubmitError
from tui.core.pricing import Price, PriceError, load_prices
from tui.core.requests import InvalidRequestFileError, SplitError, ValidationReport, validate
from tui.core.text import one_line, printable
from tui.core.tokens import Estimate, Estimator, estimate_file
from tui.deck import styles_dir
from tui.widgets.body_form import BodyFormPanel
from tui.widgets.estimate_view import EstimateView
from tui.widgets.request_list import RequestList
from tui.widgets.transfer import TransferProgress
from tui.widgets.validation_panel import ValidationPanel

if TYPE_CHECKING:
    from tui.core.registry import Job

PREVIEW_COUNT = 5
SOURCES = (
    ("Rows of a CSV, TSV, JSONL or text file + the template", "rows"),
    ("An existing batch JSONL file", "jsonl"),
    ("Requests added one by one", "manual"),
)
TABS = ("tab-request", "tab-source", "tab-preview", "tab-check", "tab-submit")


@dataclass(frozen=True)
class Inputs:
    """Everything a check needs, read from the widgets on the UI thread."""

    source: str
    endpoint: str
    body: dict[str, Any]
    id_pattern: str
    rows_path: Path | None
    jsonl_path: Path | None
    requests: tuple[tuple[str, dict[str, Any]], ...]
    output: Path


@dataclass(frozen=True)
class Checked:
    """A file written (or opened) and checked: what submit and save work from."""

    path: Path
    report: ValidationReport
    estimate: Estimate | None
    rows_from: str = ""
    requests: int = 0
    notes: tuple[str, ...] = field(default=())


def default_output(source: str, rows_path: Path | None, jsonl_path: Path | None) -> Path:
    """Where the built file goes when no path is given."""
    if source == "jsonl" and jsonl_path is not None:
        return jsonl_path
    if source == "rows" and rows_path is not None:
        return rows_path.with_name(f"{rows_path.stem}.batch.jsonl")
    return paths.data_dir() / "compose" / "requests.jsonl"


def check(inputs: Inputs, prices: dict[str, Price] | None) -> Checked:
    """Build the file for ``inputs`` (unless it exists already), validate and estimate it.

    Raises :class:`ComposeError` (naming the row) or ``OSError``; runs in a thread."""
    if inputs.source == "jsonl":
        if inputs.jsonl_path is None:
            raise ComposeError("choose the batch JSONL file to open (Source tab)")
        report = validate(inputs.jsonl_path, endpoint=inputs.endpoint)
        estimate = None
        if report.ok or report.only_limit_problems:
            estimate = estimate_file(inputs.jsonl_path, inputs.endpoint, prices)
        return Checked(inputs.jsonl_path, report, estimate, requests=report.request_count)
    if inputs.source == "manual":
        if not inputs.requests:
            raise ComposeError("add at least one request (Source tab)")
        estimator = Estimator(inputs.endpoint)
        count = write_requests(inputs.output, inputs.endpoint, inputs.requests, estimator=estimator)
        report = validate(inputs.output, endpoint=inputs.endpoint)
        return Checked(inputs.output, report, estimator.result(prices), requests=count)
    if inputs.rows_path is None:
        raise ComposeError("choose the data file whose rows fill the template (Source tab)")
    template = RequestTemplate(inputs.endpoint, inputs.body, inputs.id_pattern)
    missing = template.missing_columns(columns_of(inputs.rows_path))
    if missing:
        known = ", ".join(columns_of(inputs.rows_path)[:12]) or "none"
        raise ComposeError(
            f"no column {missing[0]!r} in {inputs.rows_path.name} (columns: {known})", row=1
        )
    result = build_file(read_rows(inputs.rows_path), template, inputs.output, prices=prices)
    return Checked(
        inputs.output,
        result.report,
        result.estimate,
        rows_from=inputs.rows_path.name,
        requests=result.requests,
    )


def preview_lines(inputs: Inputs, count: int = PREVIEW_COUNT) -> list[dict[str, Any]]:
    """The first ``count`` request lines as they will be sent (runs in a thread)."""
    if inputs.source == "jsonl":
        if inputs.jsonl_path is None:
            raise ComposeError("choose the batch JSONL file to open (Source tab)")
        with open(inputs.jsonl_path, "rb") as handle:
            return [
                json.loads(line) if line.strip() else {} for line in itertools.islice(handle, count)
            ]
    if inputs.source == "manual":
        return [request_line(cid, inputs.endpoint, body) for cid, body in inputs.requests[:count]]
    if inputs.rows_path is None:
        raise ComposeError("choose the data file whose rows fill the template (Source tab)")
    template = RequestTemplate(inputs.endpoint, inputs.body, inputs.id_pattern)
    return preview(read_rows(inputs.rows_path), template, count)


class ComposeScreen(Screen[None]):
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
    ]

    def __init__(self) -> None:
        super().__init__()
        self.checked: Checked | None = None
        self.checks = 0  # finished checks (tests wait on it)
        self.submitted: list[Job] = []
        self.busy = False
        self._editing: str | None = None

    # -- layout ---------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
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
                yield Checkbox(
                    "Split files over the limits into several batches (one job group)",
                    id="split",
                )
                with Horizontal(classes="buttons"):
                    yield Button("Save JSONL (F2)", id="save")
                    yield Button("Submit (F9)", id="submit", variant="success")
                yield TransferProgress(id="compose-transfer")
        yield Footer()

    # -- reading the widgets ----------------------------------------------------------

    def _value(self, selector: str) -> str:
        return self.query_one(selector, Input).value.strip()

    def _path(self, selector: str) -> Path | None:
        text = self._value(selector)
        return Path(text).expanduser() if text else None

    @property
    def source(self) -> str:
        return str(self.query_one("#source-kind", Select).value)

    def gather(self) -> Inputs:
        """The current inputs; :class:`BodyError` when the body cannot be built."""
        form = self.query_one(BodyFormPanel)
        source = self.source
        body = form.body() if source != "jsonl" else {}
        rows_path, jsonl_path = self._path("#rows-path"), self._path("#jsonl-path")
        output = self._path("#output-path") or default_output(source, rows_path, jsonl_path)
        return Inputs(
            source=source,
            endpoint=form.endpoint,
            body=body,
            id_pattern=self._value("#id-pattern") or "row-{index}",
            rows_path=rows_path,
            jsonl_path=jsonl_path,
            requests=tuple(self.query_one(RequestList).requests),
            output=output,
        )

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
        except (OSError, ValueError, UnicodeDecodeError) as exc:
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
        except (BodyError, ComposeError) as exc:
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
        self.dismiss(None)

    # -- preview -------------------------------------------------------------------------------

    def action_preview(self) -> None:
        try:
            inputs = self.gather()
        except BodyError as exc:
            self.fail(str(exc))
            return
        self.show_tab("tab-preview")
        self._preview(inputs)

    @work(thread=True, exclusive=True, group="compose-preview")
    def _preview(self, inputs: Inputs) -> None:
        try:
            lines = preview_lines(inputs)
        except (ComposeError, OSError, ValueError) as exc:
            self.app.call_from_thread(self.fail, f"Preview: {exc}")
            return
        self.app.call_from_thread(self._show_preview, lines)

    def _show_preview(self, lines: list[dict[str, Any]]) -> None:
        text = Text()
        for number, line in enumerate(lines, start=1):
            text.append(f"── request {number} ──\n", style="bold")
            text.append(printable(json.dumps(line, indent=2, ensure_ascii=False)) + "\n")
        if not lines:
            text.append("No requests.", style="dim")
        self.query_one("#preview", Static).update(text)
        self.set_status(f"Preview of the first {len(lines)} request(s)")

    # -- check (build + validate + estimate) -----------------------------------------------------

    def action_check(self) -> None:
        try:
            inputs = self.gather()
        except BodyError as exc:
            self.fail(str(exc))
            return
        self.set_status("Checking…")
        self._check(inputs)

    def _prices(self) -> dict[str, Price] | None:
        try:
            return load_prices()
        except PriceError as exc:
            self.app.call_from_thread(self.fail, f"{exc}; costs not shown")
            return None

    @work(thread=True, exclusive=True, group="compose-check")
    def _check(self, inputs: Inputs) -> None:
        try:
            result = check(inputs, self._prices())
        except (ComposeError, OSError, ValueError) as exc:
            self.app.call_from_thread(self._check_failed, str(exc))
            return
        self.app.call_from_thread(self._show_check, result)

    def _check_failed(self, message: str) -> None:
        self.checks += 1
        self.checked = None
        self.fail(f"Check: {message}")

    def _show_check(self, result: Checked) -> None:
        self.checks += 1
        self.checked = result
        self.query_one(ValidationPanel).show(result.report, rows_from=result.rows_from)
        self.query_one(EstimateView).show(result.estimate)
        self.show_tab("tab-check")
        report = result.report
        if report.ok:
            self.set_status(f"{report.request_count:,} requests in {result.path}: valid")
        elif report.only_limit_problems:
            self.set_status(f"{result.path}: over the API's limits; tick split to send it in parts")
        else:
            self.set_status(f"{result.path}: {report.problem_count:,} problem(s)", error=True)

    # -- save -------------------------------------------------------------------------------------

    def action_save(self) -> None:
        try:
            inputs = self.gather()
        except BodyError as exc:
            self.fail(str(exc))
            return
        self._save(inputs)

    @work(thread=True, exclusive=True, group="compose-check")
    def _save(self, inputs: Inputs) -> None:
        try:
            result = check(inputs, self._prices())
            target = self._path_from_thread("#output-path")
            if inputs.source == "jsonl" and target and target.resolve() != result.path.resolve():
                shutil.copyfile(result.path, target)
                result = Checked(
                    target, validate(target, endpoint=inputs.endpoint), result.estimate
                )
        except (ComposeError, OSError, ValueError) as exc:
            self.app.call_from_thread(self._check_failed, str(exc))
            return
        self.app.call_from_thread(self._show_check, result)
        self.app.call_from_thread(self._saved, result)

    def _path_from_thread(self, selector: str) -> Path | None:
        return self.app.call_from_thread(self._path, selector)

    def _saved(self, result: Checked) -> None:
        message = f"Saved {result.report.request_count:,} requests to {result.path}"
        self.set_status(message)
        self.notify(message, markup=False)

    # -- submit -----------------------------------------------------------------------------------

    def action_submit(self) -> None:
        if self.busy:
            self.notify("A submit is already running.", severity="warning")
            return
        try:
            inputs = self.gather()
        except BodyError as exc:
            self.fail(str(exc))
            return
        self._submit(inputs)

    def _submit_options(self) -> tuple[dict[str, str], int | None, str, bool]:
        from tui.core.submission import parse_expiry, parse_metadata

        lines = self.query_one("#metadata", TextArea).text.splitlines()
        metadata = parse_metadata([line.strip() for line in lines if line.strip()])
        expiry_text = self._value("#expiry")
        expiry = parse_expiry(expiry_text) if expiry_text else None
        split = self.query_one("#split", Checkbox).value
        return metadata, expiry, self._value("#description"), split

    async def _confirm_submit(self, parts: int, requests: int, host: str) -> bool:
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
    async def _submit(self, inputs: Inputs) -> None:
        from tui.core.journal import Journal
        from tui.core.submission import (
            NeedsSplitError,
            PartialSubmitError,
            plan_submit,
            submit_plan,
        )

        app: Any = self.app
        if not all(hasattr(app, name) for name in ("client", "registry", "profile")):
            self.fail("Submitting needs the batchdeck app's client")
            return
        try:
            metadata, expiry, description, split = self._submit_options()
        except SubmitError as exc:
            self.show_tab("tab-submit")
            self.fail(str(exc))
            return
        self.busy = True
        transfer = self.query_one(TransferProgress)
        try:
            self.set_status("Checking before sending…")
            try:
                result = await asyncio.to_thread(
                    check, inputs, await asyncio.to_thread(load_prices)
                )
            except PriceError:
                result = await asyncio.to_thread(check, inputs, None)
            self._show_check(result)
            plan = await asyncio.to_thread(
                plan_submit, result.path, inputs.endpoint, allow_split=split
            )
            requests = result.report.request_count
            if not await self._confirm_submit(len(plan.parts), requests, app.profile.host()):
                self.set_status("Not sent.")
                return
            part_seen = [-1]

            def progress(index: int, total: int, sent: int, size: int | None) -> None:
                if index != part_seen[0]:
                    part_seen[0] = index
                    label = plan.parts[index].name + (
                        f" ({index + 1}/{total})" if total > 1 else ""
                    )
                    transfer.begin(f"Uploading {label}", size)
                transfer.report(sent, size)

            self.set_status(f"Uploading {len(plan.parts)} file(s)…")
            journal = Journal(app.registry, app.client, app.profile)
            jobs = await submit_plan(
                journal,
                plan,
                description=description,
                metadata=metadata,
                output_expires_after=expiry,
                progress=progress,
            )
        except PartialSubmitError as exc:
            self.submitted = exc.jobs
            self.fail(str(exc))
            return
        except NeedsSplitError:
            self.fail("The file is over the API's limits: tick “split” (Submit tab) to send it")
            return
        except InvalidRequestFileError as exc:
            self.fail(f"Not sent: {exc.count} problem(s) in the file (Check tab)")
            return
        except (ComposeError, SplitError, SubmitError, OSError, ValueError) as exc:
            self.fail(f"Not sent: {exc}")
            return
        except errors.ApiError as exc:
            self.fail(f"Submit failed: {exc.message}")
            return
        finally:
            self.busy = False
            transfer.end()
        self.submitted = jobs
        self._announce(jobs)

    def _announce(self, jobs: list[Job]) -> None:
        ids = ", ".join(job.batch_id or job.job_id for job in jobs)
        group = f" in job group {jobs[0].group_id}" if len(jobs) > 1 else ""
        self.set_status(f"Submitted {len(jobs)} batch(es){group}: {ids}")
        self.notify(f"Submitted {ids}{group}", markup=False)
        batch_id = jobs[0].batch_id if jobs else None
        if not batch_id:
            return
        try:
            from tui.screens.batch_detail import BatchDetailScreen
        except ImportError:
            return
        self.app.push_screen(BatchDetailScreen(batch_id))

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#submit")
    def _submit_pressed(self) -> None:
        self.action_submit()
