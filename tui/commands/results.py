"""``batchdeck results BATCH_ID [--export FILE]``: a batch's results, joined to its requests.

With ``--export`` it runs headless: downloads the output, error and input files once
(into the data dir; later runs use the local copies), merges the batch's retries,
and writes the joined rows to FILE (``.csv`` or ``.jsonl``, from the extension).
Without it, opens the app on the results screen of that batch.

Exit codes: 0 done; 1 the batch does not exist, has no results yet, or the server
failed; 2 bad usage (an export name that is neither .csv nor .jsonl, a bad config,
no key). Messages are plain lines on stderr; progress goes there only when it is a
terminal. Textual is never imported for ``--export``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui.core.client import BatchClient
    from tui.core.config import Config, Profile
    from tui.core.results import Opened

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class _Failure(Exception):
    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


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
        "--profile",
        default=argparse.SUPPRESS,
        help="profile from config.toml to use (same as the global --profile)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        if args.export is None:
            return _open_app(args)
        return _export(args)
    except _Failure as exc:
        print(f"batchdeck: {exc.message}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # never a traceback: a plain message and a failure code
        print(f"batchdeck: results failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def _profile(args: argparse.Namespace) -> tuple[Config, Profile, BatchClient]:
    from tui.core import errors
    from tui.core.client import BatchClient
    from tui.core.config import ConfigError, load_config

    try:
        config = load_config()
        profile = config.profile(getattr(args, "profile", None))
    except ConfigError as exc:
        raise _Failure(str(exc), EXIT_USAGE) from exc
    try:
        client = BatchClient(profile)
    except errors.ApiError as exc:
        raise _Failure(exc.message, EXIT_USAGE) from exc
    return config, profile, client


def _export(args: argparse.Namespace) -> int:
    from tui.core.results import ResultIndex, export, export_format

    destination = Path(args.export).expanduser()
    try:
        fmt = export_format(destination)
    except ValueError as exc:
        raise _Failure(str(exc), EXIT_USAGE) from exc
    _, profile, client = _profile(args)
    opened = asyncio.run(_open(client, args.batch_id, profile.host()))
    for note in opened.notes:
        print(f"batchdeck: {note}", file=sys.stderr)
    index = ResultIndex(opened.attempts).build_all()
    try:
        count = export(index, destination, tuple(args.field), fmt)
    except OSError as exc:
        raise _Failure(f"cannot write {destination}: {exc.strerror or exc}") from exc
    counts = ", ".join(f"{n} {outcome.value}" for outcome, n in index.counts().items() if n)
    print(f"{count} rows ({counts}) written to {destination}")
    return EXIT_OK


async def _open(client: BatchClient, batch_id: str, host: str) -> Opened:
    from tui.core import errors
    from tui.core.registry import Registry
    from tui.core.results import NoResultsError, open_attempts

    progress = _stderr_progress() if sys.stderr.isatty() else None
    try:
        return await open_attempts(client, batch_id, registry=Registry(), progress=progress)
    except NoResultsError as exc:
        raise _Failure(str(exc)) from exc
    except errors.NotFoundError as exc:
        raise _Failure(f"no batch {batch_id} on {host} ({exc.message})") from exc
    except errors.ApiError as exc:
        raise _Failure(exc.message) from exc
    finally:
        if progress is not None:
            print(file=sys.stderr)
        await client.close()


def _stderr_progress() -> Any:
    def report(kind: str, done: int, total: int | None) -> None:
        share = f"{done * 100 // total:3d}%" if total else f"{done // 1024} KiB"
        print(f"\rdownloading {kind}: {share}   ", end="", file=sys.stderr, flush=True)

    return report


def _open_app(args: argparse.Namespace) -> int:
    config, profile, client = _profile(args)
    from tui.app import make_app
    from tui.core.registry import Registry

    app = make_app(config, client, Registry(), profile=profile)
    batch_id = args.batch_id

    async def open_results(pilot: Any) -> None:
        app.open_results(batch_id)

    app.run(auto_pilot=open_results)
    return app.return_code or 0
