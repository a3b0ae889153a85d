"""AnthropicBatchClient: Anthropic's Message Batches behind :class:`BatchClient`'s face.

The screens and commands call the same methods on it as on
:class:`tui.core.client.BatchClient` (``iter_batch_pages``, ``list_batches``,
``retrieve_batch``, ``cancel_batch``, ``close``, ``prepare``, ``base_url``) and get the
same :class:`tui.core.models.Batch`: a message batch is mapped onto it here, the one
place that knows the two APIs differ (:func:`batch_from_anthropic`):

- ``processing_status`` ``in_progress`` -> ``in_progress``, ``canceling`` ->
  ``cancelling``; ``ended`` -> ``cancelled`` if a cancel was asked for, ``expired`` if
  any request expired, else ``completed``;
- ``request_counts``: ``total`` is every request, ``completed`` the succeeded ones,
  ``failed`` the errored ones (canceled and expired requests show in the status);
  Anthropic tells them only once the batch ended;
- ISO times become Unix seconds: ``created_at`` (also ``in_progress_at``: a message
  batch runs at once), ``expires_at``, ``cancel_initiated_at`` -> ``cancelling_at``,
  ``ended_at`` -> ``completed_at``/``cancelled_at``/``expired_at``;
- ``endpoint`` is ``/v1/messages``; there are no files (``input_file_id`` is "",
  ``output_file_id`` None), no metadata and no model in the object.

What has no OpenAI twin has its own method: :meth:`create_message_batch` takes the
requests inline (no upload step: the Files API methods raise a plain
:class:`~tui.core.errors.RequestError` rather than pretend), :meth:`delete_batch`,
and :meth:`iter_results` / :meth:`download_results` read the results JSONL.
``anthropic`` is imported on first use, like ``openai``; its errors become
:mod:`tui.core.errors`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from tui.core import errors, text
from tui.core.client import (  # one error mapping and one JSON decoder for both SDKs
    BatchClient,
    json_decoder,
    translate_errors,
)
from tui.core.config import Profile
from tui.core.fsutil import atomic_file
from tui.core.models import Batch, FileInfo, RequestCounts
from tui.core.sdk_options import BATCH_PAGE_LIMIT, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic

ANTHROPIC_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_KEY_ENV = "ANTHROPIC_API_KEY"
ENDPOINT = "/v1/messages"
BATCHES_PATH = "/v1/messages/batches"
ANTHROPIC_PAGE_LIMIT = 1000  # the API's maximum page size


NO_FILES = "Anthropic's Message Batches have no files: a batch's results come with it."


class NoFilesError(errors.RequestError):
    """Anthropic's Message Batches have no Files API: requests go inline with the batch."""


def base_url_for(profile: Profile) -> str:
    """The profile's URL, else Anthropic's (the ``anthropic`` preset's, so this is
    ``profile.resolved_base_url()`` for an Anthropic profile)."""
    return profile.base_url or ANTHROPIC_BASE_URL


def client_for(profile: Profile, *, max_retries: int = DEFAULT_MAX_RETRIES) -> BatchClient:
    """The client of ``profile``'s API: :class:`AnthropicBatchClient` for ``provider =
    "anthropic"``, else :class:`BatchClient` (the key is read from the environment now)."""
    if profile.provider == "anthropic":
        return AnthropicBatchClient(profile, max_retries=max_retries)
    return BatchClient(profile, max_retries=max_retries)


def anthropic_key_for(profile: Profile) -> str:
    """The profile's key from the environment; none for Anthropic's own server is an
    :class:`~tui.core.errors.AuthError` (a local test server may need none)."""
    key = profile.api_key()
    if key is None:
        if base_url_for(profile).rstrip("/") == ANTHROPIC_BASE_URL:
            raise errors.AuthError(
                f"No API key: set {profile.api_key_env} (profile {profile.name!r})."
            )
        key = "no-key"  # the SDK insists on a value
    return key


def translate_anthropic_errors() -> contextlib.AbstractContextManager[None]:
    """Turn ``anthropic`` SDK and transport exceptions into :mod:`tui.core.errors`."""
    return translate_errors("anthropic")


def _seconds(value: Any) -> int | None:
    """An RFC 3339 time (``2026-01-01T00:00:00.000000Z``) as Unix seconds (None stays)."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return int(value)
    return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp())


def anthropic_status(raw: dict[str, Any]) -> str:
    """batchdeck's status for a message batch (see the module docstring)."""
    status = raw.get("processing_status")
    counts = raw.get("request_counts") or {}
    if status == "canceling":
        return "cancelling"
    if status == "ended":
        if raw.get("cancel_initiated_at") is not None or counts.get("canceled"):
            return "cancelled"
        return "expired" if counts.get("expired") else "completed"
    return "in_progress" if status == "in_progress" else str(status or "unknown")


def batch_from_anthropic(raw: dict[str, Any]) -> Batch:
    """A ``MessageBatch`` object as a :class:`Batch` (ValueError/KeyError if it is not one)."""
    counts = raw.get("request_counts") or {}
    numbers = {
        name: int(counts.get(name) or 0)
        for name in ("processing", "succeeded", "errored", "canceled", "expired")
    }
    status = anthropic_status(raw)
    created = _seconds(raw["created_at"])
    if created is None:
        raise ValueError("no created_at")
    ended = _seconds(raw.get("ended_at"))
    return Batch(
        id=str(raw["id"]),
        status=status,
        endpoint=ENDPOINT,
        input_file_id="",
        created_at=created,
        in_progress_at=created,
        expires_at=_seconds(raw.get("expires_at")),
        cancelling_at=_seconds(raw.get("cancel_initiated_at")),
        completed_at=ended if status == "completed" else None,
        cancelled_at=ended if status == "cancelled" else None,
        expired_at=ended if status == "expired" else None,
        request_counts=RequestCounts(
            total=sum(numbers.values()),
            completed=numbers["succeeded"],
            failed=numbers["errored"],
        ),
    )


def _batch(content: bytes, what: str) -> Batch:
    try:
        raw = json_decoder().decode(content)
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
            raise ValueError("no id")
        return batch_from_anthropic(raw)
    except (KeyError, TypeError, ValueError) as exc:  # bad JSON: msgspec.DecodeError
        raise errors.ServerError(
            f"The server's answer to {what} is not a valid message batch ({exc})."
        ) from exc


def _path(batch_id: str, tail: str = "") -> str:
    return f"{BATCHES_PATH}/{quote(batch_id, safe='')}{tail}"


class AnthropicBatchClient(BatchClient):
    """The Message Batches API of one profile's server, as core models.

    A :class:`BatchClient` to the code that holds one (the screens, the commands,
    the results store), with every method answered by Anthropic's API or, for the
    Files API it does not have, by a :class:`NoFilesError`."""

    provider = "anthropic"
    uploads = False
    """Batches take their requests inline: there is no upload step."""

    def __init__(self, profile: Profile, *, max_retries: int = DEFAULT_MAX_RETRIES) -> None:
        text.register_client_secrets(anthropic_key_for(profile), base_url_for(profile))
        self.profile = profile
        self._max_retries = max_retries
        self._sdk = None  # the OpenAI SDK's slot: never used here
        self._claude: AsyncAnthropic | None = None

    @property
    def _anthropic(self) -> AsyncAnthropic:
        if self._claude is None:
            import anthropic

            self._claude = anthropic.AsyncAnthropic(
                api_key=anthropic_key_for(self.profile),
                base_url=base_url_for(self.profile),
                max_retries=self._max_retries,
                timeout=DEFAULT_TIMEOUT,
            )
        return self._claude

    async def prepare(self) -> None:
        """Import the SDK in a thread, so that the first call does not block the loop."""
        if self._claude is None:
            await asyncio.to_thread(importlib.import_module, "anthropic")
            self._anthropic  # noqa: B018 - build it now, the import is done

    @property
    def base_url(self) -> str:
        return base_url_for(self.profile) if self._claude is None else str(self._claude.base_url)

    async def close(self) -> None:
        if self._claude is not None:
            await self._claude.close()

    # -- batches -------------------------------------------------------------------

    def iter_batch_pages(
        self, *, page_size: int = BATCH_PAGE_LIMIT, after: str | None = None
    ) -> AsyncIterator[list[Batch]]:
        """Every message batch of the account, newest first, one page at a time."""
        return self._batch_pages(min(page_size, ANTHROPIC_PAGE_LIMIT), after)

    async def list_batches(self, *, limit: int | None = None) -> list[Batch]:
        out: list[Batch] = []
        async for page in self.iter_batch_pages():
            out.extend(page)
            if limit is not None and len(out) >= limit:
                return out[:limit]
        return out

    async def retrieve_batch(self, batch_id: str) -> Batch:
        """The batch; once its results were fetched (:mod:`tui.core.anthropic_results`),
        with the model and usage read from them, so the inspector and ``show`` can
        price it (Anthropic's batch object has neither)."""
        batch = _batch(await self._call("get", _path(batch_id)), f"retrieve {batch_id}")
        if batch.is_final:
            from tui.core.results.store import load_local

            local = await asyncio.to_thread(load_local, batch_id)
            if local is not None and local.batch.usage is not None:
                return replace(batch, model=local.batch.model, usage=local.batch.usage)
        return batch

    async def cancel_batch(self, batch_id: str) -> Batch:
        return _batch(await self._call("post", _path(batch_id, "/cancel")), f"cancel {batch_id}")

    async def delete_batch(self, batch_id: str) -> bool:
        """Delete an ended batch (and its results); an unfinished one is refused."""
        content = await self._call("delete", _path(batch_id))
        raw = json_decoder().decode(content)
        return isinstance(raw, dict) and raw.get("type") == "message_batch_deleted"

    async def create_message_batch(
        self, requests: Sequence[dict[str, Any]], *, retry: bool = True
    ) -> Batch:
        """Create a batch of ``{custom_id, params}`` requests (checked by the caller,
        :mod:`tui.core.anthropic_lines`). ``retry=False`` sends it exactly once."""
        body = {"requests": list(requests)}
        content = await self._call("post", BATCHES_PATH, body=body, retry=retry)
        return _batch(content, "create message batch")

    async def create_batch(self, input_file_id: str, endpoint: str, **_: Any) -> Batch:
        raise NoFilesError(
            "Anthropic batches take their requests inline, not an uploaded file: "
            "submit the request file itself."
        )

    # -- files: none ---------------------------------------------------------------

    def iter_file_pages(self, **_: Any) -> AsyncIterator[list[FileInfo]]:
        return self._no_files()

    async def _no_files(self) -> AsyncIterator[list[FileInfo]]:
        raise NoFilesError(NO_FILES)
        yield []  # pragma: no cover - makes this an async generator

    async def list_files(self, **_: Any) -> list[FileInfo]:
        raise NoFilesError(NO_FILES)

    async def retrieve_file(self, file_id: str) -> FileInfo:
        raise NoFilesError(NO_FILES)

    async def upload_file(self, path: Path, **_: Any) -> FileInfo:
        raise NoFilesError("Anthropic has no Files API for batches: nothing to upload.")

    async def download_file(self, file_id: str, destination: Path, **_: Any) -> Path:
        raise NoFilesError(NO_FILES)

    async def iter_file_content(self, file_id: str, **_: Any) -> AsyncIterator[bytes]:
        raise NoFilesError(NO_FILES)
        yield b""  # pragma: no cover - makes this an async generator

    async def delete_file(self, file_id: str) -> bool:
        raise NoFilesError(NO_FILES)

    # -- results -------------------------------------------------------------------

    async def iter_results(self, batch_id: str) -> AsyncIterator[bytes]:
        """The batch's results JSONL as it arrives (chunks of bytes); the batch must
        have ended (else a :class:`~tui.core.errors.RequestError`)."""
        with translate_anthropic_errors():
            streaming = self._anthropic.messages.batches.with_streaming_response
            async with streaming.results(batch_id) as response:
                async for chunk in response.iter_bytes(1 << 20):
                    yield chunk

    async def download_results(self, batch_id: str, destination: Path) -> Path:
        """Save the results JSONL to ``destination``: it appears only when complete and
        every line is a JSON object with a ``custom_id`` (else nothing is kept)."""
        destination = Path(destination)
        tail = b""
        with atomic_file(destination, sync=False) as out:
            async for chunk in self.iter_results(batch_id):
                out.write(chunk)
                lines = (tail + chunk).split(b"\n")
                tail = lines.pop()
                for line in lines:
                    _check_result_line(line, batch_id)
            _check_result_line(tail, batch_id)
        return destination

    # -- internals -----------------------------------------------------------------

    async def _batch_pages(self, limit: int, after: str | None) -> AsyncIterator[list[Batch]]:
        import msgspec

        while True:
            query: dict[str, Any] = {"limit": limit}
            if after:
                query["after_id"] = after
            content = await self._call("get", BATCHES_PATH, query=query)
            try:
                page = json_decoder().decode(content)
            except ValueError as exc:  # msgspec.DecodeError
                raise errors.ServerError(
                    "The server's answer to list batches is not JSON."
                ) from exc
            if not isinstance(page, dict):
                raise errors.ServerError("The server answered list batches with no list.")
            items = []
            for raw in page.get("data") or ():
                items.append(_batch(msgspec.json.encode(raw), "list batches"))
            if items:
                yield items
            last = page.get("last_id") or (items[-1].id if items else None)
            if not page.get("has_more") or not items or not last:
                return
            after = str(last)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        retry: bool = True,
    ) -> bytes:
        """One request through the SDK (auth, version header, retries), answered raw."""
        import httpx2

        sdk = self._anthropic if retry else self._anthropic.with_options(max_retries=0)
        with translate_anthropic_errors():
            if method == "get":
                response = await sdk.get(
                    path, cast_to=httpx2.Response, options={"params": query or {}}
                )
            elif method == "post":
                response = await sdk.post(path, cast_to=httpx2.Response, body=body or {})
            else:
                response = await sdk.delete(path, cast_to=httpx2.Response)
        return bytes(response.content)


def _check_result_line(line: bytes, batch_id: str) -> None:
    if not line.strip():
        return
    try:
        raw = json_decoder().decode(line)
    except ValueError:  # msgspec.DecodeError
        raw = None
    if not isinstance(raw, dict) or not isinstance(raw.get("custom_id"), str):
        raise errors.ServerError(
            f"The results of {batch_id} hold a line that is not a result object; nothing kept."
        )
