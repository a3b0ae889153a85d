"""``batchdeck webhooks --port N [--host H]``: receive OpenAI's batch webhooks.

POSTs to ``/`` are verified with the SDK against ``OPENAI_WEBHOOK_SECRET`` (no
secret: refuse to start, exit 2) and refused when forged (401), malformed (400) or
replayed (401 for a timestamp outside the tolerance, 409 for a ``webhook-id``
received before; see :mod:`tui.core.webhooks`). On ``batch.completed``,
``batch.failed``, ``batch.expired`` and ``batch.cancelled`` the batch is retrieved
(the event carries only its id; if that fails, the event's status is recorded on
the last snapshot), recorded in the registry (adopted if no job had it) and the
``[hooks]`` notifications fire, once per batch as everywhere (``tui.core.alerts``).
Other events are acknowledged and ignored. One line per delivery acted on goes to
stdout; refusals and hook problems to stderr. A delivery that could not be recorded
is answered 500, so that OpenAI sends it again.

Polling (the app, ``batchdeck watch``) stays the default; webhooks only make the
news arrive sooner. Ctrl+C stops the receiver (exit 130).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import TYPE_CHECKING, Any

from tui.commands import _shared

if TYPE_CHECKING:
    from aiohttp import web

    from tui.core.client import BatchClient
    from tui.core.config import Profile
    from tui.core.hook_settings import HookSettings
    from tui.core.models import Batch
    from tui.core.registry import Registry
    from tui.core.webhooks import Delivery, Receiver

DEFAULT_PORT = 8765


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "webhooks",
        help="receive OpenAI's batch webhooks and fire the [hooks] notifications",
        description="Serve POST / for OpenAI webhooks: verify each delivery with "
        "OPENAI_WEBHOOK_SECRET, refuse forged and replayed ones, record batch.completed/"
        "failed/expired/cancelled in the registry and fire the [hooks] notifications. "
        "Put it behind an HTTPS reverse proxy that OpenAI can reach.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=_shared.port_number,
        default=DEFAULT_PORT,
        help=f"port (default {DEFAULT_PORT}; 0 = any free one)",
    )
    _shared.add_common(parser, json=False)


def run(args: argparse.Namespace) -> int:
    import os

    from tui.core.webhooks import SECRET_ENV, SecretError, check_secret

    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        secret = check_secret(os.environ.get(SECRET_ENV))
    except SecretError as exc:
        _shared.error(str(exc))
        return _shared.EXIT_USAGE
    try:
        return _shared.run_with_client(
            args,
            lambda profile, client: WebhookServer(client, secret, profile).serve(
                args.host, args.port
            ),
        )
    except KeyboardInterrupt:
        _shared.info("batchdeck: webhook receiver stopped.")
        return _shared.EXIT_INTERRUPTED


class WebhookServer:
    """The aiohttp app: one delivery acted on at a time (they are rare)."""

    def __init__(self, client: BatchClient, secret: str, profile: Profile) -> None:
        from tui.commands.watch import hook_settings
        from tui.core import paths
        from tui.core.registry import Registry
        from tui.core.webhooks import Receiver, SeenIds

        self.client = client
        self.profile = profile
        self.registry: Registry = Registry()
        self.hooks: HookSettings = hook_settings()
        seen = SeenIds(paths.data_dir() / "webhooks" / "seen.json")
        self.receiver: Receiver = Receiver(secret, seen)
        self._one_at_a_time = asyncio.Lock()

    async def serve(self, host: str, port: int) -> int:
        from aiohttp import web

        from tui.core.webhooks import MAX_BODY

        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post("/", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            bound = runner.addresses[0] if runner.addresses else (host, port)
            _shared.info(
                f"batchdeck webhooks: listening on http://{bound[0]}:{bound[1]}/ (Ctrl+C stops)"
            )
            await asyncio.Event().wait()  # until Ctrl+C
        finally:
            await runner.cleanup()
        return _shared.EXIT_OK

    async def handle(self, request: web.Request) -> web.Response:
        from aiohttp import web

        from tui.core.errors import BatchdeckError
        from tui.core.webhooks import WebhookRejected

        body = await request.read()
        async with self._one_at_a_time:
            try:
                delivery = self.receiver.verify(body, request.headers)
            except WebhookRejected as exc:
                _shared.error(f"webhook refused ({exc.status}): {exc.message}")
                return web.json_response({"error": exc.message}, status=exc.status)
            if delivery.batch_id is None:
                await asyncio.to_thread(self._remember, delivery)
                return web.json_response({"ignored": delivery.event_type})
            try:
                await self._act(delivery)
                await asyncio.to_thread(self._remember, delivery)
            except (BatchdeckError, OSError) as exc:
                _shared.error(f"webhook for {delivery.batch_id} not recorded: {exc}")
                return web.json_response({"error": "not recorded; send again"}, status=500)
        return web.json_response({"received": delivery.webhook_id})

    def _remember(self, delivery: Delivery) -> None:
        self.receiver.seen.add(delivery.webhook_id, delivery.timestamp)

    async def _act(self, delivery: Delivery) -> None:
        from tui.core.errors import BatchdeckError
        from tui.core.webhooks import status_only

        assert delivery.batch_id is not None and delivery.status is not None
        try:
            batch = await self.client.retrieve_batch(delivery.batch_id)
        except BatchdeckError as exc:
            _shared.error(f"{delivery.batch_id}: cannot retrieve ({exc}); recording the status")
            job = await asyncio.to_thread(self.registry.find_by_batch, delivery.batch_id)
            known = job.snapshot if job is not None else None
            batch = status_only(delivery.batch_id, delivery.status, delivery.created_at, known)
        await asyncio.to_thread(self._record, batch)
        self._report(delivery, batch)

    def _record(self, batch: Batch) -> None:
        """Keep the snapshot and fire the notifications (in a thread: hooks block)."""
        from tui.commands.watch import terminal_writer
        from tui.core import alerts

        alerts.adopt_batch(self.registry, batch, self.profile)
        outcome = alerts.notify_batch(
            self.registry,
            batch,
            self.hooks,
            seen_active=True,  # a webhook is news by definition
            terminal=terminal_writer(),
        )
        for problem in outcome.problems:
            _shared.error(problem)

    def _report(self, delivery: Delivery, batch: Batch) -> None:
        from tui.core import timefmt
        from tui.core.text import one_line

        counts = _shared.counts_text(
            batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed
        )
        line = (
            f"{timefmt.exact(timefmt.now())}  {one_line(delivery.event_type)}  "
            f"{one_line(batch.id)}  {one_line(batch.status)}  {counts}"
        )
        _shared.write(line.rstrip() + "\n")
