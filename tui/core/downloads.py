"""Where downloaded files go, under which names, and how the registry remembers them.

A batch's own files (output, error, input) have one place: the results store's
``data_dir()/results/<batch>/<kind>.jsonl`` (:func:`batch_file_path`). The
inspector's downloads, the input lines shown beside validation errors and the
results browser (:func:`tui.core.results.fetch_results`) all use it, and
:func:`download_once` keeps a copy that is already there (size as the Files API
says), so a file is downloaded and kept once whichever of them asks first, and the
results still open offline. A file saved from the files screen goes to the folder
the user picks, under its own (safe) name (:func:`file_names`).

File names come from the server (a batch's input file keeps whatever name its
uploader gave it), so they are untrusted: :func:`safe_name` keeps only the last
path component, drops control characters, leading dots and anything outside a
small portable alphabet, so that ``../../.bashrc`` becomes ``bashrc`` inside the
chosen directory and never a path outside it.

The batch inspector shows the input line beside each validation error;
:func:`read_lines` reads just those lines from a local or downloaded input file
without holding the whole file in memory.

A download that breaks part way resumes (:func:`fetch_resuming`, behind
:meth:`BatchClient.download_file`): the bytes already written stay, and the next
request asks for the rest with ``Range: bytes=N-``. A server that answers the
whole file again (it ignores Range) is followed from the start, the partial bytes
dropped. The file is published only when its size is the Files API's.
:func:`rate_line` words a transfer's rate and time left for progress displays.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO

from tui.core import errors
from tui.core.models import Batch
from tui.core.registry import Job, Registry
from tui.core.sizes import format_size
from tui.core.throughput import Pace
from tui.core.timefmt import duration

if TYPE_CHECKING:
    from openai import AsyncOpenAI

    from tui.core.client import BatchClient, ContentCheck, Progress
    from tui.core.models import FileInfo

MAX_RESUMES = 1000  # breaks a download survives (each must have got the file further)
WRITE_BLOCK = 1 << 20  # bytes written to disk at a time
MAX_NAME = 120  # characters in a saved file name
LINE_LIMIT = 2000  # characters of an input line kept for display
_UNSAFE = re.compile(r"[^A-Za-z0-9._+=@,-]+")
_RESERVED = frozenset({"", ".", ".."})
BATCH_FILE_KINDS = ("output", "error", "input")


def safe_name(name: str, fallback: str = "download") -> str:
    """A file name made from untrusted ``name`` that stays in the directory it is
    joined to: last path component only, a portable alphabet, no leading dot."""
    last = re.split(r"[/\\]", name)[-1] if name else ""
    cleaned = _UNSAFE.sub("_", last).strip("._ ")
    if cleaned in _RESERVED or not cleaned.strip("_"):
        cleaned = _UNSAFE.sub("_", fallback).strip("._ ") or "download"
    if len(cleaned) > MAX_NAME:
        stem, dot, suffix = cleaned.rpartition(".")
        if dot and 0 < len(suffix) <= 10:
            cleaned = stem[: MAX_NAME - len(suffix) - 1] + "." + suffix
        else:
            cleaned = cleaned[:MAX_NAME]
    return cleaned


def inside(directory: Path, name: str, fallback: str = "download") -> Path:
    """``directory / safe_name(name)``; asserts the result is really inside it."""
    directory = Path(directory)
    target = directory / safe_name(name, fallback)
    if target.resolve().parent != directory.resolve():
        raise ValueError(f"refusing to write outside {directory}: {name!r}")
    return target


def file_names(directory: Path, filename: str, file_id: str) -> Iterator[Path]:
    """Names to save a file under in ``directory``, best first: the server's name made
    safe, then with the file id, then with the id and a number (``a.file-1.2.jsonl``).

    A caller publishes with ``replace=False`` and, if the name was taken, takes the next.
    """
    fallback = f"{file_id}.jsonl"
    first = inside(directory, filename, fallback)
    yield first
    stem, dot, suffix = first.name.rpartition(".") if "." in first.name else (first.name, "", "")
    number = 1
    while True:
        tag = file_id if number == 1 else f"{file_id}.{number}"
        end = f".{tag}.{suffix}" if dot else f".{tag}"
        yield inside(directory, stem[: max(MAX_NAME - len(end), 1)] + end, fallback)
        number += 1


def batch_file_path(batch_id: str, kind: str) -> Path:
    """The one place of a batch's ``kind`` file (``output``, ``error``, ``input``): the
    name the results store gives it, ``data_dir()/results/<batch>/<kind>.jsonl``."""
    from tui.core.results import results_dir

    if kind not in BATCH_FILE_KINDS:
        raise ValueError(f"a batch has no {kind!r} file (only {', '.join(BATCH_FILE_KINDS)})")
    return results_dir(batch_id) / f"{kind}.jsonl"


async def download_once(
    client: BatchClient,
    file_id: str,
    target: Path,
    *,
    progress: Progress | None = None,
    info: FileInfo | None = None,
) -> Path:
    """``target`` holding file ``file_id``: kept if it is already there with the size
    the Files API reports (downloaded before, by anyone), else downloaded (checked,
    atomically; see :meth:`BatchClient.download_file`)."""
    info = info if info is not None else await client.retrieve_file(file_id)
    try:
        size = target.stat().st_size if target.is_file() else None
    except OSError:
        size = None
    if info.bytes and size == info.bytes:
        if progress is not None:
            progress(size, size)
        return target
    await client.download_file(file_id, target, progress=progress, info=info)
    return target


async def fetch_resuming(
    sdk: AsyncOpenAI,
    info: FileInfo,
    destination: Path,
    *,
    progress: Progress | None = None,
    replace: bool = True,
) -> Path:
    """Stream file ``info.id`` to ``destination``, resuming after a break.

    The bytes go to a private temp file beside ``destination`` (renamed over it only
    when complete and checked, :class:`~tui.core.client.ContentCheck`). A break after
    the file got further asks for the rest with ``Range``; a break that left it no
    further (the SDK has already retried the request) is raised as it is."""
    from tui.core.client import _flush_and_sync
    from tui.core.fsutil import atomic_file

    destination = Path(destination)
    with atomic_file(destination, sync=False, overwrite=replace) as out:
        transfer = _Transfer(sdk, info, out, progress)
        for _ in range(MAX_RESUMES + 1):
            before = transfer.check.received
            try:
                await transfer.stream(before)
                break
            except errors.NetworkError:
                if transfer.check.received <= before:
                    raise  # the file got no further: not a break to resume from
        else:
            raise errors.NetworkError(f"Download of {info.id} broke {MAX_RESUMES} times.")
        transfer.check.finish()
        await asyncio.to_thread(_flush_and_sync, out)
    return destination


class _Transfer:
    """One download into ``out``: its check and the requests that fill it."""

    def __init__(
        self, sdk: AsyncOpenAI, info: FileInfo, out: IO[bytes], progress: Progress | None
    ) -> None:
        from tui.core.client import ContentCheck

        self.sdk, self.info, self.out, self.progress = sdk, info, out, progress
        self.check: ContentCheck = ContentCheck(info)

    async def stream(self, start: int) -> None:
        """One request from byte ``start`` to the end (a NetworkError if it breaks)."""
        from tui.core.client import translate_errors

        headers = {"Range": f"bytes={start}-", "Accept-Encoding": "identity"} if start else {}
        with translate_errors():
            async with self.sdk.files.with_streaming_response.content(
                self.info.id, extra_headers=headers
            ) as response:
                wire = response.http_response
                if start and not _resumes_at(wire, start):
                    await asyncio.to_thread(self._restart)  # not the rest: start over
                    if wire.status_code != 200:
                        return await self.stream(0)  # a part we cannot use: ask for all
                    start = 0  # the whole file came again (Range ignored): keep it
                length = response.headers.get("content-length")
                wire_total = int(length) if length and length.isdigit() else None
                pending = bytearray()  # what arrived, written a block at a time
                try:
                    async for chunk in response.iter_bytes():  # as it comes: a break keeps it
                        pending += chunk
                        if len(pending) >= WRITE_BLOCK:
                            await self._write(pending)
                            pending = bytearray()
                            self._report(start, wire.num_bytes_downloaded, wire_total)
                finally:
                    await self._write(pending)
                self._report(start, wire.num_bytes_downloaded, wire_total)
                if wire_total is not None and wire.num_bytes_downloaded != wire_total:
                    raise errors.NetworkError(
                        f"Download of {self.info.id} stopped at "
                        f"{start + wire.num_bytes_downloaded} of {start + wire_total} bytes."
                    )
        return None

    async def _write(self, block: bytearray) -> None:
        from tui.core.client import _write_checked

        if block:
            await asyncio.to_thread(_write_checked, self.out, self.check, bytes(block))

    def _restart(self) -> None:
        from tui.core.client import ContentCheck

        self.out.seek(0)
        self.out.truncate()
        self.check = ContentCheck(self.info)

    def _report(self, start: int, wire_done: int, wire_total: int | None) -> None:
        if self.progress is None:
            return
        if wire_total is not None:  # compressed or not, count wire bytes
            self.progress(start + wire_done, start + wire_total)
        else:
            self.progress(self.check.received, self.check.expected)


def _resumes_at(response: Any, start: int) -> bool:
    """Whether ``response`` is the rest of the file from byte ``start`` (a 206 whose
    ``Content-Range`` starts there, in plain bytes)."""
    if response.status_code != 206:
        return False
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    content_range = response.headers.get("content-range", "")
    match = re.fullmatch(r"\s*bytes\s+(\d+)-\d+/(\d+|\*)\s*", content_range)
    return encoding == "identity" and match is not None and int(match.group(1)) == start


def progress_line(pace: Pace, done: int, total: int | None) -> str:
    """``45% (1.0 MB/s, 10s left)``, or the bytes done without a total: ``done`` is
    added to ``pace`` (a sample now) first."""
    import time

    pace.add(time.monotonic(), done)
    share = f"{done * 100 // total}%" if total else format_size(done)
    rate = rate_line(pace, done, total)
    return f"{share} ({rate})" if rate else share


def rate_line(pace: Pace, done: int, total: int | None) -> str:
    """``3.2 MB/s, 12s left`` from ``pace``'s samples of bytes done; ``""`` until
    there are two samples; no time left without a total or a rate."""
    estimate = pace.estimate(total or 0)
    if estimate.per_minute is None:
        return ""
    rate = f"{format_size(int(estimate.per_minute / 60))}/s"
    if total is None or done >= total or not estimate.seconds_left:
        return rate
    return f"{rate}, {duration(estimate.seconds_left)} left"


def job_for_batch(registry: Registry, batch: Batch, *, profile: str | None = None) -> Job:
    """The registry job of ``batch``, made (job id = batch id) if it has none."""
    job = registry.find_by_batch(batch.id)
    if job is None:
        job = registry.record_snapshot(batch, create=True)
        if job is None:  # a job id equal to this batch id holds another batch
            job = registry.add(Job(batch_id=batch.id, snapshot=batch.to_dict()))
        if profile and not job.profile:
            job = registry.update(job.job_id, profile=profile)
    return job


def record_download(
    registry: Registry, batch: Batch, kind: str, path: Path, *, profile: str | None = None
) -> Job:
    """Remember in the batch's job that its ``kind`` file was saved at ``path``."""
    job = job_for_batch(registry, batch, profile=profile)

    def add(current: Job) -> Job:
        return replace(current, downloads={**current.downloads, kind: str(path)})

    return registry.modify(job.job_id, add)


def read_lines(path: Path, wanted: Iterable[int], limit: int = LINE_LIMIT) -> dict[int, str]:
    """The 1-based ``wanted`` lines of a file, each cut to ``limit`` characters.

    Streams the file once and stops after the last wanted line; a line is never
    held longer than needed to cut it. Lines past the end are simply missing.
    """
    targets = sorted({n for n in wanted if n >= 1})
    found: dict[int, str] = {}
    if not targets:
        return found
    last = targets[-1]
    want = set(targets)
    byte_limit = limit * 4 + 4
    with open(path, "rb") as handle:
        for number, raw in enumerate(_capped_lines(handle, byte_limit), start=1):
            if number in want:
                text = raw.rstrip(b"\r\n").decode("utf-8", errors="replace")
                found[number] = text if len(text) <= limit else text[: limit - 1] + "…"
            if number >= last:
                break
    return found


def _capped_lines(stream: BinaryIO, cap: int) -> Iterator[bytes]:
    """Each line of a binary file, at most ``cap`` bytes of it (the rest skipped)."""
    while True:
        head = stream.readline(cap)
        if not head:
            return
        if not head.endswith(b"\n"):
            while True:  # skip the rest of a long line, a block at a time
                rest = stream.readline(1 << 16)
                if not rest or rest.endswith(b"\n"):
                    break
        yield head
