"""The embedded OpenAI-compatible Files + Batches server.

- :class:`~tui.localapi.server.LocalServer` runs it in a thread (tests, the demo);
  :func:`~tui.localapi.server.serve_main` in the foreground (``batchdeck serve``).
- :mod:`~tui.localapi.app` wires the routes (:mod:`~tui.localapi.files_api`,
  :mod:`~tui.localapi.batches_api`, :mod:`~tui.localapi.sync_api`); state lives in
  :mod:`~tui.localapi.store` on disk.
- :mod:`~tui.localapi.lifecycle` moves batches through their states on simulated
  time (:mod:`~tui.localapi.clock`), checking inputs with
  :mod:`~tui.localapi.validate` and keeping progress in
  :mod:`~tui.localapi.workfiles`; :mod:`~tui.localapi.executors` run the lines
  (:mod:`~tui.localapi.echo`, or upstream servers through the pool of
  :mod:`~tui.localapi.upstreams`).
- :mod:`~tui.localapi.faults` injects latency, 429, 5xx and dropped connections.
- :mod:`~tui.localapi.demo` seeds a server with batches in every state.
"""
