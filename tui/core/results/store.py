"""The local store of a batch's result files.

The output, error and input files of a final batch are downloaded once into
``data_dir()/results/<batch>/`` (each through a private temp file renamed into place
only when complete, then checked against the server's size) with a
``manifest.json`` written last, so a copy with a manifest is complete and opens
offline (:func:`fetch_results`, :func:`load_local`). Retries of the batch (registry
jobs whose ``retry_of`` is its id) are fetched the same way by
:func:`open_attempts`. asyncio and the client are imported only when downloading.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from tui.core.results.index import Attempt, file_size
from tui.core.results.rows import NoResultsError

if TYPE_CHECKING:
    from tui.core.client import BatchClient
    from tui.core.models import Batch
    from tui.core.registry import Job, Registry

MANIFEST = "manifest.json"
FILE_KINDS = ("output", "error", "input")


class LocalResults(msgspec.Struct, frozen=True):
    """A complete local copy of a final batch's files."""

    batch: Batch
    directory: Path
    output: Path | None
    error: Path | None
    input: Path | None

    def attempt(self, number: int) -> Attempt:
        return Attempt(
            self.batch.id,
            number,
            output=self.output,
            error=self.error,
            input=self.input,
            endpoint=self.batch.endpoint,
            status=self.batch.status,
        )


DownloadProgress = Callable[[str, int, int | None], None]
"""Called with (what: "output"/"error"/"input", bytes done, bytes total or None)."""


def results_dir(batch_id: str) -> Path:
    """``data_dir()/results/<batch id made safe as a file name>``."""
    from tui.core import paths
    from tui.core.registry import RECORD_SUFFIX, record_name

    return paths.data_dir() / "results" / record_name(batch_id).removesuffix(RECORD_SUFFIX)


def load_local(batch_id: str) -> LocalResults | None:
    """The complete local copy of ``batch_id``'s results, if one was made."""
    from tui.core.models import Batch

    directory = results_dir(batch_id)
    try:
        manifest = json.loads((directory / MANIFEST).read_bytes())
        batch = Batch.from_dict(manifest["batch"])
        files = manifest.get("files") or {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    found: dict[str, Path | None] = {}
    for kind in FILE_KINDS:
        entry = files.get(kind)
        if not isinstance(entry, dict):
            found[kind] = None
            continue
        path = Path(str(entry.get("path") or directory / f"{kind}.jsonl"))
        expected = entry.get("bytes")
        if file_size(path) != expected and not (expected == 0 and path.is_file()):
            return None  # a file went missing or changed: not a complete copy
        found[kind] = path
    return LocalResults(batch, directory, found["output"], found["error"], found["input"])


LEFTOVER_AGE = 600.0
"""A temp file untouched this long (seconds) is a crashed download's, not a running one's."""


def _clear_leftovers(directory: Path, now: float | None = None) -> None:
    """Temp files of downloads a crash interrupted (atomic_file names them ``.*.tmp``).

    The inspector downloads into the same folder, and a running download writes its
    temp file all the time: only one left untouched for :data:`LEFTOVER_AGE` goes."""
    now = time.time() if now is None else now
    for stray in directory.glob(".*.tmp"):
        with contextlib.suppress(OSError):
            if now - stray.stat().st_mtime > LEFTOVER_AGE:
                stray.unlink()


async def fetch_results(
    client: BatchClient,
    batch_id: str,
    *,
    registry: Registry | None = None,
    progress: DownloadProgress | None = None,
) -> LocalResults:
    """Download a final batch's output, error and input files once.

    A complete local copy is used as it is. Otherwise the batch is retrieved; one
    that is not final or has neither an output nor an error file raises
    :class:`NoResultsError`. Each file is streamed to a temp file renamed into place
    when complete and then checked against the size the server reports. The input
    file is optional: if the server no longer has it, the registry's local input
    path is used when it exists. The registry's job (if any) records the paths.
    """
    import asyncio  # here, not at the top: it costs an index-only process ~25 ms

    from tui.core import errors, paths
    from tui.core.downloads import batch_file_path, download_once
    from tui.core.fsutil import atomic_write

    local = load_local(batch_id)
    if local is not None:
        return local
    from tui.core.anthropic_client import AnthropicBatchClient

    if isinstance(client, AnthropicBatchClient):  # one results JSONL, no files
        from tui.core.anthropic_results import fetch_anthropic_results

        return await fetch_anthropic_results(client, batch_id, registry=registry)
    batch = await client.retrieve_batch(batch_id)
    if not batch.is_final:
        raise NoResultsError(f"batch {batch_id} is {batch.status}: its results are not ready yet")
    if not batch.output_file_id and not batch.error_file_id:
        raise NoResultsError(f"batch {batch_id} ({batch.status}) has no output or error file")
    directory = paths.ensure_private_dir(results_dir(batch_id))
    _clear_leftovers(directory)
    job = await asyncio.to_thread(registry.find_by_batch, batch_id) if registry else None
    files: dict[str, dict[str, Any]] = {}
    for kind, file_id in (
        ("output", batch.output_file_id),
        ("error", batch.error_file_id),
        ("input", batch.input_file_id),
    ):
        if not file_id:
            continue
        try:
            report = functools.partial(progress, kind) if progress else None
            path = await download_once(
                client, file_id, batch_file_path(batch_id, kind), progress=report
            )
            size = file_size(path)
        except errors.NotFoundError:
            if kind != "input":
                raise
            own = Path(job.input_path) if job is not None and job.input_path else None
            if own is None or not own.is_file():
                continue  # results still open; missing requests cannot be told
            path, size = own, file_size(own)
        files[kind] = {"id": file_id, "path": str(path), "bytes": size}
    manifest = {"batch": batch.to_dict(), "files": files, "downloaded_at": int(time.time())}
    atomic_write(directory / MANIFEST, json.dumps(manifest, indent=2).encode())
    if registry is not None and job is not None:
        downloads = {**job.downloads, **{kind: entry["path"] for kind, entry in files.items()}}
        await asyncio.to_thread(_record_results, registry, job.job_id, downloads, batch)
    result = load_local(batch_id)
    if result is None:  # pragma: no cover - a file changed under us
        raise NoResultsError(f"the downloaded files of {batch_id} changed while being written")
    return result


def _record_results(
    registry: Registry, job_id: str, downloads: dict[str, str], batch: Batch
) -> None:
    """Remember in the job where its files were saved and the batch as last seen."""
    registry.update(job_id, downloads=downloads)
    registry.record_snapshot(batch)


def retry_parent(job: Job) -> str | None:
    """The batch ``job`` retries. ``retry_of``, except for a part of the local queue:
    there ``retry_of`` links the attempts of one part (job ids), and a retry sent
    through the queue keeps its parent batch in the queue table (``retry_of_batch``)."""
    table = (job.submission or {}).get("queue")
    if not isinstance(table, dict):
        return job.retry_of
    parent = table.get("retry_of_batch")
    return parent if isinstance(parent, str) and parent else None


def retries_of(registry: Registry, batch_id: str) -> list[str]:
    """Batch ids of the retries of ``batch_id`` and of their retries, oldest first
    (a queue part's attempt that was sent again, e.g. after ``token_limit_exceeded``,
    is left out: the later attempt has its requests)."""
    every = registry.load().values()
    again = {job.retry_of for job in every if job.retry_of and retry_parent(job) != job.retry_of}
    jobs = [j for j in every if j.batch_id and retry_parent(j) and j.job_id not in again]
    jobs.sort(key=lambda job: job.created_at)
    lineage = {batch_id}
    out: list[str] = []
    for job in jobs:
        if retry_parent(job) in lineage and job.batch_id not in lineage:
            lineage.add(job.batch_id)  # type: ignore[arg-type]
            out.append(job.batch_id)  # type: ignore[arg-type]
    return out


class RetryLinks(msgspec.Struct, frozen=True):
    """How a batch is tied to retries in the registry: the batch it retries (if it is
    a retry) and the batches that retry it, oldest first."""

    retry_of: str | None = None
    retried_by: tuple[str, ...] = ()

    def describe(self) -> str:
        """``retry of X · retried by Y, Z``, or ``""`` when there is no link."""
        parts = []
        if self.retry_of:
            parts.append(f"retry of {self.retry_of}")
        if self.retried_by:
            parts.append(f"retried by {', '.join(self.retried_by)}")
        return " · ".join(parts)


def retry_links(registry: Registry, batch_id: str) -> RetryLinks:
    """Both directions of the retry link of ``batch_id``, from the registry."""
    parent = None
    children = []
    for job in registry.load().values():
        of = retry_parent(job)
        if job.batch_id == batch_id and of:
            parent = of
        elif of == batch_id and job.batch_id:
            children.append((job.created_at, job.batch_id))
    return RetryLinks(parent, tuple(batch for _, batch in sorted(children)))


class Opened(msgspec.Struct, frozen=True):
    """The attempts to index and what could not be included (as plain messages)."""

    attempts: list[Attempt]
    batch: Batch
    notes: list[str]


async def open_attempts(
    client: BatchClient,
    batch_id: str,
    *,
    registry: Registry | None = None,
    progress: DownloadProgress | None = None,
) -> Opened:
    """The batch's local files (downloaded if needed) and those of its final retries."""
    import asyncio

    from tui.core import errors

    first = await fetch_results(client, batch_id, registry=registry, progress=progress)
    attempts = [first.attempt(0)]
    notes: list[str] = []
    retry_ids = await asyncio.to_thread(retries_of, registry, batch_id) if registry else []
    for retry_id in retry_ids:
        try:
            local = await fetch_results(client, retry_id, registry=registry, progress=progress)
        except NoResultsError as exc:
            notes.append(f"retry {retry_id} not included: {exc}")
            continue
        except errors.ApiError as exc:
            notes.append(f"retry {retry_id} not included: {exc.message}")
            continue
        attempts.append(local.attempt(len(attempts)))
    return Opened(attempts, first.batch, notes)


def retry_path(batch_id: str) -> Path:
    """Where the next retry file of ``batch_id`` goes (in its results directory)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return results_dir(batch_id) / f"retry-{stamp}-{os.urandom(3).hex()}.jsonl"
