"""Run the app so that a hang-up ends it: SIGHUP, a closed terminal, a dead pipe.

Textual's driver does not notice when its terminal goes away. Its input thread
dies on the first ``EIO``, its output thread dies on the first failed write, and
the app then runs on, unseen, until its output queue fills and it blocks for good
(or it spins on an input that reads empty). So :func:`run_app` watches, from a
thread that sleeps in ``poll()``:

- SIGHUP (the terminal hung up, ``kill -HUP``): a signal handler wakes the thread;
- the terminal itself: a tty gives ``POLLHUP`` once its other side is closed (tmux
  killed, SSH dropped), even when no SIGHUP reaches this process;
- the output: a pipe whose reader died gives ``POLLERR``.

Then the app is asked to exit (return code 129, 128 + SIGHUP) and given
:data:`GRACE_SECONDS` to do so (its cleanup saves the registry cache); if it is
stuck on the dead terminal by then, the process ends with ``os._exit``. Records and
caches are written atomically, so an end at any instant loses nothing.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import stat
import sys
import threading
from typing import Any

HANGUP_EXIT = 128 + 1  # as a shell reports a process ended by SIGHUP
GRACE_SECONDS = 3.0
_GONE = select.POLLHUP | select.POLLERR | select.POLLNVAL if hasattr(select, "poll") else 0


def run_app(app: Any, **run_options: Any) -> int:
    """``app.run(**run_options)``; its return code, or :data:`HANGUP_EXIT` after a
    hang-up (the driver's complaints about the dead terminal are dropped then)."""
    watch = HangupWatch(app)
    watch.start()
    try:
        app.run(**run_options)
    except (OSError, SystemExit):  # writing to a terminal or pipe that is gone (Rich
        if not watch.hung_up:  # ends with SystemExit(1) on a broken pipe)
            raise
    finally:
        watch.stop()
    if watch.hung_up:
        return HANGUP_EXIT
    return int(app.return_code or 0)


def watched_fds() -> list[int]:
    """The standard streams to watch: a terminal (any of them), or an output that is
    a pipe or socket (its reader can die). Regular files and ``/dev/null`` never
    hang up; a pipe on stdin hangs up when its writer is done, which is no reason
    to stop."""
    fds = []
    for fd in (0, 1, 2):
        try:
            mode = os.fstat(fd).st_mode
        except OSError:
            continue
        if os.isatty(fd) or (fd > 0 and (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode))):
            fds.append(fd)
    return fds


def output_gone(fd: int = 1) -> bool:
    """Whether output ``fd`` leads nowhere any more (a pipe whose reader died, a
    terminal that hung up), asked without writing: a loop that prints only now and
    then (``batchdeck watch``) learns it in time to stop."""
    if not hasattr(select, "poll") or fd not in watched_fds():
        return False
    poller = select.poll()
    poller.register(fd, 0)
    return any(events & _GONE for _fd, events in poller.poll(0))


class HangupWatch:
    """The watching thread of :func:`run_app`, and its SIGHUP handler."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.hung_up = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._stopping = False
        self._thread = threading.Thread(target=self._watch, name="batchdeck-hangup", daemon=True)
        self._old_handler: Any = None

    def start(self) -> None:
        if hasattr(signal, "SIGHUP") and threading.current_thread() is threading.main_thread():
            self._old_handler = signal.signal(signal.SIGHUP, self._on_sighup)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (the app has returned). After a hang-up the deadline stays:
        the process still ends within :data:`GRACE_SECONDS` if its exit gets stuck."""
        if self._old_handler is not None:
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(signal.SIGHUP, self._old_handler)
        if not self.hung_up:
            self._stopping = True
            self._wake()
            self._thread.join(timeout=1.0)
            if not self._thread.is_alive():
                os.close(self._wake_r)
                os.close(self._wake_w)

    def _on_sighup(self, signum: int, frame: object) -> None:
        self.hung_up = True
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"!")

    def _watch(self) -> None:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(self._wake_r, select.POLLIN)
            for fd in watched_fds():
                poller.register(fd, 0)  # only POLLHUP/POLLERR/POLLNVAL, always reported
            while not (self.hung_up or self._stopping):
                for fd, events in poller.poll():
                    if fd != self._wake_r and events & _GONE:
                        self.hung_up = True
                    elif fd == self._wake_r:
                        os.read(self._wake_r, 64)
        else:  # pragma: no cover - no poll(): SIGHUP only
            while not (self.hung_up or self._stopping):
                os.read(self._wake_r, 64)
        if self._stopping and not self.hung_up:
            return
        self._end_app()

    def _end_app(self) -> None:
        """Ask the app to exit; end the process if it has not within the grace time."""
        loop = getattr(self.app, "_loop", None)
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(self.app.exit, None, HANGUP_EXIT)
        threading.Event().wait(GRACE_SECONDS)
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
        os._exit(HANGUP_EXIT)
