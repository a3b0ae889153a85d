"""The server's first page of batches, listed by a short-lived child process while
the app starts (POSIX only; elsewhere nothing changes).

Importing the SDK takes about as long as Textual's whole start-up, and in one
process the two take turns (the GIL). So ``batchdeck``, first thing (before it has
imported more than this module, let alone Textual, and before any thread exists),
forks (:func:`fork`) a child that reads the profile as the parent does
(``config.toml``, the inherited environment), imports the SDK, lists the first page
with the request of the batches screen's first listing (``GET /batches``, the same
limit) through the SDK's sync ``OpenAI`` client, built from the options
``BatchClient``'s is built from (:func:`~tui.core.sdk_options.openai_options`: no
event loop, no ``tui.core.client``), writes the server's answer to a pipe and exits,
while the app starts on the other core. Every module the parent imports before the fork
adds to the page's time (the child would import the same ones on the other core).
Once the parent has its client it hands the child over (:func:`hand_over`); the page
counts only if the child's profile is the client's (its ``repr`` heads the page):
else, or for a profile that is not :func:`eligible`, it is as if there were no
child. The batches screen takes that page (:func:`take`) as its first page, built
by the same code (:func:`~tui.core.client.page_items`, ``Batch.from_dict``), and
lists the rest with its own client.

- Only a page travels. Anything else (an error status, no answer, a page that
  comes late or broken) makes :func:`take` return ``None`` and the screen lists
  as it does without a prefetch: an error reads as it always did, and once.
- The child sends one request (no retries: the screen's own listing retries),
  lives at most :data:`CHILD_SECONDS` (``SIGALRM``), draws nothing (its standard
  streams are ``/dev/null``) and is always reaped: by :func:`take` once its page is
  in, else by :meth:`Prefetch.close` (killed first) when the app ends.
- It runs in a process group of its own (no terminal signals; it never needs the
  terminal), in the app's session: where Linux groups processes by session for the
  scheduler (autogroup), the app and the child share one share of a busy CPU. If
  the registry holds jobs (the app has cached rows to paint first), it runs at the
  lowest priority and the app comes first: a cached first frame is then not held
  up by the child's SDK import (on a loaded 2-core machine, in a session of its own
  it cost ~1.3-1.4x the minimal app against ~1.1x), and the child gets the CPU as
  soon as the app waits (after its first frame). With no jobs the page is the
  first thing to show, and the child keeps the app's priority: at the lowest, its
  core looks idle to the scheduler, and any other process that wakes (a terminal,
  a shell) is put there and stops it.
- The parent's own SDK import waits until the page is on screen (:func:`settled`,
  from ``BatchClient.prepare``; the screen says so with :func:`shown` after the
  table's refresh with its rows, usually the frame that draws them: Textual has no
  hook after a frame is written, and under load that frame can come later) or there
  is none: at the same time it would slow the
  child (cores) and the page's paint (the GIL: ~60 ms more from the page read to
  the rows on the terminal; begun when the rows were only in the table, it held up
  their frame by ~100-200 ms on a loaded machine).
- The key reaches the child as it reached the parent: the inherited environment.
"""

from __future__ import annotations

import contextlib
import os
import signal
from typing import TYPE_CHECKING

# Nothing more at module level: ``batchdeck`` imports this module before it forks.
if TYPE_CHECKING:
    import logging

    from tui.core.client import BatchClient
    from tui.core.config import Profile
    from tui.core.models import Batch

CHILD_SECONDS = 30  # the child's whole life at most; the parent waits no longer
SHOWN_SECONDS = 2.0  # a page taken but never said :func:`shown` holds the SDK no longer
_CHUNK = 1 << 16


class FirstPage:
    """The first page of batches, built, and the cursor of the next (``None``: none).
    A plain class: a ``NamedTuple`` costs ~2 M instructions to define, before the fork."""

    __slots__ = ("after", "batches")

    def __init__(self, batches: list[Batch], after: str | None) -> None:
        self.batches = batches
        self.after = after


class Prefetch:
    """A forked child listing the first page: :meth:`read` its page once (on the
    app's event loop: no thread to join at exit), :meth:`close` it always."""

    def __init__(self, pid: int, fd: int) -> None:
        import asyncio

        self.pid = pid
        self._fd = fd  # the pipe's read end
        self.profile: str | None = None  # the repr of the client's profile, once handed over
        self._status: int | None = None  # the child's exit code once reaped
        self.taken = False  # by the first listing (:func:`take`)
        self.done = asyncio.Event()  # the page is on screen, or there is none

    async def read(self, timeout: float = CHILD_SECONDS) -> bytes | None:
        """The child's page: its bytes if it sent them all, for the profile it was
        handed over with, and exited well within ``timeout`` seconds, else ``None``.
        The child is reaped (ended first if late, or if the caller is cancelled)."""
        import asyncio

        if self._fd < 0:
            return None
        loop = asyncio.get_running_loop()
        chunks: list[bytes] = []
        ended: asyncio.Future[bool] = loop.create_future()  # True: the pipe ended well

        def readable() -> None:
            try:
                chunk = os.read(self._fd, _CHUNK)
            except OSError:
                chunk = None
            if chunk:
                chunks.append(chunk)
            elif not ended.done():  # end of file: all written, the child exits
                ended.set_result(chunk is not None)

        finished = False
        loop.add_reader(self._fd, readable)
        try:
            finished = await asyncio.wait_for(ended, timeout)
        except TimeoutError:
            pass
        finally:
            loop.remove_reader(self._fd)
            exited_well = self._end(wait=finished)
        profile, _, page = b"".join(chunks).partition(b"\n")
        if finished and exited_well and self.profile is not None:
            if profile == self.profile.encode():
                return page
            _log().warning("the prefetched first page is of another profile")
        self.done.set()
        return None

    def close(self) -> bool:
        """End the child (if it still runs) and reap it; whether it exited well.
        Safe to call again."""
        exited_well = self._end(wait=False)
        self.done.set()
        return exited_well

    def _end(self, *, wait: bool) -> bool:
        """End the child (at once unless ``wait``: it has closed the pipe, so it is
        ending) and reap it; whether it exited well."""
        if self._status is None:
            self._status = _reap(self.pid, wait=wait)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        return self._status == 0


_handed: tuple[BatchClient, Prefetch] | None = None  # the child, for this client


def fork(profile_name: str | None) -> Prefetch | None:
    """Fork the child that lists the first page of the profile ``profile_name``
    (``None``: the config's default) as ``config.toml`` and the environment give it;
    ``None`` (no child) without ``fork`` (Windows). Call it before any thread exists,
    and :func:`hand_over` (or :meth:`Prefetch.close`) what it returns."""

    if not hasattr(os, "fork"):
        return None
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        return None
    if pid == 0:  # pragma: no cover - the child; measured by the tests from outside
        os.close(read_fd)
        _child(profile_name, write_fd)
    os.close(write_fd)
    return Prefetch(pid, read_fd)


def hand_over(prefetch: Prefetch, client: BatchClient) -> None:
    """Give ``prefetch``'s page to ``client``'s first listing (:func:`take`), if its
    profile is :func:`eligible` (else the child is ended now)."""
    if not eligible(client.profile):
        prefetch.close()
        return
    global _handed
    prefetch.profile = repr(client.profile)
    _handed = (client, prefetch)


def eligible(profile: Profile) -> bool:
    """Whether the first page of ``profile`` is prefetched: an OpenAI-compatible
    server (Azure and Anthropic have clients and listings of their own)."""
    return profile.provider not in ("azure", "anthropic")


async def take(client: BatchClient) -> FirstPage | None:
    """The first page handed over for ``client``, once, or ``None``: none was, it was
    taken, or the child had no page."""
    if _handed is None or _handed[0] is not client or _handed[1].taken:
        return None
    prefetch = _handed[1]
    prefetch.taken = True
    content = await prefetch.read()
    page = None if content is None else parse(content)
    if page is None:
        prefetch.done.set()
    else:  # the screen says :func:`shown`; if it never does, the SDK waits no longer
        import asyncio

        asyncio.get_running_loop().call_later(SHOWN_SECONDS, prefetch.done.set)
    return page


def shown(client: BatchClient) -> None:
    """The page :func:`take` gave for ``client`` is on screen: the SDK may load."""
    if _handed is not None and _handed[0] is client:
        _handed[1].done.set()


async def settled(client: BatchClient) -> None:
    """Return once the page handed over for ``client``, if any, is on screen (or
    will not be): the SDK's import, at the same time, would slow the child down
    (both need a core) and hold up the page's paint (the GIL)."""
    if _handed is not None and _handed[0] is client:
        import asyncio

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_handed[1].done.wait(), CHILD_SECONDS)


def parse(content: bytes) -> FirstPage | None:
    """The child's page (the server's answer), decoded and built as the listing does
    it; ``None`` if it cannot be."""
    from tui.core.client import list_page, page_items
    from tui.core.errors import ServerError
    from tui.core.models import Batch

    try:
        page = list_page(content, "/batches")
        batches, after = page_items(page, Batch.from_dict, "list /batches")
    except ServerError as exc:  # the screen's listing will say so
        _log().warning("the prefetched first page is unusable: %s", exc)
        return None
    return FirstPage(batches, after)


def _log() -> logging.Logger:
    import logging

    return logging.getLogger(__name__)


def _reap(pid: int, *, wait: bool) -> int:
    """Reap ``pid`` (killed first unless ``wait`` or it has ended); its exit code."""
    try:
        done, status = os.waitpid(pid, 0 if wait else os.WNOHANG)
        if done == 0:
            os.kill(pid, signal.SIGKILL)
            done, status = os.waitpid(pid, 0)
    except ChildProcessError:  # reaped elsewhere
        return -1
    return os.waitstatus_to_exitcode(status)


def _has_jobs() -> bool:
    """Whether the job registry holds a record (one ``.toml`` file per job): then the
    app has cached rows to paint before any page (``screens/batches_start.py``)."""
    from tui.core.paths import registry_dir

    try:
        with os.scandir(registry_dir()) as entries:
            return any(entry.name.endswith(".toml") for entry in entries)
    except OSError:  # no registry yet
        return False


def _child(profile_name: str | None, write_fd: int) -> None:  # pragma: no cover
    """List the first page of the profile ``profile_name`` (read from the config here,
    in the child), write the profile's ``repr``, a newline and
    the page to ``write_fd``, exit: 0 once it is all written."""
    code = 1
    try:
        if _has_jobs():  # cached rows to paint first: behind the app (module docstring)
            os.nice(19)
        os.setpgid(0, 0)  # no terminal signals (Ctrl-C, hang-up) reach it
        signal.alarm(CHILD_SECONDS)  # SIGALRM's default action ends the child
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        import gc

        gc.disable()  # a short life: the SDK's import alone goes ~10% faster without it
        from tui.core.config import load_config

        chosen = load_config().profile(profile_name)
        if not eligible(chosen):
            raise LookupError(f"no first page for a {chosen.provider} profile")
        content = repr(chosen).encode() + b"\n" + _first_page(chosen)
        view = memoryview(content)
        while view:
            view = view[os.write(write_fd, view) :]
        code = 0
    except BaseException:  # no page: the screen's own listing runs and says why
        code = 1
    finally:
        os._exit(code)


def _first_page(profile: Profile) -> bytes:  # pragma: no cover - forked
    """The first page of batches as the server sent it: the listing's request
    (``BatchClient.iter_batch_pages``: ``GET /batches``, the same limit), through the
    SDK's sync client built from the profile's options (no event loop to start, no
    decoding here: :func:`parse` builds it)."""
    import httpx2
    import openai

    from tui.core.sdk_options import BATCH_PAGE_LIMIT, openai_options

    sdk = openai.OpenAI(**openai_options(profile, max_retries=0))  # one request, no retries
    query = {"limit": BATCH_PAGE_LIMIT}
    response = sdk.get("/batches", cast_to=httpx2.Response, options={"params": query})
    return response.content
