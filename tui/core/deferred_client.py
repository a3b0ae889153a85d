"""A :class:`BatchClient` that builds its ``openai.AsyncOpenAI`` on first use.

Importing ``openai`` takes about a second, longer than Textual's whole start-up; the
app paints the registry's cached view first and imports the SDK afterwards (in a
thread, see :meth:`DeferredClient.prepare`), so the first screen is not kept waiting.
A missing key for OpenAI's own server is still reported at once, as
:meth:`BatchClient.for_profile` would.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import TYPE_CHECKING

from tui.core import errors
from tui.core.client import BatchClient, make_openai
from tui.core.config import DEFAULT_BASE_URL, Profile

if TYPE_CHECKING:
    from openai import AsyncOpenAI


class DeferredClient(BatchClient):
    """``BatchClient.for_profile(profile)``, with the SDK loaded when first needed."""

    def __init__(self, profile: Profile) -> None:  # no super().__init__: nothing to wrap yet
        if profile.api_key() is None and profile.resolved_base_url().rstrip("/") == (
            DEFAULT_BASE_URL
        ):
            raise errors.AuthError(
                f"No API key: set {profile.api_key_env} (profile {profile.name!r})."
            )
        self._profile = profile
        self._sdk: AsyncOpenAI | None = None

    @property
    def _client(self) -> AsyncOpenAI:
        if self._sdk is None:
            self._sdk = make_openai(self._profile)
        return self._sdk

    @_client.setter
    def _client(self, value: AsyncOpenAI) -> None:
        self._sdk = value

    @property
    def base_url(self) -> str:
        return self._profile.resolved_base_url() if self._sdk is None else str(self._sdk.base_url)

    async def prepare(self) -> None:
        """Import the SDK in a thread, so that the first call does not block the loop."""
        if self._sdk is None:
            await asyncio.to_thread(importlib.import_module, "openai")
            self._client  # noqa: B018 - build it now

    async def close(self) -> None:
        if self._sdk is not None:
            await self._sdk.close()
