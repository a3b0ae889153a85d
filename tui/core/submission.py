"""Send a checked batch file: split it when it is over a limit, submit every part
through the journal, and tie the parts together as one job group.

Shared by ``batchdeck submit`` and the compose screen, so both follow the same rules:
the file is validated first (:func:`tui.core.requests.validate`); a file whose only
problems are its size or counts is split on request (:func:`tui.core.requests.split`)
into ``<stem>.parts/``; every part becomes its own batch, and when there are several
they share one ``group_id`` in the registry.

The compose form's steps live here too, so the screen only wires widgets: what the
form says is a :class:`ComposeInputs`; :func:`check_inputs` builds (or opens), validates
and estimates its file (an opened file in one pass, like ``batchdeck validate``);
:func:`preview_lines` shows its first requests; :func:`save_inputs` checks and writes
it where asked; :func:`submit_options` reads the Submit tab's fields,
:func:`plan_checked` decides the parts and :func:`send_plan` sends them.
All but :func:`send_plan` block: callers run them in a thread.
"""

from __future__ import annotations

import itertools
import secrets
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tui.core import jsonsafe, paths
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
from tui.core.errors import BatchdeckError
from tui.core.fsutil import atomic_file
from tui.core.journal import Journal, SubmitError, check_metadata
from tui.core.pricing import Price, PriceError, load_prices
from tui.core.providers import MAX_EXPIRY, MIN_EXPIRY, duration_seconds
from tui.core.registry import Job
from tui.core.request_file import open_request_file
from tui.core.requests import (
    DEFAULT_LIMITS,
    InvalidRequestFileError,
    Limits,
    ValidationReport,
    split,
    validate,
)
from tui.core.tokens import Estimate, Estimator, FileEstimator

__all__ = [
    "MAX_EXPIRY",
    "MIN_EXPIRY",
    "PREVIEW_COUNT",
    "CheckedFile",
    "ComposeInputs",
    "NeedsSplitError",
    "PartialSubmitError",
    "SubmitOptions",
    "SubmitPlan",
    "check_inputs",
    "default_output",
    "new_group_id",
    "parse_expiry",
    "parse_metadata",
    "plan_checked",
    "plan_submit",
    "preview_lines",
    "save_inputs",
    "send_plan",
    "submit_options",
    "submit_plan",
]


PartProgress = Callable[[int, int, int, int | None], None]
"""``(part index (0-based), part count, bytes sent, bytes total)``."""


class PartialSubmitError(SubmitError):
    """Some parts of a split file were submitted, then one failed: ``jobs`` were sent
    (same ``group_id``), ``cause`` stopped the rest; submitting again would send the
    sent parts twice, so the message names what is left."""

    def __init__(self, jobs: list[Job], failed: Path, cause: Exception) -> None:
        self.jobs = jobs
        self.failed = failed
        self.cause = cause
        message = getattr(cause, "message", None) or str(cause)
        super().__init__(
            f"{len(jobs)} part(s) submitted, then {failed.name} failed: {message}; "
            f"submit {failed.name} and the parts after it on their own"
        )


class NeedsSplitError(SubmitError):
    """The file is over a size or count limit; it can be sent split in parts."""

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        first = report.problems[0] if report.problems else None
        super().__init__(
            f"{report.path}: over the API's limits ({first}); split it into several batches"
        )


def parse_expiry(text: str) -> int:
    """``"1h"``, ``"7d"``, ``"90m"`` or seconds, checked against 1 hour .. 30 days."""
    seconds = duration_seconds(text)
    if seconds is None:
        raise SubmitError(f"output expiry {text!r}: use a number with s, m, h or d (e.g. 7d)")
    if not MIN_EXPIRY <= seconds <= MAX_EXPIRY:
        raise SubmitError(f"output expiry {text!r}: between 1h and 30d")
    return seconds


def parse_metadata(pairs: Sequence[str]) -> dict[str, str]:
    """``["k=v", ...]`` as a dict, checked against the API's metadata limits."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SubmitError(f"metadata {pair!r}: write it as key=value")
        if key in out:
            raise SubmitError(f"metadata key {key!r} given twice")
        out[key] = value
    return check_metadata(out)


def new_group_id() -> str:
    """A fresh id shared by the parts of one split submission."""
    return "grp-" + secrets.token_hex(6)


@dataclass(frozen=True)
class SubmitPlan:
    """The files to send for one input file: itself, or its parts."""

    source: Path
    endpoint: str
    parts: tuple[Path, ...]
    report: ValidationReport

    @property
    def split(self) -> bool:
        return len(self.parts) > 1 or self.parts[0] != self.source


def plan_submit(
    path: str | Path,
    endpoint: str | None = None,
    *,
    allow_split: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> SubmitPlan:
    """Validate ``path`` and decide what to send.

    Raises :class:`~tui.core.requests.InvalidRequestFileError` for a file the API would
    refuse, and :class:`NeedsSplitError` for one only over a limit when ``allow_split``
    is off. ``endpoint`` defaults to the file's own; ``limits`` are the API's unless
    a test says otherwise.
    """
    path = Path(path)
    report = validate(path, endpoint=endpoint, limits=limits)
    return plan_from_report(path, endpoint, report, allow_split=allow_split, limits=limits)


def plan_from_report(
    path: Path,
    endpoint: str | None,
    report: ValidationReport,
    *,
    allow_split: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> SubmitPlan:
    """What to send for ``path``, already validated as ``report`` (same errors as
    :func:`plan_submit`); the file is read again only to split it."""
    endpoint = endpoint or report.endpoint
    if report.ok and endpoint:
        return SubmitPlan(path, endpoint, (path,), report)
    if not report.only_limit_problems or not endpoint:
        raise InvalidRequestFileError(report)
    if not allow_split:
        raise NeedsSplitError(report)
    parts = split(
        path,
        path.parent / f"{path.stem}.parts",
        max_requests=limits.max_requests,
        max_bytes=limits.max_bytes,
        max_embedding_inputs=limits.max_embedding_inputs,
        endpoint=endpoint,
    )
    return SubmitPlan(path, endpoint, tuple(parts), report)


async def submit_plan(
    journal: Journal,
    plan: SubmitPlan,
    *,
    description: str = "",
    metadata: Mapping[str, str] | None = None,
    output_expires_after: int | None = None,
    tags: tuple[str, ...] = (),
    progress: PartProgress | None = None,
    completion_window: str | None = None,
) -> list[Job]:
    """Submit each part through ``journal``; several parts share a new ``group_id``
    and get ``(part i/n)`` in their description. Returns the registry jobs in order."""
    total = len(plan.parts)
    group_id = new_group_id() if total > 1 else None
    jobs: list[Job] = []
    for index, part in enumerate(plan.parts):
        label = description
        if total > 1:
            label = f"{description} (part {index + 1}/{total})".strip()

        def report(sent: int, size: int | None, index: int = index) -> None:
            if progress is not None:
                progress(index, total, sent, size)

        try:
            job = await journal.submit(
                part,
                plan.endpoint,
                metadata or {},
                label,
                tags=tags,
                output_expires_after=output_expires_after,
                group_id=group_id,
                progress=report,
                completion_window=completion_window,
            )
        except Exception as exc:
            if not jobs:
                raise
            raise PartialSubmitError(jobs, part, exc) from exc
        jobs.append(job)
    return jobs


# -- the compose form's steps ------------------------------------------------------------

PREVIEW_COUNT = 5


@dataclass(frozen=True)
class ComposeInputs:
    """What the compose form says: where the requests come from, and where they go.

    ``source`` is ``"rows"`` (rows of ``rows_path`` fill the template ``body``, their
    ids from ``id_pattern``), ``"jsonl"`` (``jsonl_path`` is sent as it is) or
    ``"manual"`` (``requests``, added one by one). ``output`` is where a built file
    is written (see :func:`default_output`)."""

    source: str
    endpoint: str
    body: dict[str, Any]
    id_pattern: str
    rows_path: Path | None
    jsonl_path: Path | None
    requests: tuple[tuple[str, dict[str, Any]], ...]
    output: Path
    limits: Limits = DEFAULT_LIMITS
    """The profile's service's per-file limits (:meth:`ProviderLimits.request_limits`)."""


@dataclass(frozen=True)
class CheckedFile:
    """A file written (or opened) and checked: what submit and save work from.

    ``notes`` are things the user should know that did not stop the check (a price
    table that could not be read, so no costs)."""

    path: Path
    report: ValidationReport
    estimate: Estimate | None
    rows_from: str = ""
    requests: int = 0
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class SubmitOptions:
    """The Submit tab's fields, checked."""

    description: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    output_expires_after: int | None = None
    split: bool = False
    completion_window: str | None = None


def default_output(source: str, rows_path: Path | None, jsonl_path: Path | None) -> Path:
    """Where the built file goes when no path is given."""
    if source == "jsonl" and jsonl_path is not None:
        return jsonl_path
    if source == "rows" and rows_path is not None:
        return rows_path.with_name(f"{rows_path.stem}.batch.jsonl")
    return paths.data_dir() / "compose" / "requests.jsonl"


def check_inputs(inputs: ComposeInputs, prices: Mapping[str, Price] | None = None) -> CheckedFile:
    """Build the file for ``inputs`` (unless it exists already), validate and estimate it
    with ``prices`` (none: the price table's, and a table that cannot be read leaves the
    costs out, with a note saying so).

    Raises :class:`ComposeError` (naming the row) or ``OSError``."""
    if prices is None:
        try:
            prices = load_prices()
        except PriceError as exc:
            checked = _check(inputs, None)
            return replace(checked, notes=(*checked.notes, f"{exc}; costs not shown"))
    return _check(inputs, prices)


def _check(inputs: ComposeInputs, prices: Mapping[str, Price] | None) -> CheckedFile:
    if inputs.source == "jsonl":
        if inputs.jsonl_path is None:
            raise ComposeError("choose the batch JSONL file to open (Source tab)")
        report, estimate = _check_file(inputs.jsonl_path, inputs.endpoint, prices, inputs.limits)
        return CheckedFile(inputs.jsonl_path, report, estimate, requests=report.request_count)
    if inputs.source == "manual":
        if not inputs.requests:
            raise ComposeError("add at least one request (Source tab)")
        estimator = Estimator(inputs.endpoint)
        count = write_requests(inputs.output, inputs.endpoint, inputs.requests, estimator=estimator)
        report = validate(inputs.output, endpoint=inputs.endpoint, limits=inputs.limits)
        return CheckedFile(inputs.output, report, estimator.result(prices), requests=count)
    if inputs.rows_path is None:
        raise ComposeError("choose the data file whose rows fill the template (Source tab)")
    template = RequestTemplate(inputs.endpoint, inputs.body, inputs.id_pattern)
    missing = template.missing_columns(columns_of(inputs.rows_path))
    if missing:
        known = ", ".join(columns_of(inputs.rows_path)[:12]) or "none"
        raise ComposeError(
            f"no column {missing[0]!r} in {inputs.rows_path.name} (columns: {known})", row=1
        )
    result = build_file(
        read_rows(inputs.rows_path), template, inputs.output, prices=prices, limits=inputs.limits
    )
    return CheckedFile(
        inputs.output,
        result.report,
        result.estimate,
        rows_from=inputs.rows_path.name,
        requests=result.requests,
    )


def _check_file(
    path: Path, endpoint: str, prices: Mapping[str, Price] | None, limits: Limits = DEFAULT_LIMITS
) -> tuple[ValidationReport, Estimate | None]:
    """Validate ``path`` and estimate it in the same pass, as ``batchdeck validate``
    does (a big file's input tokens from a sample, within 1%); no estimate for a file
    the API would refuse."""
    try:
        size = path.stat().st_size
    except OSError:  # validate says why
        size = 0
    estimator = FileEstimator(endpoint, size=size)
    try:
        report = validate(path, endpoint=endpoint, limits=limits, on_request=estimator.add)
        if not (report.ok or report.only_limit_problems):
            return report, None
        return report, estimator.result(prices)
    finally:
        estimator.close()


def save_inputs(inputs: ComposeInputs) -> CheckedFile:
    """Check ``inputs``; an existing JSONL file is also copied to ``inputs.output`` when
    that is another path (and the copy is what the result names). The copy replaces
    ``inputs.output`` atomically and is private, like a built file
    (:func:`~tui.core.compose.write_requests`)."""
    checked = check_inputs(inputs)
    target = inputs.output
    if inputs.source != "jsonl" or target.resolve() == checked.path.resolve():
        return checked
    with open(checked.path, "rb") as source, atomic_file(target) as copy:
        shutil.copyfileobj(source, copy)
    report = validate(target, endpoint=inputs.endpoint, limits=inputs.limits)
    return replace(checked, path=target, report=report)


def preview_lines(inputs: ComposeInputs, count: int = PREVIEW_COUNT) -> list[Any]:
    """The first ``count`` request lines as they will be sent (a JSONL file's lines as
    they are, ``{}`` for a blank one)."""
    if inputs.source == "jsonl":
        if inputs.jsonl_path is None:
            raise ComposeError("choose the batch JSONL file to open (Source tab)")
        with open_request_file(inputs.jsonl_path) as handle:
            return [
                jsonsafe.loads(line) if line.strip() else {}
                for line in itertools.islice(handle, count)
            ]
    if inputs.source == "manual":
        return [request_line(cid, inputs.endpoint, body) for cid, body in inputs.requests[:count]]
    if inputs.rows_path is None:
        raise ComposeError("choose the data file whose rows fill the template (Source tab)")
    template = RequestTemplate(inputs.endpoint, inputs.body, inputs.id_pattern)
    return preview(read_rows(inputs.rows_path), template, count)


def submit_options(
    *,
    description: str,
    metadata_lines: Iterable[str],
    expiry: str,
    split: bool,
    completion_window: str | None = None,
) -> SubmitOptions:
    """The Submit tab's fields checked: ``key=value`` lines (blank ones skipped) and an
    expiry such as ``7d`` (blank: the API's default). Raises :class:`SubmitError`."""
    metadata = parse_metadata([line.strip() for line in metadata_lines if line.strip()])
    seconds = parse_expiry(expiry) if expiry.strip() else None
    return SubmitOptions(description.strip(), metadata, seconds, split, completion_window)


def plan_checked(checked: CheckedFile, endpoint: str, options: SubmitOptions) -> SubmitPlan:
    """What to send for a checked file: itself, or its parts when split is allowed
    (its check's report is used: the file is not validated again)."""
    return plan_from_report(
        checked.path,
        endpoint,
        checked.report,
        allow_split=options.split,
        limits=checked.report.limits,
    )


async def send_plan(
    journal: Journal,
    plan: SubmitPlan,
    options: SubmitOptions,
    progress: PartProgress | None = None,
) -> list[Job]:
    """Submit ``plan`` with ``options`` (see :func:`submit_plan`)."""
    return await submit_plan(
        journal,
        plan,
        description=options.description,
        metadata=options.metadata,
        output_expires_after=options.output_expires_after,
        progress=progress,
        completion_window=options.completion_window,
    )


def not_sent_message(exc: BatchdeckError | OSError) -> str:
    """Why a submit sent nothing, pointing at the tab that can fix it."""
    if isinstance(exc, NeedsSplitError):
        return "The file is over the API's limits: tick “split” (Submit tab) to send it"
    if isinstance(exc, InvalidRequestFileError):
        return f"Not sent: {exc.count} problem(s) in the file (Check tab)"
    return f"Not sent: {exc}"
