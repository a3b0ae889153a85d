"""``batchdeck files ls|rm|get``: the account's files.

- ``ls [--purpose P] [--json]``: newest first; a table, or JSON lines (one file each).
- ``rm FILE_ID... [--yes]``: delete; asks at a terminal, refuses without one unless
  ``--yes``.
- ``get FILE_ID --output PATH [--force]``: like ``download`` (``-`` for stdout).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from tui.commands import _shared

if TYPE_CHECKING:
    from tui.core.client import BatchClient
    from tui.core.config import Profile
    from tui.core.models import FileInfo

HEADERS = ("ID", "PURPOSE", "BYTES", "CREATED (UTC)", "EXPIRES (UTC)", "FILENAME")


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "files",
        help="list, delete or download the account's files",
        description="The account's files: ls, rm, get.",
    )
    actions = parser.add_subparsers(dest="files_action", metavar="ACTION", required=True)
    ls = actions.add_parser("ls", help="list files", description="List files, newest first.")
    ls.add_argument("--purpose", help="only files with this purpose (batch, batch_output, ...)")
    _shared.add_common(ls)
    rm = actions.add_parser("rm", help="delete files", description="Delete files.")
    rm.add_argument("file_ids", nargs="+", metavar="FILE_ID")
    rm.add_argument("--yes", "-y", action="store_true", help="do not ask")
    _shared.add_common(rm)
    get = actions.add_parser(
        "get",
        help="download a file",
        description="Download a file. It appears at PATH only when complete; an existing "
        "PATH is kept unless --force. '--output -' writes to stdout.",
    )
    get.add_argument("file_id", metavar="FILE_ID")
    from tui.commands.download import add_output_options

    add_output_options(get)
    _shared.add_common(get, json=False)


def run(args: argparse.Namespace) -> int:
    action = {"ls": _ls, "rm": _rm, "get": _get}[args.files_action]

    async def body(profile: Profile, client: BatchClient) -> int:
        return await action(args, client)

    return _shared.run_with_client(args, body)


async def _ls(args: argparse.Namespace, client: BatchClient) -> int:
    files: list[FileInfo] = []
    async for page in client.iter_file_pages(purpose=args.purpose):
        files.extend(page)
        _shared.stderr_note(f"{len(files)} files read…")
    _shared.stderr_note_done()
    if args.json:
        import msgspec

        _shared.emit_json_lines(msgspec.to_builtins(info) for info in files)
    elif files:
        _shared.write(_shared.table(HEADERS, (_row(info) for info in files)))
    else:
        _shared.info("No files.")
    return _shared.EXIT_OK


def _row(info: FileInfo) -> tuple[str, ...]:
    from tui.core.models import display_filename
    from tui.core.text import one_line
    from tui.core.timefmt import exact

    return (
        one_line(info.id),
        one_line(info.purpose),
        str(info.bytes),
        exact(info.created_at).removesuffix(" UTC"),
        exact(info.expires_at).removesuffix(" UTC"),
        one_line(display_filename(info.filename)),
    )


async def _rm(args: argparse.Namespace, client: BatchClient) -> int:
    from tui.core import errors
    from tui.core.text import one_line

    ids = list(dict.fromkeys(args.file_ids))
    shown = ", ".join(one_line(i) for i in ids)
    _shared.confirm(f"Delete {len(ids)} file(s): {shown}?", yes=args.yes)
    failed = 0
    for file_id in ids:
        try:
            deleted = await client.delete_file(file_id)
        except errors.NotFoundError:
            _shared.error(f"unknown file {file_id!r}")
            failed += 1
            continue
        if args.json:
            _shared.emit_json({"id": file_id, "deleted": deleted})
        else:
            _shared.write(f"{one_line(file_id)}  {'deleted' if deleted else 'not deleted'}\n")
        failed += not deleted
    return _shared.EXIT_FAILURE if failed else _shared.EXIT_OK


async def _get(args: argparse.Namespace, client: BatchClient) -> int:
    from tui.commands.download import save_file
    from tui.core import errors

    try:
        info = await client.retrieve_file(args.file_id)
    except errors.NotFoundError as exc:
        raise _shared.CommandError(f"unknown file {args.file_id!r} ({exc.message})") from exc
    await save_file(client, info.id, args.output, force=args.force, info=info)
    return _shared.EXIT_OK
