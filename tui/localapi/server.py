"""Run the embedded server: :class:`LocalServer` (in a thread, for tests and the demo)
and :func:`serve_main` (in the foreground, for ``batchdeck serve``).

::

    with LocalServer(tmp_path, api_key="k", time_scale=1000) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="k")
        ...

The server runs aiohttp on its own event loop in a daemon thread. Its state lives
on that loop; from other threads use :meth:`LocalServer.call` (run a function there)
or :meth:`~LocalServer.run` (await a coroutine function there) or the
helpers built on them (:meth:`~LocalServer.batch`, :meth:`~LocalServer.settle`,
:meth:`~LocalServer.advance`). ``faults`` and ``timing`` may be changed from any
thread at any time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from tui.localapi import anthropic_api
from tui.localapi.app import Context, make_app
from tui.localapi.clock import Clock, ManualClock, ScaledClock, Timing
from tui.localapi.dialects import AZURE_API_VERSIONS, Dialect, dialect_named
from tui.localapi.executors import EchoExecutor, Executor, UpstreamExecutor
from tui.localapi.faults import Faults
from tui.localapi.ids import IdFactory
from tui.localapi.lifecycle import Engine
from tui.localapi.store import Record, Store, public
from tui.localapi.token_limits import checked_limits
from tui.localapi.upstreams import DEFAULT_CONCURRENCY, UpstreamPool, check_url, display_url

log = logging.getLogger(__name__)
T = TypeVar("T")
EXECUTORS = ("echo", "upstream")


class LocalServer:
    """The embedded OpenAI-compatible Files + Batches server.

    - ``data_dir``: where files and batches live (kept across restarts).
    - ``host``/``port``: where to listen (``port=0`` picks a free port).
    - ``api_key``: if set, requests need ``Authorization: Bearer <api_key>``.
    - ``time_scale``: simulated time runs this many times faster than real time;
      ``clock`` replaces it with any callable (e.g. a :class:`ManualClock`).
    - ``executor``: ``"echo"`` (default) or ``"upstream"`` (the default when
      ``upstream`` is given): ``upstream`` is one URL or several, each taking at most
      ``upstream_concurrency`` requests at a time, with ``upstream_api_key``; a line
      is retried ``upstream_retries`` times after a 429/5xx or connection failure
      (see :mod:`tui.localapi.upstreams`); ``upstream_stats_interval`` seconds
      between the per-upstream log lines.
    - ``timing``: simulated seconds for each lifecycle step (see :class:`Timing`;
      with upstreams, ``per_request`` defaults to 0: every line is due at once);
      each batch keeps the timing it was created with. Change ``server.timing``
      between creates to give batches different paces.
    - ``faults``: a fault plan (default: an empty one at ``server.faults``).
    - ``token_limits``: model -> enqueued-token limit (see
      :mod:`tui.localapi.token_limits`); ``server.token_limits`` may be changed from
      any thread, and applies to the next batch validated.
    - ``anthropic_queue_limit``: requests allowed in the Anthropic routes' processing
      queue at once (a create over it is a 429; see :mod:`tui.localapi.anthropic_api`);
      may be changed while the server runs.
    - ``id_seed``: make new ids reproducible.
    - ``durable``: fsync writes (turn off only for throwaway data).
    - ``tick``: real seconds between background lifecycle refreshes.
    - ``access_log``: log each request to the ``aiohttp.access`` logger.
    - ``dialect``: ``"openai"`` (default), ``"azure"`` or ``"groq"`` (or a
      :class:`~tui.localapi.dialects.Dialect`): the paths, auth header, ids and limits
      of that provider (see :mod:`tui.localapi.dialects`; :attr:`base_url` follows it).
    - ``quirks``: answer batches the odd ways other services do (ISO timestamps,
      upper-case and unknown statuses, null or missing ``request_counts``, extra fields).
    """

    def __init__(
        self,
        data_dir: Path | str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        time_scale: float = 1.0,
        clock: Clock | None = None,
        executor: str | None = None,
        upstream: str | Sequence[str] | None = None,
        upstream_api_key: str | None = None,
        upstream_concurrency: int = DEFAULT_CONCURRENCY,
        upstream_retries: int = 3,
        upstream_stats_interval: float = 10.0,
        timing: Timing | None = None,
        faults: Faults | None = None,
        token_limits: Mapping[str, int] | None = None,
        id_seed: int | None = None,
        durable: bool = True,
        tick: float = 0.05,
        access_log: bool = False,
        dialect: str | Dialect = "openai",
        quirks: bool = False,
        anthropic_queue_limit: int | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port
        self.api_key = api_key or None
        self.time_scale = float(time_scale)
        self._clock_arg = clock
        self.executor_name = executor or ("upstream" if upstream else "echo")
        if self.executor_name not in EXECUTORS:
            raise ValueError(f"executor must be one of {EXECUTORS}")
        if self.executor_name == "upstream" and not upstream:
            raise ValueError("the upstream executor needs an upstream URL")
        urls = [upstream] if isinstance(upstream, str) else list(upstream or ())
        self.upstreams = [check_url(url) for url in urls]
        if upstream_concurrency < 1:
            raise ValueError("--upstream-concurrency must be at least 1")
        self.upstream_api_key = upstream_api_key
        self.upstream_concurrency = upstream_concurrency
        self.upstream_retries = upstream_retries
        self.upstream_stats_interval = upstream_stats_interval
        # Upstream lines are paced by the upstreams, not by simulated time.
        paced = Timing() if self.executor_name == "echo" else Timing(per_request=0.0)
        self.timing = timing or paced
        self.faults = faults if faults is not None else Faults()
        self.token_limits = checked_limits(token_limits)
        self.anthropic_queue_limit = anthropic_queue_limit
        self.id_seed = id_seed
        self.durable = durable
        self.tick = tick
        self.access_log = access_log
        self.dialect = dialect_named(dialect)
        self.quirks = quirks
        self.clock: Clock = clock if clock is not None else ScaledClock(self.time_scale)
        self.warnings: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._engine: Engine | None = None
        self._store: Store | None = None
        self._url: str | None = None

    # --- lifecycle -------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://host:port`` (without ``/v1``)."""
        if self._url is None:
            raise RuntimeError("the server is not running")
        return self._url

    @property
    def base_url(self) -> str:
        """The SDK's base URL: ``http://host:port/v1`` (the openai dialect),
        ``.../openai/v1`` (groq) or ``.../openai`` (azure, what ``AzureOpenAI`` makes of
        ``azure_endpoint=server.url``)."""
        return self.url + self.dialect.prefix

    @property
    def running(self) -> bool:
        return self._url is not None

    def start(self) -> str:
        """Start serving in a background thread; returns :attr:`base_url`."""
        if self._thread is not None:
            return self.base_url
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._thread_main, args=(ready, failure), name="batchdeck-localapi", daemon=True
        )
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]
        return self.base_url

    def stop(self) -> None:
        """Stop serving; state is saved. Safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        try:
            future.result(timeout=30)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=30)
            self._thread = None
            self._loop = None
            self._url = None

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _thread_main(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._startup())
        except BaseException as exc:
            failure.append(exc)
            ready.set()
            loop.close()
            return
        self._loop = loop
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    async def _startup(self) -> None:
        store = Store(self.data_dir, self.dialect.ids(self.id_seed), durable=self.durable)
        store.lock()
        try:
            self.warnings = store.load()
        except BaseException:
            store.unlock()
            raise
        if self._clock_arg is None:
            # Simulated time must not go backwards across restarts.
            start = max(time.time(), float(store.meta.get("clock", 0.0)))
            self.clock = ScaledClock(self.time_scale, start=start)
        executor: Executor
        inflight = 64  # lines of one batch in flight at once
        if self.executor_name == "upstream":
            pool = UpstreamPool(
                self.upstreams,
                api_key=self.upstream_api_key,
                concurrency=self.upstream_concurrency,
                stats_interval=self.upstream_stats_interval,
            )
            executor = UpstreamExecutor(pool, retries=self.upstream_retries)
            inflight = max(inflight, 2 * pool.capacity)  # a queue, so no upstream idles
        else:
            executor = EchoExecutor()
        engine = Engine(
            store,
            self.clock,
            executor,
            tick=self.tick,
            max_inflight=inflight,
            token_limits=self.token_limits,
        )
        engine.validate = self.dialect.validator()
        await engine.start()
        ctx = Context(
            store=store,
            engine=engine,
            faults=self.faults,
            api_key=self.api_key,
            timing=lambda: self.timing,
            request_ids=IdFactory(),
            dialect=self.dialect,
            quirks=self.quirks,
        )
        access = logging.getLogger("aiohttp.access") if self.access_log else None
        app = make_app(ctx)
        anthropic_api.limit_queue(app, lambda: self.anthropic_queue_limit, self.clock)
        runner = web.AppRunner(app, access_log=access, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            await engine.stop()
            store.unlock()
            raise
        host, port = runner.addresses[0][:2]
        self.port = int(port)
        shown = f"[{host}]" if ":" in str(host) else str(host)
        self._url = f"http://{shown}:{self.port}"
        self._store, self._engine, self._runner = store, engine, runner

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._engine is not None:
            await self._engine.stop()
            self._engine = None
        if self._store is not None:
            self._store.unlock()

    # --- access from other threads -------------------------------------------------

    @property
    def store(self) -> Store:
        """The store (use it on the server's loop only, e.g. inside :meth:`call`)."""
        if self._store is None:
            raise RuntimeError("the server is not running")
        return self._store

    @property
    def engine(self) -> Engine:
        """The lifecycle engine (use it on the server's loop only)."""
        if self._engine is None:
            raise RuntimeError("the server is not running")
        return self._engine

    def call(self, fn: Callable[[], T], timeout: float = 60.0) -> T:
        """Run the plain function ``fn()`` on the server's loop and return its result."""

        async def run() -> T:
            return fn()

        return self.run(run, timeout)

    def run(self, fn: Callable[[], Awaitable[T]], timeout: float = 60.0) -> T:
        """Await ``fn()`` on the server's loop and return its result."""
        if self._loop is None:
            raise RuntimeError("the server is not running")

        async def wrapper() -> T:
            return await fn()

        return asyncio.run_coroutine_threadsafe(wrapper(), self._loop).result(timeout)

    def settle(self) -> None:
        """Bring every batch up to the clock's now, doing every step that is due."""
        self.run(self.engine.refresh_all)

    def advance(self, seconds: float) -> None:
        """Move a :class:`ManualClock` forward and settle every batch."""
        if not isinstance(self.clock, ManualClock):
            raise TypeError("advance() needs the server to run on a ManualClock")
        self.clock.advance(seconds)
        self.settle()

    def batch(self, batch_id: str) -> dict[str, Any]:
        """A batch as the API shows it now (KeyError if unknown)."""

        async def get() -> Record | None:
            return await self.engine.refresh(batch_id)

        record = self.run(get)
        if record is None:
            raise KeyError(batch_id)
        return public(record)


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind_warning(host: str, api_key: str | None) -> str | None:
    """What to say when the server is reachable from other machines."""
    if is_loopback(host):
        return None
    return (
        f"WARNING: listening on {host}, reachable from other machines"
        + ("" if api_key else " and with no API key: anyone who can reach it can use it")
        + "."
    )


def serve_main(
    host: str,
    port: int,
    data_dir: Path | str,
    upstream: str | Sequence[str] | None,
    time_scale: float,
    api_key: str | None,
    faults: Iterable[str] = (),
    *,
    upstream_api_key: str | None = None,
    upstream_concurrency: int = DEFAULT_CONCURRENCY,
    token_limits: Mapping[str, int] | None = None,
    out: Any = None,
    dialect: str = "openai",
    quirks: bool = False,
    anthropic_queue_limit: int | None = None,
) -> int:
    """Run the server in the foreground until Ctrl+C (``batchdeck serve``).

    ``faults`` are ``KIND:RATE[:ARG]`` specs (see :mod:`tui.localapi.faults`);
    ``token_limits`` maps models to enqueued-token limits; ``dialect``, ``quirks`` and
    ``anthropic_queue_limit`` as for :class:`LocalServer`. The upstreams' key comes
    from ``upstream_api_key`` or ``BATCHDECK_UPSTREAM_API_KEY``.
    Returns the process exit code.
    """
    stream = out if out is not None else sys.stdout
    plan = Faults(seed=None)
    try:
        for spec in faults:
            plan.add_spec(spec)
        server = LocalServer(
            data_dir,
            host=host,
            port=port,
            api_key=api_key,
            time_scale=time_scale,
            upstream=upstream,
            upstream_api_key=upstream_api_key or os.environ.get("BATCHDECK_UPSTREAM_API_KEY"),
            upstream_concurrency=upstream_concurrency,
            faults=plan,
            token_limits=token_limits,
            access_log=True,
            dialect=dialect,
            quirks=quirks,
            anthropic_queue_limit=anthropic_queue_limit,
        )
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
        server.start()
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"batchdeck serve: {exc}", file=sys.stderr)
        return 2
    _stop_on_signals()
    try:
        _announce(server, host, data_dir, time_scale, api_key, list(faults), stream)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopping…", file=stream, flush=True)
    finally:
        server.stop()
    return 0


def _stop_on_signals() -> None:
    """Ctrl+C (even where a shell started us with SIGINT ignored) and SIGTERM stop us."""
    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupt)


def _announce(
    server: LocalServer,
    host: str,
    data_dir: Path | str,
    time_scale: float,
    api_key: str | None,
    faults: list[str],
    stream: Any,
) -> None:
    for warning in server.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    public_warning = bind_warning(host, api_key)
    if public_warning:
        print(public_warning, file=sys.stderr)
    base_url = server.base_url
    print(f"batchdeck server at {base_url}", file=stream)
    print(f"  data dir:   {Path(data_dir)}", file=stream)
    print(f"  executor:   {server.executor_name}", file=stream)
    for url in server.upstreams:
        print(f"  upstream:   {display_url(url)} (x{server.upstream_concurrency})", file=stream)
    if time_scale != 1.0:
        print(f"  time scale: x{time_scale:g}", file=stream)
    print(f"  api key:    {'required' if api_key else 'none (any key is accepted)'}", file=stream)
    if faults:
        print(f"  faults:     {', '.join(faults)}", file=stream)
    for model, tokens in server.token_limits.items():
        print(f"  limit:      {model}: {tokens:,} enqueued tokens", file=stream)
    if server.anthropic_queue_limit is not None:
        queued = f"{server.anthropic_queue_limit:,}"
        print(f"  limit:      Anthropic: {queued} requests in the processing queue", file=stream)
    dialect = server.dialect.name
    if dialect != "openai" or server.quirks:
        print(f"  dialect:    {dialect}" + (" with quirks" if server.quirks else ""), file=stream)
    if dialect == "azure":
        use = (
            f"Use AzureOpenAI(azure_endpoint={server.url!r}, "
            f"api_version={AZURE_API_VERSIONS[-1]!r}) with the api-key header."
        )
    elif dialect == "anthropic":
        use = f"Use ANTHROPIC_BASE_URL={server.url} (Message Batches at /v1/messages/batches)."
    else:
        use = f"Use OPENAI_BASE_URL={base_url}."
    print(f"{use} Press Ctrl+C to stop.", file=stream, flush=True)
