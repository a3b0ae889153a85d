"""``batchdeck download BATCH_ID``: a batch's output, error or input file.

To a path, the bytes stream into a private temp file beside it that is renamed into
place only when complete and checked against the Files API's size (and, for output
and error files, one JSON object per line); an existing file is kept unless
``--force``. A connection that breaks part way is resumed with a Range request;
on a terminal, stderr shows the bytes done, the rate and the time left.
With ``--output -`` they stream to stdout as they arrive (a closed pipe
ends quietly) and a failed check comes at the end, as exit 1.
The registry remembers where a batch's results were downloaded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.commands import _shared

if TYPE_CHECKING:
    from tui.core.anthropic_client import AnthropicBatchClient
    from tui.core.client import BatchClient
    from tui.core.config import Profile
    from tui.core.models import Batch, FileInfo

KINDS = ("output", "error", "input")


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "download",
        help="download a batch's output, error or input file",
        description="Download a batch's file. The file appears at PATH only when complete; "
        "an existing PATH is kept unless --force. '--output -' writes to stdout.",
    )
    parser.add_argument("batch_id", metavar="BATCH_ID")
    parser.add_argument(
        "--file", choices=KINDS, default="output", help="which file (default output)"
    )
    add_output_options(parser)
    _shared.add_common(parser, json=False)


def add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output", "-o", required=True, metavar="PATH", help="where to write it ('-' for stdout)"
    )
    parser.add_argument("--force", action="store_true", help="replace PATH if it exists")


def run(args: argparse.Namespace) -> int:
    async def body(profile: Profile, client: BatchClient) -> int:
        from tui.commands.show import retrieve_known

        batch = await retrieve_known(client, args.batch_id)
        from tui.core.anthropic_client import AnthropicBatchClient

        if isinstance(client, AnthropicBatchClient):  # one results file, no file ids
            return await save_anthropic_results(client, batch, args)
        file_id = {
            "output": batch.output_file_id,
            "error": batch.error_file_id,
            "input": batch.input_file_id,
        }[args.file]
        if not file_id:
            raise _shared.CommandError(
                f"batch {batch.id} has no {args.file} file (status {batch.status})"
            )
        saved = await save_file(client, file_id, args.output, force=args.force)
        if saved is not None:
            _remember(batch, args.file, saved)
        return _shared.EXIT_OK

    return _shared.run_with_client(args, body)


async def save_anthropic_results(
    client: AnthropicBatchClient, batch: Batch, args: argparse.Namespace
) -> int:
    """An Anthropic batch's results JSONL (its only file) to ``--output``."""
    if args.file != "output":
        raise _shared.CommandError(
            f"batch {batch.id} is an Anthropic message batch: it has one results file "
            "(--file output), no error or input file"
        )
    if not batch.is_final:
        raise _shared.CommandError(f"batch {batch.id} has no results yet (status {batch.status})")
    if args.output == "-":
        async for chunk in client.iter_results(batch.id):
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
        return _shared.EXIT_OK
    path = Path(args.output)
    if path.exists() and not args.force:
        raise _shared.CommandError(f"{path} exists; pass --force to replace it")
    await client.download_results(batch.id, path)
    _remember(batch, "output", path)
    _shared.tty_info(f"Saved the results of {batch.id} to {path}")
    return _shared.EXIT_OK


async def save_file(
    client: BatchClient, file_id: str, output: str, *, force: bool, info: FileInfo | None = None
) -> Path | None:
    """Write ``file_id`` to ``output`` (``-``: stdout); the path written, if any.

    ``info``: the file's Files API object, if at hand (else the client retrieves it)."""
    if output == "-":
        sink = sys.stdout.buffer
        async for chunk in client.iter_file_content(file_id, info=info):
            sink.write(chunk)
        sink.flush()
        return None
    path = Path(output).expanduser()
    if path.exists() and not force:
        raise _shared.CommandError(f"{path} exists; pass --force to replace it")
    if path.is_dir():
        raise _shared.CommandError(f"{path} is a directory; name a file")
    try:  # without --force, a file that appears meanwhile is kept too
        await client.download_file(
            file_id, path, progress=_shared.stderr_progress(file_id), info=info, replace=force
        )
    except FileExistsError:
        raise _shared.CommandError(f"{path} exists; pass --force to replace it") from None
    _shared.tty_info(f"Saved {file_id} to {path}")
    return path


def _remember(batch: Batch, kind: str, path: Path) -> None:
    """Note the download in the batch's job, if batchdeck has one (none is made)."""
    from tui.core.downloads import record_download

    registry = _shared.open_registry()
    if registry.find_by_batch(batch.id) is not None:
        record_download(registry, batch, kind, path.resolve())
