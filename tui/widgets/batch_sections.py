"""The batch inspector's sections as Rich renderables, one function per section:
header, notice, request counts, usage and cost, metadata, files and validation
errors; the retry links beside the header. Everything from the server or the
registry is literal text."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tui.core.explain import explain
from tui.core.models import Batch, batch_description
from tui.core.pricing import Price, PriceError, batch_cost, format_usd
from tui.core.registry import Job
from tui.core.text import one_line
from tui.widgets.batch_table import STATUS_STYLES

if TYPE_CHECKING:
    from tui.core.results import RetryLinks

SHOWN_ERRORS = 200  # validation errors listed (the API reports at most a few hundred)
INPUT_LINE_SHOWN = 300  # characters of an offending input line shown beside its error
FILE_KINDS = ("output", "error", "input")


def file_id_of(batch: Batch, kind: str) -> str | None:
    """The id of a batch's ``output``, ``error`` or ``input`` file, if it has one."""
    value = {
        "output": batch.output_file_id,
        "error": batch.error_file_id,
        "input": batch.input_file_id,
    }[kind]
    return value or None


def header_text(batch_id: str, batch: Batch | None, job: Job | None) -> Text:
    """Id, status, endpoint, model; then the local description and tags."""
    text = Text()
    text.append(one_line(batch_id), style="bold")
    if batch is not None:
        text.append("  ")
        text.append(one_line(batch.status), style=f"bold {STATUS_STYLES.get(batch.status, '')}")
        text.append(f"  {one_line(batch.endpoint)}")
        if batch.model:
            text.append(f"  {one_line(batch.model)}", style="cyan")
        text.append(f"  window {one_line(batch.completion_window)}", style="dim")
    description = batch_description(batch, job)
    tags = job.tags if job else ()
    text.append("\n")
    if description:
        text.append(one_line(description, 200))
    else:
        text.append("no description (d to add one)", style="dim italic")
    if tags:
        text.append("  ")
        text.append(" ".join(f"#{one_line(tag, 40)}" for tag in tags), style="magenta")
    return text


def notice_text(batch: Batch) -> Text | None:
    """What a reader must not miss about this batch (:func:`tui.core.explain.explain`)
    and the keys that fetch what is left of it, or None."""
    message = explain(batch)
    if message is None:
        return None
    if batch.status in ("expired", "cancelled"):
        offers = []
        if batch.output_file_id:
            offers.append("o: partial output")
        if batch.error_file_id:
            offers.append("e: errors")
        message += f" Partial results: {', '.join(offers)}." if offers else " No results were kept."
    elif batch.error_file_id:
        message += " Press e to download the error file."
    return Text(message)


def links_text(links: RetryLinks) -> Text | None:
    """``retry of X (g to open it) · retried by Y, Z``, or None without a link."""
    if not links.retry_of and not links.retried_by:
        return None
    text = Text()
    if links.retry_of:
        text.append("retry of ", style="dim")
        text.append(one_line(links.retry_of), style="bold")
        text.append(" (g to open it)", style="dim")
    if links.retried_by:
        if links.retry_of:
            text.append(" · ", style="dim")
        text.append("retried by ", style="dim")
        text.append(", ".join(one_line(batch_id) for batch_id in links.retried_by), style="bold")
    return text


def counts_text(batch: Batch, pace: str | None = None) -> Text:
    """Request counts with a bar: done of total, completed and failed; then ``pace``
    (throughput and ETA, :func:`tui.core.throughput.pace_line`) if there is one."""
    counts = batch.request_counts
    text = Text()
    if not counts.total:
        text.append("no requests counted yet" if not batch.is_final else "no requests")
        if pace:
            text.append(f"\n{pace}", style="cyan")
        return text
    width = 24
    filled = round(width * counts.done / counts.total)
    failed = min(filled, round(width * counts.failed / counts.total))
    text.append("█" * (filled - failed), style="green")
    text.append("█" * failed, style="red")
    text.append("░" * (width - filled), style="dim")
    text.append(f" {100 * counts.done // counts.total}%\n")
    text.append(f"{counts.total} total  ")
    text.append(f"{counts.completed} completed  ", style="green")
    text.append(f"{counts.failed} failed  ", style="red" if counts.failed else "")
    left = counts.total - counts.done
    text.append(f"{left} {'not run' if batch.is_final else 'pending'}", style="dim")
    if pace:
        text.append(f"\n{pace}", style="cyan")
    return text


def has_usage(batch: Batch) -> bool:
    """Whether the batch reports any tokens (a failed validation reports zeros)."""
    usage = batch.usage
    return usage is not None and bool(
        usage.total_tokens or usage.input_tokens or usage.output_tokens
    )


def usage_renderable(batch: Batch, prices: dict[str, Price] | PriceError) -> RenderableType:
    """Tokens used and what they cost at the standard rate and with the batch discount;
    ``prices`` is the price table, or why it is unusable."""
    usage = batch.usage
    if usage is None or not has_usage(batch):
        return Text("No usage reported yet." if not batch.is_final else "No usage reported.")
    table = Table.grid(padding=(0, 2))
    table.add_column(justify="right", style="bold")
    table.add_column(justify="right")
    table.add_row("input tokens", f"{usage.input_tokens:,}")
    table.add_row("cached", f"{usage.cached_tokens:,}")
    table.add_row("output tokens", f"{usage.output_tokens:,}")
    table.add_row("reasoning", f"{usage.reasoning_tokens:,}")
    table.add_row("total", f"{usage.total_tokens:,}")
    found = batch_cost(batch, prices)
    cost, price = found.cost, found.price
    if isinstance(prices, PriceError):
        return Group(table, Text(f"\nPrice table unusable: {one_line(str(prices))}", style="red"))
    if cost is None or price is None:
        model = one_line(batch.model or "this batch's model")
        return Group(
            table,
            Text(f"\nNo price known for {model}. Press $ to set it.", style="yellow"),
        )
    costs = Table.grid(padding=(0, 2))
    costs.add_column(justify="right", style="bold")
    costs.add_column(justify="right")
    costs.add_row("standard cost", format_usd(cost.standard))
    costs.add_row("Batch API cost", Text(format_usd(cost.batch), style="bold green"))
    costs.add_row("saving (50%)", format_usd(cost.standard - cost.batch))
    rates = f"input ${price.input:g}"
    if price.cached_input is not None:
        rates += f", cached ${price.cached_input:g}"
    rates += f", output ${price.output:g} per 1M ($ to edit)"
    return Group(table, Text(""), costs, Text(rates, style="dim"))


def metadata_text(batch: Batch) -> Text:
    """``key = value`` per metadata pair, literal."""
    if not batch.metadata:
        return Text("none", style="dim")
    text = Text()
    for index, (key, value) in enumerate(sorted(batch.metadata.items())):
        if index:
            text.append("\n")
        text.append(one_line(key, 64), style="bold")
        text.append(" = ")
        text.append(one_line(value, 512))
    return text


def files_text(batch: Batch, job: Job | None) -> Text:
    """The batch's file ids, and where each was saved if it was downloaded."""
    text = Text()
    downloads = job.downloads if job else {}
    for index, kind in enumerate(FILE_KINDS):
        if index:
            text.append("\n")
        text.append(f"{kind:>6}  ", style="bold")
        file_id = file_id_of(batch, kind)
        text.append(one_line(file_id) if file_id else "none", style="" if file_id else "dim")
        if kind in downloads:
            text.append(f"  saved: {one_line(downloads[kind])}", style="dim")
    if job is not None and job.input_path:
        text.append("\n local  ", style="bold")
        text.append(one_line(job.input_path), style="dim")
    return text


def errors_text(batch: Batch, lines: dict[int, str], note: str) -> Text:
    """Each validation error (code, message, param, line) with its input line."""
    text = Text()
    for index, item in enumerate(batch.errors[:SHOWN_ERRORS]):
        if index:
            text.append("\n\n")
        where = f"line {item.line}" if item.line is not None else "file"
        text.append(where, style="bold")
        text.append("  ")
        text.append(one_line(item.code or "error"), style="bold red")
        if item.param:
            text.append("  param ")
            text.append(one_line(item.param), style="cyan")
        text.append("\n  ")
        text.append(one_line(item.message or "", 500))
        if item.line is not None:
            text.append("\n  ")
            text.append(f"{item.line} │ ", style="dim")
            if item.line in lines:
                text.append(one_line(lines[item.line], INPUT_LINE_SHOWN), style="yellow")
            else:
                text.append(note or "input line not loaded", style="dim italic")
    hidden = len(batch.errors) - SHOWN_ERRORS
    if hidden > 0:
        text.append(f"\n\n… and {hidden} more", style="dim")
    return text
