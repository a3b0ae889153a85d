"""Fault injection: make the server slow, rate limited, broken or rude, on purpose.

Deterministic use (tests)::

    server.faults.add("429", times=2, path="/v1/batches", retry_after=0.05)
    server.faults.add("500", times=1, path="/v1/files*")
    server.faults.add("drop", times=1, method="GET")      # close, no response
    server.faults.add("drop_after", path="/v1/batches")   # do it, then close
    server.faults.add("latency", delay=0.2, times=None)   # every request, +0.2 s
    server.faults.add("file_404", times=2)                # the next 2 file lookups 404

Kinds: ``latency`` (sleep ``delay`` real seconds, then carry on), a status code
(``"429"``, ``"500"``, ``"502"``, ``"503"``, any 4xx/5xx: answer with that error and,
if ``retry_after`` is set, ``Retry-After``/``retry-after-ms`` headers; a 429 has
``Retry-After: 1`` unless told otherwise), ``drop`` (close the connection without a
response, before handling) and ``drop_after`` (handle the request, so its effect
happens, then close without a response: the "did my create go through?" case).
Content faults (for downloads, see :func:`content_fault`): ``cut`` sends the full
``Content-Length`` but only ``fraction`` of the bytes of a download without a Range
header, then closes the connection; ``no_range`` answers as a server that ignores
``Range`` (the whole file, status 200).

``file_404`` reproduces the real API's eventual consistency under load: a file just
uploaded is not found for a moment. While it lasts, a lookup of a file that exists
answers 404 ``No such File object: <id>`` exactly as for an unknown file: ``GET
/v1/files/{id}`` and ``POST /v1/batches`` naming it as ``input_file_id`` (uploads,
lists, content downloads and deletes are left alone). For this kind ``path`` is an
fnmatch pattern on the *file id* (``"*"`` = any file), and ``times`` counts lookups:
``add("file_404", times=2)`` makes the next two lookups fail, whichever file they
name; the handlers ask :meth:`Faults.file_missing`.

``path`` is an fnmatch pattern on the URL path (``"*"`` = any), ``method`` an HTTP
method or None for any, ``times`` how often it fires (None = forever) and
``probability`` the chance it fires on a matching request (drawn from a seeded
random generator). Latency faults add up; of the other kinds, the first matching
one fires. :attr:`Faults.fired` records what fired, for assertions.

Chaos from the command line: :meth:`Faults.add_spec` takes ``KIND:RATE[:ARG]``, e.g.
``429:0.1`` (10 % of requests), ``drop:0.02``, ``latency:0.2:1.5`` (20 % of requests
wait 1.5 s; the default wait is 0.5 s), ``cut:0.1:0.3`` (10 % of downloads stop after
30 % of their bytes; the default is half).
"""

from __future__ import annotations

import asyncio
import fnmatch
import random
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from multidict import CIMultiDict

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

TERMINAL_KINDS = ("drop", "drop_after")
CONTENT_KINDS = ("cut", "no_range")
FILE_404 = "file_404"


@dataclass(slots=True)
class Fault:
    kind: str
    path: str = "*"
    method: str | None = None
    times: int | None = 1
    probability: float = 1.0
    delay: float = 0.5
    retry_after: float | None = None
    fired: int = 0
    fraction: float = 0.5  # ``cut``: the share of the bytes sent

    @property
    def status(self) -> int | None:
        return int(self.kind) if self.kind.isdigit() else None

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def matches(self, method: str, path: str) -> bool:
        if self.exhausted:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return fnmatch.fnmatchcase(path, self.path)


class Faults:
    """The server's fault plan; safe to change from any thread while it runs."""

    def __init__(self, seed: int | None = 0) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self.fired: list[tuple[str, str, str]] = []
        """(kind, method, path) of every fault that fired, in order."""

    def add(
        self,
        kind: str,
        *,
        path: str = "*",
        method: str | None = None,
        times: int | None = 1,
        probability: float = 1.0,
        delay: float = 0.5,
        retry_after: float | None = None,
        fraction: float = 0.5,
    ) -> Fault:
        kind = str(kind).lower()
        if kind not in ("latency", FILE_404, *TERMINAL_KINDS, *CONTENT_KINDS) and not (
            kind.isdigit() and 400 <= int(kind) <= 599
        ):
            raise ValueError(
                f"unknown fault kind {kind!r}: latency, drop, drop_after, file_404, cut, "
                "no_range or 4xx/5xx"
            )
        if not 0.0 <= probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if kind == "429" and retry_after is None:
            retry_after = 1.0
        if not 0.0 <= fraction < 1.0:
            raise ValueError("fraction must be at least 0 and below 1")
        fault = Fault(kind, path, method, times, probability, delay, retry_after, fraction=fraction)
        with self._lock:
            self._faults.append(fault)
        return fault

    def add_spec(self, spec: str) -> Fault:
        """``KIND:RATE[:ARG]`` from the command line, firing at random forever."""
        parts = spec.strip().split(":")
        if len(parts) not in (2, 3):
            raise ValueError(f"fault {spec!r}: expected KIND:RATE or KIND:RATE:ARG")
        kind, rate = parts[0], float(parts[1])
        arg = float(parts[2]) if len(parts) == 3 else None
        if kind == "latency":
            return self.add(kind, times=None, probability=rate, delay=arg or 0.5)
        if kind == "cut":
            return self.add(
                kind, times=None, probability=rate, fraction=0.5 if arg is None else arg
            )
        return self.add(kind, times=None, probability=rate, retry_after=arg)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.fired.clear()

    @property
    def active(self) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults if not f.exhausted]

    def pick(self, method: str, path: str) -> tuple[float, Fault | None]:
        """For one request: total latency to add, and the terminal fault to apply."""
        if not self._faults:  # no plan: the common case, without taking the lock
            return 0.0, None
        delay = 0.0
        chosen: Fault | None = None
        with self._lock:
            for fault in self._faults:
                if fault.kind == FILE_404 or not fault.matches(method, path):
                    continue
                if fault.kind != "latency" and chosen is not None:
                    continue
                if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                    continue
                fault.fired += 1
                self.fired.append((fault.kind, method, path))
                if fault.kind == "latency":
                    delay += fault.delay
                else:
                    chosen = fault
        return delay, chosen

    def file_missing(self, file_id: str, method: str, path: str) -> bool:
        """Whether a ``file_404`` fault hides ``file_id`` from this lookup (the handler
        of ``method path`` then answers as for an unknown file)."""
        with self._lock:
            for fault in self._faults:
                if fault.kind != FILE_404 or not fault.matches(method, file_id):
                    continue
                if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                    continue
                fault.fired += 1
                self.fired.append((fault.kind, method, path))
                return True
        return False


async def content_fault(request: web.Request, handler: Handler, fault: Fault) -> web.StreamResponse:
    """Answer ``request`` through ``handler`` with a content fault (``cut``, ``no_range``)."""
    if fault.kind == "no_range":
        headers = CIMultiDict(request.headers)
        headers.popall("Range", None)
        whole = request.clone(headers=headers)
        response = await handler(whole)
        await response.prepare(whole)  # aiohttp would prepare it with the Range request
        return response
    if "Range" in request.headers:
        return await handler(request)  # a resume is answered whole; only the first is cut
    response = await handler(request)
    body = _body_of(response)
    if body is None:
        return response
    cut = web.StreamResponse(status=response.status)
    cut.content_type = response.content_type
    cut.content_length = len(body)
    await cut.prepare(request)
    await cut.write(body[: int(len(body) * fault.fraction)])
    if request.transport is not None:
        request.transport.close()  # what was written still goes out, then the end
    raise asyncio.CancelledError


def _body_of(response: web.StreamResponse) -> bytes | None:
    """The bytes ``response`` would send (a file's or a body's); None for a stream."""
    if isinstance(response, web.FileResponse):
        return Path(response._path).read_bytes()  # aiohttp keeps the path there
    if isinstance(response, web.Response) and isinstance(response.body, bytes):
        return response.body
    return None
