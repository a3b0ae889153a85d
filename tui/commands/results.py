"""``batchdeck results BATCH_ID [--export FILE [--source-columns]]``: a batch's results,
joined to its requests.

With ``--export`` it runs headless: downloads the output, error and input files once
(into the data dir; later runs use the local copies), merges the batch's retries,
and writes the joined rows to FILE (``.csv`` or ``.jsonl``, from the extension);
``--source-columns`` adds the columns of the rows file the batch was composed from.
Without it, opens the app on the results screen of that batch; when stdout is not
a terminal (``| head``, ``> rows.txt``) or with ``--json``, prints the joined rows
instead (text or JSON lines, :mod:`tui.commands.results_text`) and exits.

Exit codes: 0 done; 1 the batch does not exist, has no results yet, or the server
failed; 2 bad usage (an export name that is neither .csv nor .jsonl, a bad config,
no key). Messages are plain lines on stderr (through :mod:`tui.commands._shared`, so
server text has its control characters escaped); progress goes there only when it
is a terminal. Textual is never imported for ``--export``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.commands import _shared

if TYPE_CHECKING:
    from tui.core.client import BatchClient, Progress
    from tui.core.results import DownloadProgress, Opened, ResultIndex


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "results",
        help="browse or export a batch's results joined to its requests",
        description="Open the results browser on BATCH_ID, or with --export write the "
        "joined results (custom_id, outcome, status code, answer, tokens, chosen request "
        "fields) to a .csv or .jsonl file without the app.",
    )
    parser.add_argument("batch_id", metavar="BATCH_ID")
    parser.add_argument(
        "--export", metavar="FILE", help="write the results to FILE (.csv or .jsonl)"
    )
    parser.add_argument(
        "--field",
        action="append",
        default=[],
        metavar="PATH",
        help="a request field to export too, as a dotted path (e.g. body.model); repeatable",
    )
    parser.add_argument(
        "--source-columns",
        action="store_true",
        help="with --export: add the columns of the CSV (or other rows file) the batch was "
        "composed from, each row beside its answer",
    )
    _shared.add_common(parser)  # --json: JSON lines on stdout (not with --export)


def run(args: argparse.Namespace) -> int:
    action = _open_app if args.export is None else _export
    if args.export is None and (args.json or not sys.stdout.isatty()):
        action = _print  # a pipe or a file: the rows as text, never the full-screen app
    elif args.export is not None and args.json:
        _shared.error("--json prints to stdout; to write JSON lines use --export FILE.jsonl")
        return _shared.EXIT_USAGE
    if args.source_columns and args.export is None:
        _shared.error("--source-columns goes with --export FILE")
        return _shared.EXIT_USAGE
    return _shared.guarded(lambda: _never_a_traceback(action, args))


def _never_a_traceback(action: Any, args: argparse.Namespace) -> int:
    """``action(args)``; an unexpected exception becomes a plain message (exit 1)."""
    from tui.core.errors import BatchdeckError

    try:
        result: int = action(args)
        return result
    except (BatchdeckError, OSError):
        raise  # guarded() words these
    except Exception as exc:
        raise _shared.CommandError(f"results failed: {type(exc).__name__}: {exc}") from exc


def _export(args: argparse.Namespace) -> int:
    from tui.core.results import NoResultsError, export, export_format, load_source

    destination = Path(args.export).expanduser()
    try:
        fmt = export_format(destination)
    except ValueError as exc:
        raise _shared.CommandError(str(exc), _shared.EXIT_USAGE) from exc
    source = None
    if args.source_columns:
        try:
            source = load_source(_shared.open_registry().find_by_batch(args.batch_id))
        except NoResultsError as exc:
            raise _shared.CommandError(str(exc)) from exc
    index = _index(args)
    try:
        count = export(index, destination, tuple(args.field), fmt, source)
    except OSError as exc:
        raise _shared.CommandError(f"cannot write {destination}: {exc.strerror or exc}") from exc
    counts = ", ".join(f"{n} {outcome.value}" for outcome, n in index.counts().items() if n)
    _shared.write(f"{count} rows ({counts}) written to {destination}\n")
    return _shared.EXIT_OK


def _print(args: argparse.Namespace) -> int:
    from tui.commands.results_text import print_rows

    print_rows(_index(args), tuple(args.field), json_lines=args.json)
    return _shared.EXIT_OK


def _index(args: argparse.Namespace) -> ResultIndex:
    """The batch's joined rows (its files and its retries' downloaded if needed)."""
    import asyncio

    from tui.core.results import ResultIndex

    _, profile = _shared.resolve_profile(getattr(args, "profile", None))
    client = _shared.make_client(profile)
    opened = asyncio.run(_open(client, args.batch_id, profile.host()))
    for note in opened.notes:
        _shared.error(note)
    return ResultIndex(opened.attempts).build_all()


async def _open(client: BatchClient, batch_id: str, host: str) -> Opened:
    from tui.core import errors
    from tui.core.results import NoResultsError, open_attempts

    try:
        return await open_attempts(
            client, batch_id, registry=_shared.open_registry(), progress=_download_progress()
        )
    except NoResultsError as exc:
        raise _shared.CommandError(str(exc)) from exc
    except errors.NotFoundError as exc:
        raise _shared.CommandError(f"no batch {batch_id} on {host} ({exc.message})") from exc
    finally:
        await client.close()


def _download_progress() -> DownloadProgress | None:
    """One :func:`_shared.stderr_progress` bar per downloaded file kind (only on a
    terminal)."""
    if not sys.stderr.isatty():
        return None
    bars: dict[str, Progress | None] = {}

    def report(kind: str, done: int, total: int | None) -> None:
        if kind not in bars:
            bars[kind] = _shared.stderr_progress(f"downloading {kind}")
        bar = bars[kind]
        if bar is not None:
            bar(done, total)

    return report


def _open_app(args: argparse.Namespace) -> int:
    config, profile = _shared.resolve_profile(getattr(args, "profile", None))
    client = _shared.make_client(profile)
    from tui.app import make_app
    from tui.hangup import run_app

    app = make_app(config, client, _shared.open_registry(), profile=profile)
    batch_id = args.batch_id

    async def open_results(pilot: Any) -> None:
        app.open_results(batch_id)

    return run_app(app, auto_pilot=open_results)
