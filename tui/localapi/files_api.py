"""``/v1/files``: upload (multipart, streamed to disk), list, retrieve, delete, content."""

from __future__ import annotations

import contextlib
import os
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from tui.core.fsutil import PRIVATE_FILE, fsync_dir
from tui.localapi.app import context
from tui.localapi.errors import (
    ApiError,
    invalid_request,
    invalid_value,
    missing_parameter,
    not_found,
)
from tui.localapi.params import expires_after_param, limit_param, text_bytes, text_param
from tui.localapi.store import public
from tui.localapi.validate import MAX_INPUT_BYTES

UPLOAD_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
BATCH_INPUT_TTL = 30 * 24 * 3600
FILE_LIST_MAX = 10_000
CHUNK = 256 * 1024


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/files", upload)
    app.router.add_get("/v1/files", list_files)
    app.router.add_get("/v1/files/{file_id}", retrieve)
    app.router.add_delete("/v1/files/{file_id}", delete)
    app.router.add_get("/v1/files/{file_id}/content", content)


def _no_file(file_id: str) -> ApiError:
    return not_found(f"No such File object: {file_id[:100]}", param="id")


async def upload(request: web.Request) -> web.Response:
    ctx = context(request)
    if not request.content_type.startswith("multipart/"):
        raise invalid_request(
            "Invalid Content-Type header: expected multipart/form-data.", code="invalid_type"
        )
    store = ctx.store
    file_id = store.new_file_id()
    blob = store.blob_path(file_id)
    tmp = blob.with_name(f".{blob.name}.upload")
    fields: dict[str, str] = {}
    filename: str | None = None
    size = 0
    try:
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "file":
                    filename = text_param(part.filename or "upload", "file")
                    size = await _save_part(part, tmp)
                elif part.name:
                    name = text_param(part.name, part.name)
                    fields[name] = text_bytes(await part.read(decode=True), name)
        except (ValueError, HttpProcessingError) as exc:
            raise invalid_request(
                f"Could not parse the multipart form: {str(exc)[:200]}", code="invalid_form"
            ) from None
        purpose = fields.get("purpose")
        if filename is None:
            raise missing_parameter("file")
        if not purpose:
            raise missing_parameter("purpose")
        if purpose not in UPLOAD_PURPOSES:
            raise invalid_value("purpose", purpose[:100], UPLOAD_PURPOSES)
        if purpose == "batch" and size > MAX_INPUT_BYTES:
            raise invalid_request(
                f"File is too large: {size} bytes. Batch input files can be at most "
                f"{MAX_INPUT_BYTES} bytes.",
                param="file",
                code="file_too_large",
            )
        expires_after = None
        if "expires_after[anchor]" in fields or "expires_after[seconds]" in fields:
            expires_after = expires_after_param(
                {
                    "anchor": fields.get("expires_after[anchor]"),
                    "seconds": fields.get("expires_after[seconds]"),
                },
                "expires_after",
            )
        os.replace(tmp, blob)
        fsync_dir(blob.parent)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    created = int(ctx.engine.now())
    if expires_after is not None:
        expires_at: int | None = created + int(expires_after["seconds"])
    elif purpose == "batch":
        expires_at = created + BATCH_INPUT_TTL
    else:
        expires_at = None
    record: dict[str, Any] = {
        "id": file_id,
        "object": "file",
        "bytes": size,
        "created_at": created,
        "expires_at": expires_at,
        "filename": filename[:512],
        "purpose": purpose,
        "status": "processed",
        "status_details": None,
        "_seq": store.next_seq(),
    }
    store.save_file(record)
    return web.json_response(public(record))


async def _save_part(part: BodyPartReader, tmp: Any) -> int:
    """Stream an uploaded part to ``tmp`` (never whole in memory); returns its size."""
    size = 0
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as handle:
        while chunk := await part.read_chunk(CHUNK):
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                raise invalid_request(
                    f"File is too large. Files can be at most {MAX_UPLOAD_BYTES} bytes.",
                    param="file",
                    code="file_too_large",
                )
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    return size


async def list_files(request: web.Request) -> web.Response:
    ctx = context(request)
    query = request.query
    limit = limit_param(query, default=FILE_LIST_MAX, maximum=FILE_LIST_MAX)
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise invalid_value("order", order[:20], ("asc", "desc"))
    purpose = query.get("purpose") or None
    files = ctx.store.list_files(ctx.engine.now(), purpose=purpose, ascending=order == "asc")
    after = query.get("after")
    if after:
        position = next((i for i, r in enumerate(files) if r["id"] == after), None)
        if position is None:
            raise invalid_request(f"No such File object: {after[:100]}", param="after")
        files = files[position + 1 :]
    page = [public(r) for r in files[:limit]]
    return web.json_response(
        {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(files) > limit,
        }
    )


async def retrieve(request: web.Request) -> web.Response:
    ctx = context(request)
    file_id = request.match_info["file_id"]
    record = ctx.store.live_file(file_id, ctx.engine.now())
    if record is None or ctx.faults.file_missing(file_id, request.method, request.path):
        raise _no_file(file_id)
    return web.json_response(public(record))


async def delete(request: web.Request) -> web.Response:
    ctx = context(request)
    file_id = request.match_info["file_id"]
    if ctx.store.live_file(file_id, ctx.engine.now()) is None:
        raise _no_file(file_id)
    ctx.store.delete_file(file_id)
    return web.json_response({"id": file_id, "object": "file", "deleted": True})


async def content(request: web.Request) -> web.StreamResponse:
    """The file's bytes, streamed from disk (sendfile where possible; Range works)."""
    ctx = context(request)
    file_id = request.match_info["file_id"]
    record = ctx.store.live_file(file_id, ctx.engine.now())
    if record is None:
        raise _no_file(file_id)
    path = ctx.store.blob_path(file_id)
    if not path.exists():
        raise _no_file(file_id)
    return web.FileResponse(
        path, chunk_size=CHUNK, headers={"Content-Type": "application/octet-stream"}
    )
