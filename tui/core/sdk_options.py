"""A profile's SDK client options: the one place a profile becomes the keyword
arguments of the ``openai`` client (``OpenAI``, ``AsyncOpenAI``, Azure's), its key
read from the environment.

Small on purpose (the config and its errors only): the start-up child of
:mod:`tui.core.first_page` builds its sync ``OpenAI`` from these without the rest of
:mod:`tui.core.client` (msgspec, models), which builds the async one.
"""

from __future__ import annotations

from typing import Any

from tui.core import errors
from tui.core.config import DEFAULT_BASE_URL, Profile

BATCH_PAGE_LIMIT = 100  # the API's maximum page size for batches
DEFAULT_MAX_RETRIES = 4
DEFAULT_TIMEOUT = 60.0


def _needs_key(profile: Profile) -> bool:
    """True for a hosted service (OpenAI's, a preset's); self-hosted servers often
    need no key."""
    url = profile.resolved_base_url().rstrip("/")
    preset_url = (profile.preset.base_url or "").rstrip("/")
    return url == DEFAULT_BASE_URL or (bool(preset_url) and url == preset_url)


def api_key_for(profile: Profile) -> str:
    """The profile's key, read from the environment now; a hosted service without one
    is an :class:`~tui.core.errors.AuthError`. Azure takes a key or an Entra ID token
    (``azure_ad_token_env``); with a token set, the key may be missing ("" then)."""
    key = profile.api_key()
    if key is not None:
        return key
    if profile.provider == "azure":
        if profile.azure_ad_token():
            return ""
        token = f" or {profile.azure_ad_token_env}" if profile.azure_ad_token_env else ""
        raise errors.AuthError(
            f"No API key: set {profile.api_key_env}{token} (profile {profile.name!r})."
        )
    if _needs_key(profile):
        raise errors.AuthError(f"No API key: set {profile.api_key_env} (profile {profile.name!r}).")
    return "no-key"  # the SDK insists on a value


def openai_options(profile: Profile, *, max_retries: int = DEFAULT_MAX_RETRIES) -> dict[str, Any]:
    """The SDK client's keyword arguments for ``profile``: for Azure (``AzureOpenAI``,
    ``AsyncAzureOpenAI``) the ``api-key`` header or an Entra ID token and the
    ``api-version`` parameter too. Keys and tokens are read from the environment now
    and never kept elsewhere."""
    key = api_key_for(profile)
    options: dict[str, Any] = {
        "api_key": key,
        "base_url": profile.resolved_base_url(),
        "organization": profile.organization,
        "project": profile.project,
        "max_retries": max_retries,
        "timeout": DEFAULT_TIMEOUT,
    }
    if profile.provider == "azure":
        options["api_key"] = key or None
        options["azure_ad_token"] = profile.azure_ad_token() if not key else None
        options["api_version"] = profile.api_version
    return options
