"""What the headless commands share: the profile and client, async running, output,
durations, confirmations, progress, and errors mapped to exit codes.

Exit codes (documented in the README, "Headless commands"):

- 0: done.
- 1: it did not work: an unknown batch, file or job; an API error that outlived the
  client's retries (server, network, auth, rate limit); a batch without the asked
  file; an output file that exists (without ``--force``); a declined confirmation.
- 2: bad usage: bad arguments (argparse), an unusable config, no key, or a
  confirmation that is needed while stdin is not a terminal.
- 124 / 130: ``watch`` timed out / any command interrupted with Ctrl+C.
- 129: the app ended because its terminal hung up (SIGHUP, closed terminal or dead
  output pipe; see :mod:`tui.hangup`). A command whose stdout reader is gone
  (``| head``) ends quietly with 0.

Nothing heavy is imported at module level: ``openai`` comes with the client, and
Textual never comes at all.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from tui.core.errors import BatchdeckError
from tui.core.sizes import format_size
from tui.core.text import one_line

if TYPE_CHECKING:
    import argparse

    from tui.core.client import BatchClient, Progress
    from tui.core.config import Config, Profile
    from tui.core.registry import Job, Registry

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_TIMEOUT = 124
EXIT_INTERRUPTED = 130

NO_KEY_HELP = """\
batchdeck needs an API key to talk to the OpenAI Batch API.

  Use your OpenAI account:
      export OPENAI_API_KEY=sk-...
      batchdeck

  Or any OpenAI-compatible server:
      export OPENAI_BASE_URL=http://127.0.0.1:8000/v1
      batchdeck

  Or describe profiles in {config} (keys stay in the environment):
      [profiles.work]
      base_url = "https://api.openai.com/v1"
      api_key_env = "WORK_OPENAI_KEY"
  then run:  batchdeck --profile work

  No key at hand? `batchdeck demo` runs the app on a built-in demo server.
"""


class CommandError(BatchdeckError):
    """A plain message for stderr and the exit code that goes with it."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# -- arguments ------------------------------------------------------------------------


def add_common(parser: argparse.ArgumentParser, *, json: bool = True) -> None:
    """``--profile`` after the subcommand too, and ``--json`` for commands that print data."""
    import argparse  # here: the app's launch does not load it

    parser.add_argument(
        "--profile",
        default=argparse.SUPPRESS,
        help="profile from config.toml to use (same as the global --profile)",
    )
    if json:
        parser.add_argument(
            "--json", action="store_true", help="machine output (JSON; see the README)"
        )


_DURATION_PART = r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)?"  # compiled by its first use (re's cache)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def positive_int(text: str) -> int:
    """A whole number above 0 (``1_000`` and ``1,000`` too). An argparse ``type``: a
    bad value is a plain message and exit 2."""
    import argparse  # here: the app's launch does not load it

    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0")
    return value


def parse_duration(text: str) -> float:
    """``10s``, ``30m``, ``2d``, ``1h30m``, ``250ms`` or plain seconds, in seconds.

    An argparse ``type``: a bad value is a plain message and exit 2.
    """
    import argparse  # here: the app's launch does not load it

    value = text.strip().lower()
    total = 0.0
    position = 0
    while position < len(value):
        match = re.compile(_DURATION_PART).match(value, position)
        if match is None or (match.group(2) is None and match.end() != len(value)):
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a duration (examples: 10s, 30m, 2h, 2d, 1h30m)"
            )
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
        position = match.end()
    if not value:
        raise argparse.ArgumentTypeError("empty duration")
    return total


# -- profile, client, registry ------------------------------------------------------


def profile_for_limits(profile_name: str | None) -> Profile:
    """The profile whose provider's limits a file is checked against; its key is only
    needed to send, so it is not asked for (exit 2 if the config is unusable)."""
    from tui.core.config import ConfigError, load_config

    try:
        return load_config().profile(profile_name)
    except ConfigError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc


def resolve_profile(profile_name: str | None) -> tuple[Config, Profile]:
    """The config and the active profile; :class:`CommandError` (exit 2) if the config
    is unusable or no key or server is configured at all (with the no-key help)."""
    from tui.core import paths
    from tui.core.config import ConfigError, load_config

    try:
        config = load_config()
        profile = config.profile(profile_name)
    except ConfigError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc
    has_config = config.path is not None and config.path.exists()
    if profile.api_key() is None and not (has_config or os.environ.get("OPENAI_BASE_URL")):
        raise CommandError(NO_KEY_HELP.format(config=paths.config_file()), EXIT_USAGE)
    return config, profile


def make_client(profile: Profile) -> BatchClient:
    """The profile's :class:`BatchClient`; :class:`CommandError` (exit 2) without a key."""
    from tui.core import errors, paths
    from tui.core.anthropic_client import client_for

    try:
        return client_for(profile)
    except errors.ApiError as exc:
        if profile.provider_name == "openai":
            help_text = NO_KEY_HELP.format(config=paths.config_file())
        else:  # OpenAI's examples would mislead: the profile names its own variable
            help_text = (
                f"The {profile.provider_name} profile {profile.name!r} in "
                f"{paths.config_file()} reads its key from the environment:\n"
                f"    export {profile.api_key_env}=...\n"
                f"See README, Providers, for each provider's profile.\n"
            )
        raise CommandError(f"{exc.message}\n\n{help_text}", EXIT_USAGE) from exc


def open_registry() -> Registry:
    from tui.core.registry import Registry

    return Registry()


def find_job(registry: Registry, job_or_batch: str) -> Job | None:
    """The job with this job id, else the job of this batch id."""
    return registry.get(job_or_batch) or registry.find_by_batch(job_or_batch)


# -- running ------------------------------------------------------------------------


Body = Callable[["Profile", "BatchClient"], Awaitable[int]]


def run_with_client(args: argparse.Namespace, body: Body) -> int:
    """Resolve the profile, build its client, run ``body`` on an event loop, close the
    client, and turn every failure into a plain message and an exit code."""
    return guarded(lambda: _run_with_client(args, body))


def _run_with_client(args: argparse.Namespace, body: Body) -> int:
    _, profile = resolve_profile(getattr(args, "profile", None))
    client = make_client(profile)

    import asyncio

    async def main() -> int:
        try:
            return await body(profile, client)
        finally:
            await client.close()

    return asyncio.run(main())


def guarded(action: Callable[[], int]) -> int:
    """Run ``action``; errors become a message on stderr and an exit code.

    A :class:`CommandError` carries its code; every other :class:`BatchdeckError`
    (an API error that outlived the client's retries, a bad record, file or price
    table) is exit 1; a closed stdout (``| head``) ends the command quietly with 0.
    """
    try:
        return action()
    except CommandError as exc:
        error(exc.message, multiline=True)
        return exc.code
    except BatchdeckError as exc:
        error(str(exc))
        return EXIT_FAILURE
    except BrokenPipeError:
        quiet_stdout()
        return EXIT_OK
    except OSError as exc:  # a local file that cannot be written or read
        error(f"{exc.filename or ''}: {exc.strerror or exc}" if exc.filename else str(exc))
        return EXIT_FAILURE


def quiet_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the interpreter's final flush
    does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # pragma: no cover - odd stdout
        pass


# -- output -------------------------------------------------------------------------


def error(message: str, *, multiline: bool = False) -> None:
    """``batchdeck: message`` on stderr; control characters made visible."""
    from tui.core.text import printable, scrub

    text = printable(scrub(message)) if multiline else one_line(message)
    prefix = "" if text.startswith("batchdeck ") else "batchdeck: "
    print(f"{prefix}{text}", file=sys.stderr)


def info(message: str) -> None:
    """A note for people, on stderr (stdout stays data)."""
    print(message, file=sys.stderr)


def emit_json(value: Any) -> None:
    """One JSON document on one line of stdout (JSON lines)."""
    emit_json_lines([value])


def emit_json_lines(values: Iterable[Any]) -> None:
    import msgspec

    encoder = msgspec.json.Encoder()
    buffer = bytearray()
    for value in values:
        encoder.encode_into(value, buffer, len(buffer))
        buffer += b"\n"
    sys.stdout.buffer.write(_scrubbed(bytes(buffer)))
    sys.stdout.buffer.flush()


def _scrubbed(data: bytes) -> bytes:
    """JSON output with secrets a server sent cut out (see :func:`text.scrub`)."""
    from tui.core.text import scrub

    return scrub(data.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, last_free: bool = True) -> str:
    """A plain text table, columns padded to their widest cell (nothing is cut here:
    callers shorten free text, never ids). The last column is not padded."""
    rows = [list(headers), *(list(row) for row in rows)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(headers))]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        if last_free:
            cells[-1] = row[-1]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def counts_text(total: int, completed: int, failed: int) -> str:
    """``8/10 done, 2 failed`` style request counts (empty when there are none)."""
    if not total:
        return ""
    done = f"{completed + failed}/{total}"
    return f"{done} ({failed} failed)" if failed else done


# -- people at a terminal ------------------------------------------------------------


def confirm(question: str, *, yes: bool) -> None:
    """Go on if ``yes``; else ask on a terminal; :class:`CommandError` when declined
    (exit 1) or when stdin is not a terminal (exit 2: say ``--yes``)."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise CommandError(
            f"stdin is not a terminal, so nothing was asked and nothing done ({question}); "
            "pass --yes to go ahead.",
            EXIT_USAGE,
        )
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise CommandError("not confirmed; nothing was done.", EXIT_FAILURE)


def stderr_progress(label: str) -> Progress | None:
    """A byte-progress callback drawing on stderr (done, total, rate and time left),
    or ``None`` when stderr is not a terminal (pipes and logs get no progress noise)."""
    if not sys.stderr.isatty():
        return None
    import time

    from tui.core.downloads import rate_line
    from tui.core.throughput import Pace

    pace = Pace()

    def show(done: int, total: int | None) -> None:
        pace.add(time.monotonic(), done)
        share = f" / {format_size(total)} ({100 * done // total}%)" if total else ""
        rate = rate_line(pace, done, total)
        sys.stderr.write(
            f"\r{label}: {format_size(done)}{share}{', ' + rate if rate else ''}\x1b[K"
        )
        if total is not None and done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def stderr_note(message: str) -> None:
    """A transient progress note on stderr, only when it is a terminal."""
    if sys.stderr.isatty():
        sys.stderr.write(f"\r{message}\x1b[K")
        sys.stderr.flush()


def tty_info(message: str) -> None:
    """A note for a person at a terminal; nothing in pipes, logs or cron mail."""
    if sys.stderr.isatty():
        print(message, file=sys.stderr)


def stderr_note_done() -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()


# -- batches with what the registry knows -------------------------------------------


def batch_record(batch: Any, job: Job | None) -> dict[str, Any]:
    """A batch as JSON-ready data: every API field (as :class:`models.Batch` has them)
    plus the registry's ``job_id``, ``description``, ``tags`` and ``input_path``
    (``null``/empty when batchdeck has no job for it)."""
    import msgspec

    from tui.core.models import batch_description

    record: dict[str, Any] = msgspec.to_builtins(batch)
    record["job_id"] = job.job_id if job else None
    record["description"] = batch_description(batch, job)
    record["tags"] = list(job.tags) if job else []
    record["input_path"] = job.input_path if job else None
    return record


def port_number(text: str) -> int:
    """A TCP port, 0..65535 (0: any free one); argparse reports anything else."""
    import argparse  # here: the app's launch does not load it

    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0-65535)")
    return port
