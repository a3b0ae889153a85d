"""BatchClient: the Files and Batches API over ``openai.AsyncOpenAI``, as core models.

- Lists come page by page (an async iterator of pages), so a caller shows the first
  page before the next is fetched. Pages are read raw and decoded with msgspec: the
  SDK still does auth, retries and errors, but no pydantic model is built per batch.
- Uploads report progress as the SDK reads the file; the name sent is made printable
  (:func:`wire_name`). Downloads stream to a private temp file that is renamed into
  place only when complete and only if it is the file the Files API describes: its
  size, and for batch output and error files, one JSON object per line
  (:class:`ContentCheck`; else :class:`DownloadCheckError`).
- Every SDK error becomes one of :mod:`tui.core.errors`.
- ``openai`` is imported on first use, so start-up does not pay for it; so is
  msgspec (:func:`json_decoder`): the first frame decodes no JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import os
import re
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

from tui.core import errors, text
from tui.core.config import Profile
from tui.core.models import Batch, FileInfo
from tui.core.sdk_options import (
    BATCH_PAGE_LIMIT,
    DEFAULT_MAX_RETRIES,
    api_key_for,
    openai_options,
)

if TYPE_CHECKING:
    import msgspec
    from openai import AsyncOpenAI

Progress = Callable[[int, int | None], None]
"""Called with (bytes done, bytes total or None)."""

T = TypeVar("T")
FILE_PAGE_LIMIT = 10_000  # the API's maximum page size for files
_NOT_PRINTABLE = (  # compiled by the first upload (re's cache): ~1 ms, not at launch
    "[\x00-\x1f\x7f-\x9f\u200b\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ud800-\udfff]"
)


@functools.cache
def json_decoder() -> msgspec.json.Decoder[Any]:
    """msgspec's JSON decoder (any JSON value), made on first use: a launch decodes
    nothing before its first frame, and msgspec's import is not free. What it raises
    on bad JSON, ``msgspec.DecodeError``, is a ``ValueError``: callers catch that, so
    that only a decode imports msgspec."""
    import msgspec

    return msgspec.json.Decoder()


@functools.cache
def _object_decoder() -> msgspec.json.Decoder[Any]:
    """Decoding with this checks a line is one JSON object without building it."""
    import msgspec

    class _AnyObject(msgspec.Struct):
        pass

    return msgspec.json.Decoder(_AnyObject)


def wire_name(name: str) -> str:
    """A file name safe to send in a multipart upload: control, invisible and
    unencodable characters (an escape sequence, a newline, undecodable bytes of a
    local name) become ``_``. Only the copy sent changes; the local file keeps its name."""
    return re.sub(_NOT_PRINTABLE, "_", name) or "upload.jsonl"


class DownloadCheckError(errors.ServerError):
    """A download is not the file the Files API describes: another size, or, for a
    batch output or error file, a line that is not a JSON object. Nothing is kept."""

    def __init__(
        self,
        file_id: str,
        *,
        expected: int | None = None,
        received: int | None = None,
        line: int | None = None,
    ) -> None:
        if line is not None:
            what = f"line {line} is not a JSON object, so it is not a batch result file"
        else:
            what = f"received {received} bytes, but the Files API reports {expected}"
        super().__init__(f"The download of {file_id} was refused: {what}.")
        self.file_id = file_id
        self.expected = expected
        self.received = received
        self.line = line


class ContentCheck:
    """Checks a file's bytes, fed as they arrive, against its Files API object.

    The size must be the one the API reports (a server that reports 0 is taken to
    report none), and a ``batch_output`` file (output and error files) must hold one
    JSON object per line (blank lines aside). :meth:`finish` raises
    :class:`DownloadCheckError` on the first difference: the size, else the line.
    """

    def __init__(self, info: FileInfo) -> None:
        self.file_id = info.id
        self.expected = info.bytes or None
        self.received = 0
        self.bad_line: int | None = None
        self._lines = info.purpose == "batch_output"
        self._line_no = 0
        self._pending = bytearray()

    def feed(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if not self._lines or self.bad_line is not None:
            return
        self._pending += chunk
        start = 0
        with memoryview(self._pending) as view:
            while self.bad_line is None and (end := self._pending.find(b"\n", start)) >= 0:
                self._check_line(view[start:end])
                start = end + 1
        del self._pending[:start]

    def finish(self) -> None:
        if self._lines and self.bad_line is None and self._pending:
            with memoryview(self._pending) as view:
                self._check_line(view)  # the last line, without a newline
        if self.expected is not None and self.received != self.expected:
            raise DownloadCheckError(self.file_id, expected=self.expected, received=self.received)
        if self.bad_line is not None:
            raise DownloadCheckError(self.file_id, line=self.bad_line)

    def _check_line(self, line: memoryview) -> None:
        self._line_no += 1
        if len(line) <= 2 and not bytes(line).strip():
            return  # a blank line (CRLF files: a lone \r)
        try:
            _object_decoder().decode(line)
        except ValueError:  # msgspec.DecodeError
            if not _is_json_object(line):  # JSON allows lone surrogate escapes; msgspec not
                self.bad_line = self._line_no


def _is_json_object(line: memoryview) -> bool:
    import json

    try:
        return isinstance(json.loads(bytes(line), parse_constant=_not_json), dict)
    except (ValueError, RecursionError):
        return False


def _not_json(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


class ProgressReader:
    """A binary file wrapper that reports how much of it has been read.

    httpx reads an upload in 64 KiB chunks and seeks to 0 before a retry, so the
    count restarts with each attempt, which is what a progress bar should show.
    """

    def __init__(self, handle: IO[bytes], total: int, progress: Progress | None) -> None:
        self._handle = handle
        self._total = total
        self._progress = progress
        self._done = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._handle.read(size)
        self._done += len(chunk)
        if chunk and self._progress is not None:  # not again for the read at the end
            self._progress(self._done, self._total)
        return chunk

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        position = self._handle.seek(offset, whence)
        if whence == os.SEEK_SET:
            self._done = position
        return position

    def tell(self) -> int:
        return self._handle.tell()

    def fileno(self) -> int:
        return self._handle.fileno()


@contextlib.contextmanager
def translate_errors(sdk_name: str = "openai") -> Iterator[None]:
    """Turn SDK and transport exceptions into :mod:`tui.core.errors`. ``sdk_name`` is
    ``"openai"`` or ``"anthropic"``: both SDKs name their exceptions alike."""
    import importlib

    import httpx2

    sdk: Any = importlib.import_module(sdk_name)
    root = sdk.OpenAIError if sdk_name == "openai" else sdk.AnthropicError
    try:
        yield
    except sdk.APIStatusError as exc:
        raise _status_error(exc) from exc
    except sdk.APITimeoutError as exc:
        raise errors.NetworkError(f"The server{_at(exc)} did not answer in time.") from exc
    except sdk.APIConnectionError as exc:
        cause = exc.__cause__ or exc
        raise errors.NetworkError(f"Cannot reach the server{_at(exc)}: {cause}") from exc
    except root as exc:
        raise errors.ApiError(str(exc)) from exc
    except (httpx2.TransportError, httpx2.StreamError) as exc:  # mid-body, outside the SDK
        raise errors.NetworkError(f"The connection broke: {exc}") from exc


def _at(exc: Any) -> str:
    """`` at scheme://host:port`` of the request that failed (never its credentials:
    :func:`tui.core.text.public_url`), or "" when the error has no request."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(str(exc.request.url))
    except (AttributeError, RuntimeError, ValueError):
        return ""
    if not parts.netloc:
        return ""
    return f" at {text.one_line(text.public_url(f'{parts.scheme}://{parts.netloc}'))}"


def _build(raw: Any, factory: Callable[[dict[str, Any]], T], what: str) -> T:
    """A core model from one decoded API object; anything off-schema is a ServerError."""
    try:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
            raise ValueError("no id")
        return factory(raw)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise errors.ServerError(
            f"The server's answer to {what} is not a valid API object ({exc})."
        ) from exc


def page_items(
    page: dict[str, Any], factory: Callable[[dict[str, Any]], T], what: str
) -> tuple[list[T], str | None]:
    """A list page's items, each built by ``factory``, and the cursor of the next
    page (``None``: this was the last)."""
    items = [_build(raw, factory, what) for raw in page.get("data") or ()]
    last = page.get("last_id") or (getattr(items[-1], "id", None) if items else None)
    return items, (str(last) if page.get("has_more") and items and last else None)


def _parse(content: bytes, factory: Callable[[dict[str, Any]], T], what: str) -> T:
    try:
        raw = json_decoder().decode(content)
    except ValueError as exc:  # msgspec.DecodeError
        raise errors.ServerError(f"The server's answer to {what} is not JSON.") from exc
    return _build(raw, factory, what)


def _server_message(exc: Any) -> tuple[str, str | None]:
    body = exc.body if isinstance(exc.body, dict) else {}
    inner = body.get("error", body) if isinstance(body.get("error", body), dict) else {}
    message = str(inner.get("message") or exc.message or "")
    if inner.get("param"):
        message += f" (param: {inner['param']})"
    code = inner.get("code")
    return message, (str(code) if code is not None else None)


def _status_error(exc: Any) -> errors.ApiError:
    status = int(exc.status_code)
    message, code = _server_message(exc)
    if status in (401, 403):
        return errors.AuthError(
            f"The server refused the key ({status}): {message}", status=status, code=code
        )
    if status == 404:
        return errors.NotFoundError(f"Not found: {message}", status=status, code=code)
    if status == 429:
        retry = exc.response.headers.get("retry-after")
        try:
            retry_after = float(retry) if retry else None
        except ValueError:
            retry_after = None
        return errors.RateLimitedError(
            f"Rate limited by the server: {message}", retry_after=retry_after, code=code
        )
    if status >= 500:
        return errors.ServerError(f"Server error ({status}): {message}", status=status, code=code)
    return errors.RequestError(f"Refused ({status}): {message}", status=status, code=code)


def make_openai(profile: Profile, *, max_retries: int = DEFAULT_MAX_RETRIES) -> AsyncOpenAI:
    """The SDK client for ``profile`` (:func:`~tui.core.sdk_options.openai_options`):
    ``AsyncAzureOpenAI`` for Azure, else ``AsyncOpenAI``."""
    import openai

    options = openai_options(profile, max_retries=max_retries)
    if profile.provider == "azure":
        return openai.AsyncAzureOpenAI(**options)
    return openai.AsyncOpenAI(**options)


class BatchClient:
    """The Batch and Files API of one profile's server.

    Importing ``openai`` takes longer than Textual's whole start-up, so the SDK
    client is built on first use, or ahead of it, off the event loop, by
    :meth:`prepare`. A missing key is still reported at once, by the constructor.
    """

    def __init__(self, profile: Profile, *, max_retries: int = DEFAULT_MAX_RETRIES) -> None:
        text.register_client_secrets(api_key_for(profile), profile.resolved_base_url())
        text.register_secret(profile.azure_ad_token() or "")
        self.profile = profile
        self._max_retries = max_retries
        self._sdk: AsyncOpenAI | None = None

    @property
    def _client(self) -> AsyncOpenAI:
        if self._sdk is None:
            self._sdk = make_openai(self.profile, max_retries=self._max_retries)
        return self._sdk

    @_client.setter
    def _client(self, value: AsyncOpenAI) -> None:
        self._sdk = value

    async def prepare(self) -> None:
        """Import the SDK in a thread, so that the first call does not block the loop."""
        if self._sdk is None:
            from tui.core.first_page import settled

            await settled(self)  # the page a start-up child is listing comes first
            await asyncio.to_thread(importlib.import_module, "openai")
            self._client  # noqa: B018 - build it now, the import is done

    @property
    def base_url(self) -> str:
        return self.profile.resolved_base_url() if self._sdk is None else str(self._sdk.base_url)

    async def close(self) -> None:
        if self._sdk is not None:
            await self._sdk.close()

    # -- batches -------------------------------------------------------------------

    def iter_batch_pages(
        self, *, page_size: int = BATCH_PAGE_LIMIT, after: str | None = None
    ) -> AsyncIterator[list[Batch]]:
        """Every batch of the account, newest first, one page at a time."""
        return self._iter_pages("/batches", {"limit": page_size}, Batch.from_dict, after)

    async def list_batches(self, *, limit: int | None = None) -> list[Batch]:
        """All batches (or the newest ``limit``) as one list."""
        out: list[Batch] = []
        async for page in self.iter_batch_pages():
            out.extend(page)
            if limit is not None and len(out) >= limit:
                return out[:limit]
        return out

    async def retrieve_batch(self, batch_id: str) -> Batch:
        with translate_errors():
            raw = await self._client.batches.with_raw_response.retrieve(batch_id)
        return _parse(raw.content, Batch.from_dict, f"retrieve {batch_id}")

    async def create_batch(
        self,
        input_file_id: str,
        endpoint: str,
        *,
        metadata: Mapping[str, str] | None = None,
        output_expires_after: int | None = None,
        completion_window: str | None = None,
        retry: bool = True,
    ) -> Batch:
        """Create a batch in ``completion_window`` (default: the first the profile's
        service offers, ``24h`` on OpenAI).

        The API takes no idempotency key, so a create whose answer was lost and is
        then retried may make a second batch. ``retry=False`` sends it exactly once,
        for callers (the journal) that check what happened before trying again.
        """
        sdk = self._client if retry else self._client.with_options(max_retries=0)
        extra: dict[str, Any] = {}
        if output_expires_after is not None:
            extra["output_expires_after"] = {
                "anchor": "created_at",
                "seconds": int(output_expires_after),
            }
        with translate_errors():
            raw = await sdk.batches.with_raw_response.create(
                input_file_id=input_file_id,
                endpoint=endpoint,  # type: ignore[arg-type]
                completion_window=(completion_window or self.profile.limits.default_window),  # type: ignore[arg-type]
                metadata=dict(metadata) if metadata else None,
                **extra,
            )
        return _parse(raw.content, Batch.from_dict, "create batch")

    async def cancel_batch(self, batch_id: str) -> Batch:
        with translate_errors():
            raw = await self._client.batches.with_raw_response.cancel(batch_id)
        return _parse(raw.content, Batch.from_dict, f"cancel {batch_id}")

    # -- files ---------------------------------------------------------------------

    def iter_file_pages(
        self, *, purpose: str | None = None, page_size: int = FILE_PAGE_LIMIT
    ) -> AsyncIterator[list[FileInfo]]:
        """Every file of the account, newest first, one page at a time."""
        query: dict[str, Any] = {"limit": page_size, "order": "desc"}
        if purpose:
            query["purpose"] = purpose
        return self._iter_pages("/files", query, FileInfo.from_dict, None)

    async def list_files(self, *, purpose: str | None = None) -> list[FileInfo]:
        out: list[FileInfo] = []
        async for page in self.iter_file_pages(purpose=purpose):
            out.extend(page)
        return out

    async def retrieve_file(self, file_id: str) -> FileInfo:
        with translate_errors():
            raw = await self._client.files.with_raw_response.retrieve(file_id)
        return _parse(raw.content, FileInfo.from_dict, f"retrieve {file_id}")

    async def upload_file(
        self,
        path: Path,
        *,
        purpose: str | None = None,
        filename: str | None = None,
        progress: Progress | None = None,
    ) -> FileInfo:
        """Upload ``path``, reporting bytes sent as the SDK reads them; the server gets
        ``filename`` (default: the local name) made printable by :func:`wire_name`.
        ``purpose`` defaults to the profile's service's (``batch``)."""
        path = Path(path)
        total = path.stat().st_size
        with path.open("rb") as handle, translate_errors():
            reader = ProgressReader(handle, total, progress)
            raw = await self._client.files.with_raw_response.create(
                file=(wire_name(filename or path.name), reader, "application/jsonl"),  # type: ignore[arg-type]
                purpose=purpose or self.profile.limits.file_purpose,  # type: ignore[arg-type]
            )
        return _parse(raw.content, FileInfo.from_dict, "upload")

    async def download_file(
        self,
        file_id: str,
        destination: Path,
        *,
        progress: Progress | None = None,
        info: FileInfo | None = None,
        replace: bool = True,
    ) -> Path:
        """Stream a file's content to ``destination``; it appears only when complete
        and checked (:class:`ContentCheck`) against ``info``, the file's Files API
        object (retrieved first unless the caller has it).

        The bytes go to a private temp file beside ``destination`` that is renamed
        over it at the end; an error, a short read or a failed check removes the temp
        file and leaves ``destination`` as it was. ``replace=False``: a
        ``destination`` that exists by the end (even one that appeared during the
        download) is kept and :class:`FileExistsError` is raised. A connection that
        breaks part way is resumed with a Range request
        (:func:`tui.core.downloads.fetch_resuming`).
        """
        from tui.core.downloads import fetch_resuming

        info = info if info is not None else await self.retrieve_file(file_id)
        return await fetch_resuming(
            self._client, info, Path(destination), progress=progress, replace=replace
        )

    async def iter_file_content(
        self, file_id: str, *, info: FileInfo | None = None
    ) -> AsyncIterator[bytes]:
        """A file's content as it arrives, in chunks (for a pipe, not a file: a
        consumer that needs it whole and complete uses :meth:`download_file`).

        Checked like :meth:`download_file`, but what was yielded is gone: the
        :class:`DownloadCheckError` comes after the last chunk, for an exit code."""
        check = ContentCheck(info if info is not None else await self.retrieve_file(file_id))
        with translate_errors():
            async with self._client.files.with_streaming_response.content(file_id) as response:
                async for chunk in response.iter_bytes(1 << 20):
                    check.feed(chunk)
                    yield chunk
        check.finish()

    async def delete_file(self, file_id: str) -> bool:
        with translate_errors():
            raw = await self._client.files.with_raw_response.delete(file_id)
        return _parse(raw.content, lambda r: bool(r.get("deleted")), f"delete {file_id}")

    # -- internals -----------------------------------------------------------------

    async def _iter_pages(
        self,
        path: str,
        query: dict[str, Any],
        factory: Callable[[dict[str, Any]], T],
        after: str | None,
    ) -> AsyncIterator[list[T]]:
        """A cursor-paginated list, one page at a time; nothing is fetched ahead."""
        while True:
            page = await self._get_list(path, {**query, "after": after} if after else query)
            items, after = page_items(page, factory, f"list {path}")
            if items:
                yield items
            if after is None:
                return

    async def _get_list(self, path: str, query: dict[str, Any]) -> dict[str, Any]:
        """GET a list endpoint through the SDK (auth, retries) and decode it raw."""
        import httpx2

        with translate_errors():
            response = await self._client.get(
                path, cast_to=httpx2.Response, options={"params": query}
            )
        return list_page(response.content, path)


def list_page(content: bytes, path: str) -> dict[str, Any]:
    """A list endpoint's answer (``path``), decoded (not built: :func:`page_items`
    builds it); a :class:`~tui.core.errors.ServerError` if it is not a JSON object."""
    try:
        page = json_decoder().decode(content)
    except ValueError as exc:  # msgspec.DecodeError
        raise errors.ServerError(f"The server's answer to list {path} is not JSON.") from exc
    if not isinstance(page, dict):
        raise errors.ServerError(f"The server answered list {path} with something not a list.")
    return page


def _write_checked(handle: IO[bytes], check: ContentCheck, chunk: bytes) -> None:
    handle.write(chunk)
    check.feed(chunk)


def _flush_and_sync(handle: IO[bytes]) -> None:
    handle.flush()
    os.fsync(handle.fileno())
