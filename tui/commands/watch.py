"""``batchdeck watch BATCH_ID...``: wait until every named batch is final.

A batch of another profile is named ``PROFILE:BATCH_ID`` (a plain id is the active
profile's), so one watch can follow batches on several servers; each is retrieved
with its own profile's client.

Each state change is one line on stdout (time, id, status, request counts; with
``--json`` one JSON object per line). Every interval, each batch that is not yet
final is retrieved once (a few at a time); a rate limit that outlived the client's
retries stretches the wait to the server's ``Retry-After`` instead of failing.

Exit codes: 0 when every batch completed with no failed request; 1 for failed
requests, a failed, expired or cancelled batch, an unknown batch or an API error
that outlived the retries; 124 on ``--timeout``; 130 on Ctrl+C, which only stops
watching (the batches keep running on the server).

With ``[hooks]`` in config.toml, a batch that ends (or is stuck, or near its
expiry) fires the notifications once (``tui.core.alerts``; the app and the webhook
receiver share the once-only record). The watched batches get a registry job if
they had none. Terminal notifications go to stdout or stderr, whichever is a
terminal; a hook's failure is a line on stderr and changes no exit code.
"""

from __future__ import annotations

import argparse
import signal
import time
from typing import TYPE_CHECKING, Any

from tui.commands import _shared

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tui.core.client import BatchClient
    from tui.core.config import Profile
    from tui.core.hook_settings import HookSettings
    from tui.core.hooks import Writer
    from tui.core.models import Batch
    from tui.core.registry import Registry

PARALLEL_RETRIEVES = 8
DEFAULT_INTERVAL = 10.0


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "watch",
        help="wait until batches are final, printing state changes",
        description="Poll the named batches until every one is final, printing one line "
        "per state change. Exit 0 when all completed with no failed request, 1 for "
        "failures (or an API error beyond the retries), 124 on timeout, 130 on Ctrl+C "
        "(the batches keep running).",
    )
    parser.add_argument(
        "batch_ids",
        nargs="+",
        metavar="BATCH_ID",
        help="a batch id of the active profile, or PROFILE:BATCH_ID for another profile's",
    )
    parser.add_argument(
        "--interval",
        type=_shared.parse_duration,
        default=DEFAULT_INTERVAL,
        metavar="DURATION",
        help="time between polls (default 10s)",
    )
    parser.add_argument(
        "--timeout",
        type=_shared.parse_duration,
        metavar="DURATION",
        help="give up (exit 124) after this long, e.g. 30m (default: wait for ever)",
    )
    _shared.add_common(parser)


def run(args: argparse.Namespace) -> int:
    # Ctrl+C (or kill -INT) must stop watching even when a non-interactive shell
    # started us with SIGINT ignored, as it does for background jobs.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return _shared.guarded(lambda: _watch(args))
    except KeyboardInterrupt:
        _shared.info("batchdeck: stopped watching; the batches keep running on the server.")
        return _shared.EXIT_INTERRUPTED


class Target:
    """A watched batch: its id, its profile, and the client of that profile."""

    def __init__(self, label: str, profile: Profile, batch_id: str, client: BatchClient) -> None:
        self.label = label  # as the user named it: a plain id or PROFILE:BATCH_ID
        self.config_profile = profile  # a batch first seen here is recorded under it
        self.profile = profile.name
        self.batch_id = batch_id
        self.client = client


def _watch(args: argparse.Namespace) -> int:
    """Resolve each named batch to its profile and client, watch them all, close the
    clients; a ``PROFILE:`` that names no profile is a usage error (exit 2)."""
    import asyncio

    from tui.core.fleet import RefError, split_ref

    config, active = _shared.resolve_profile(getattr(args, "profile", None))
    clients: dict[str, BatchClient] = {}  # the SDK is built on first use: none yet to close
    targets: dict[str, Target] = {}
    for ref in args.batch_ids:
        try:
            name, batch_id = split_ref(ref, config.profiles)
        except RefError as exc:
            raise _shared.CommandError(str(exc), _shared.EXIT_USAGE) from exc
        profile = config.profiles[name] if name else active
        if profile.name not in clients:
            clients[profile.name] = _shared.make_client(profile)
        label = ref if name else batch_id
        key = f"{profile.name}:{batch_id}"
        targets.setdefault(key, Target(label, profile, batch_id, clients[profile.name]))

    async def main() -> int:
        try:
            return await Watcher(args, targets).run()
        finally:
            await asyncio.gather(*(client.close() for client in clients.values()))

    return asyncio.run(main())


class Watcher:
    """Polls the named batches and reports changes."""

    def __init__(self, args: argparse.Namespace, targets: Mapping[str, Target]) -> None:
        import asyncio

        self.targets = dict(targets)
        self.ids = list(self.targets)
        self.interval = max(float(args.interval), 0.01)  # never a busy loop
        self.timeout: float | None = args.timeout
        self.json: bool = args.json
        self.latest: dict[str, Batch] = {}
        self.backoff = 0.0
        self._gate = asyncio.Semaphore(PARALLEL_RETRIEVES)
        self.hooks = hook_settings()
        self._seen_active: set[str] = set()
        self._registry: Registry | None = None

    def pending(self) -> list[str]:
        return [i for i in self.ids if i not in self.latest or not self.latest[i].is_final]

    async def run(self) -> int:
        import asyncio

        from tui.hangup import output_gone

        deadline = time.monotonic() + self.timeout if self.timeout is not None else None
        while True:
            self.backoff = 0.0
            await asyncio.gather(*(self._poll(key) for key in self.pending()))
            waiting = self.pending()
            if not waiting:
                return self._verdict()
            pause = max(self.interval, self.backoff)
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    labels = " ".join(self.targets[key].label for key in waiting)
                    _shared.error(f"timed out after {self.timeout:g}s; not final yet: {labels}")
                    return _shared.EXIT_TIMEOUT
                pause = min(pause, remaining)
            if output_gone():  # `watch ... | head -1`: nobody reads the next line
                raise BrokenPipeError
            await asyncio.sleep(pause)

    async def _poll(self, key: str) -> None:
        import asyncio

        from tui.commands.show import retrieve_known
        from tui.core import errors

        target = self.targets[key]
        async with self._gate:
            try:
                batch = await retrieve_known(target.client, target.batch_id)
            except errors.RateLimitedError as exc:
                self.backoff = max(self.backoff, exc.retry_after or 2 * self.interval)
                return
        before = self.latest.get(key)
        self.latest[key] = batch
        if before is None or (before.status, before.request_counts) != (
            batch.status,
            batch.request_counts,
        ):
            self._report(batch, target)
        if self.hooks.active:
            await asyncio.to_thread(self._notify, batch, target.config_profile)

    def _notify(self, batch: Batch, profile: Profile) -> None:
        """Fire the notifications ``batch`` calls for (in a thread: hooks block)."""
        from tui.core import alerts
        from tui.core.errors import BatchdeckError
        from tui.core.registry import Registry

        if not batch.is_final:
            self._seen_active.add(batch.id)
        try:
            self._registry = self._registry or Registry()
            outcome = alerts.notify_batch(
                self._registry,
                batch,
                self.hooks,
                seen_active=batch.id in self._seen_active,
                adopt=True,
                profile=profile,
                terminal=terminal_writer(prefer_stderr=self.json),
            )
        except (BatchdeckError, OSError) as exc:
            _shared.error(f"notifying about {batch.id} failed: {exc}")
            return
        for problem in outcome.problems:
            _shared.error(problem)

    def _report(self, batch: Batch, target: Target) -> None:
        from tui.core import timefmt
        from tui.core.text import one_line

        now = timefmt.now()
        counts = batch.request_counts
        if self.json:
            _shared.emit_json(
                {
                    "time": int(now),
                    "profile": target.profile,
                    "id": batch.id,
                    "status": batch.status,
                    "request_counts": {
                        "total": counts.total,
                        "completed": counts.completed,
                        "failed": counts.failed,
                    },
                }
            )
            return
        text = _shared.counts_text(counts.total, counts.completed, counts.failed)
        line = f"{timefmt.exact(now)}  {one_line(target.label)}  {one_line(batch.status)}  {text}"
        _shared.write(line.rstrip() + "\n")

    def _verdict(self) -> int:
        bad = [
            (self.targets[key].label, batch)
            for key, batch in ((key, self.latest[key]) for key in self.ids)
            if batch.status != "completed" or batch.request_counts.failed
        ]
        for label, batch in bad:
            reason = (
                f"{batch.request_counts.failed} failed requests"
                if batch.status == "completed"
                else batch.status
            )
            _shared.error(f"{label}: {reason}")
        return _shared.EXIT_FAILURE if bad else _shared.EXIT_OK


def hook_settings() -> HookSettings:
    """The ``[hooks]`` table of config.toml."""
    from tui.core.config import load_config

    return load_config().hooks  # already read once without error by resolve_profile


def terminal_writer(*, prefer_stderr: bool = False) -> Writer | None:
    """Where terminal notifications go: stdout or stderr, the first that is a
    terminal (never into a pipe or a file, where they would be noise); stderr
    first when stdout carries data (``--json``)."""
    import sys

    streams = (sys.stderr, sys.stdout) if prefer_stderr else (sys.stdout, sys.stderr)
    for stream in streams:
        if stream is not None and stream.isatty():

            def write(text: str, stream: Any = stream) -> None:
                stream.write(text)
                stream.flush()

            return write
    return None
