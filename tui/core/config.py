"""``config.toml``: profiles and settings.

A profile names a server and *where* its key lives (an environment variable), never
the key itself. With no config file, the ``default`` profile honours
``OPENAI_API_KEY`` and ``OPENAI_BASE_URL``.

    [settings]
    profile = "work"            # the profile used when none is given

    [profiles.work]
    base_url = "https://api.openai.com/v1"
    api_key_env = "WORK_OPENAI_KEY"
    organization = "org-..."
    project = "proj_..."

    [profiles.azure]
    provider = "azure"          # openai (default), azure, groq, gemini, deepinfra, compatible
    azure_endpoint = "https://RESOURCE.openai.azure.com"
    api_version = "2024-10-21"
    api_key_env = "AZURE_OPENAI_API_KEY"   # or azure_ad_token_env = "AZURE_AD_TOKEN"
    [profiles.azure.deployments]           # deployment name -> model, for prices
    "gpt-4o-mini-batch" = "gpt-4o-mini"
    [profiles.azure.limits]                # any preset limit, overridden
    max_requests = 50000

The provider presets and the limit keys are in :mod:`tui.core.providers`.

batchdeck edits this file (the theme, the bell, the default profile) key by key
through :mod:`tui.core.tomledit`: only the values that changed since it was read are
written, and the user's comments, order and layout stay as they were.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.core import paths
from tui.core.errors import BatchdeckError
from tui.core.hook_settings import TERMINAL_CHOICES, HookSettings
from tui.core.providers import (
    PROVIDERS,
    Preset,
    ProviderError,
    ProviderLimits,
    duration_seconds,
    limits_from,
    preset,
    with_deployments,
)
from tui.core.text import public_url

if TYPE_CHECKING:
    from tui.core.pricing import Price, PriceError

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
PROFILE_FIELDS = (
    "base_url",
    "api_key_env",
    "organization",
    "project",
    "provider",
    "azure_endpoint",
    "api_version",
    "azure_ad_token_env",
)
PROFILE_TABLES = ("deployments", "limits")
"""A profile's sub-tables, read by their own functions (never rewritten by save_config)."""
ENV_FIELDS = ("api_key_env", "azure_ad_token_env")
ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*"  # compiled by its first use (re's cache)


class ConfigError(BatchdeckError):
    """The config file cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Profile:
    """One ``[profiles.NAME]`` table: a server, where its key is, its provider's limits."""

    name: str
    base_url: str | None = None
    api_key_env: str = DEFAULT_KEY_ENV
    organization: str | None = None
    project: str | None = None
    # [profiles.NAME.token_limits]: enqueued input tokens allowed per model (the queue's)
    token_limits: dict[str, int] = field(default_factory=dict, hash=False, compare=False)
    provider: str | None = None
    azure_endpoint: str | None = None
    api_version: str | None = None
    azure_ad_token_env: str | None = None
    deployments: tuple[tuple[str, str], ...] = ()
    """``[profiles.NAME.deployments]``: Azure deployment name -> model, for prices."""
    limits_override: ProviderLimits | None = None
    """The preset's limits with ``[profiles.NAME.limits]`` applied (None: none given)."""

    @property
    def provider_name(self) -> str:
        return self.provider or "openai"

    @property
    def preset(self) -> Preset:
        return preset(self.provider)

    @property
    def limits(self) -> ProviderLimits:
        """What this profile's service accepts: the preset's, with the overrides."""
        return self.limits_override or self.preset.limits

    def resolved_base_url(self) -> str:
        """The profile's URL; else Azure's ``{azure_endpoint}/openai``; else the
        preset's; else ``OPENAI_BASE_URL``; else OpenAI's."""
        if self.base_url:
            return self.base_url
        if self.provider == "azure" and self.azure_endpoint:
            return self.azure_endpoint.rstrip("/") + "/openai"
        if self.preset.base_url:
            return self.preset.base_url
        return os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL

    def api_key(self) -> str | None:
        """Read the key from the environment now; it is never stored."""
        return os.environ.get(self.api_key_env) or None

    def azure_ad_token(self) -> str | None:
        """An Entra ID token from ``azure_ad_token_env``, read now; never stored."""
        return os.environ.get(self.azure_ad_token_env) if self.azure_ad_token_env else None

    def priced(self, prices: dict[str, Price] | PriceError) -> dict[str, Price] | PriceError:
        """The price table with this profile's Azure deployments priced as their models."""
        return with_deployments(prices, dict(self.deployments))

    def label(self) -> str:
        """``name · provider · host`` for the header (``name · host`` when the
        profile names no provider: OpenAI or any compatible server, as before)."""
        provider = f" · {self.provider}" if self.provider else ""
        return f"{self.name}{provider} · {self.host()}"

    def public_base_url(self) -> str:
        """:meth:`resolved_base_url` without a ``user:password@``: what may be
        stored (job records) or printed."""
        return public_url(self.resolved_base_url())

    def host(self) -> str:
        """The server's host (and port) to show; never its credentials."""
        from urllib.parse import urlsplit

        url = self.public_base_url()
        return urlsplit(url).netloc or url


@dataclass
class Config:
    """``config.toml``: the profiles, the default one, the settings and the hooks."""

    profiles: dict[str, Profile] = field(default_factory=dict)
    default_profile: str = "default"
    settings: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    hooks: HookSettings = field(default_factory=HookSettings)  # [hooks], read-only
    # What the file held when read or last written (see _state): save_config writes
    # only what differs from it. None: nothing read, every value is written.
    loaded: dict[str, dict[str, Any]] | None = field(default=None, repr=False, compare=False)

    def profile(self, name: str | None = None) -> Profile:
        wanted = name or self.default_profile
        if wanted in self.profiles:
            return self.profiles[wanted]
        known = ", ".join(sorted(self.profiles)) or "none"
        raise ConfigError(f"no profile named {wanted!r} in {self.path} (profiles: {known})")

    def deployments(self) -> dict[str, dict[str, str]]:
        """Each profile's Azure deployments (deployment -> model), by profile name:
        what prices a job's batch as its own profile's model (see ``core.spend``)."""
        return {name: dict(p.deployments) for name, p in self.profiles.items() if p.deployments}


def _profile_from(name: str, raw: Any, path: Path) -> Profile:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [profiles.{name}] must be a table")
    values: dict[str, Any] = {}
    limits: dict[str, int] = {}
    for key, value in raw.items():
        if key == "token_limits":
            limits = _token_limits_from(name, value, path)
            continue
        if key in PROFILE_TABLES:
            continue
        if key == "api_key":
            raise ConfigError(
                f"{path}: [profiles.{name}] has api_key; keys are never stored in files. "
                f"Put the key in an environment variable and name it with api_key_env."
            )
        if key not in PROFILE_FIELDS:
            raise ConfigError(f"{path}: [profiles.{name}] has unknown field {key!r}")
        if not isinstance(value, str):
            raise ConfigError(f"{path}: [profiles.{name}].{key} must be a string")
        if key in ENV_FIELDS and not re.fullmatch(ENV_NAME, value):
            # Never echo the value: a key pasted here by mistake must not reach the screen.
            raise ConfigError(
                f"{path}: [profiles.{name}].{key} must be the NAME of an environment "
                f"variable (like OPENAI_API_KEY), not the key itself"
            )
        values[key] = value
    values.update(_provider_fields(name, raw, values, path))
    return Profile(name=name, **values, token_limits=limits)


def _token_limits_from(name: str, raw: Any, path: Path) -> dict[str, int]:
    """``[profiles.NAME.token_limits]``: ``"MODEL" = TOKENS``, a positive integer each."""
    where = f"{path}: [profiles.{name}.token_limits]"
    if not isinstance(raw, dict):
        raise ConfigError(f'{where} must be a table of "MODEL" = TOKENS')
    limits: dict[str, int] = {}
    for model, tokens in raw.items():
        if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens <= 0:
            raise ConfigError(f"{where}: {model!r} must be a positive whole number of tokens")
        limits[model] = tokens
    return limits


def _provider_fields(
    name: str, raw: dict[str, Any], values: dict[str, Any], path: Path
) -> dict[str, Any]:
    """The provider's part of a profile: its name checked, the preset's key variable
    when none is named, Azure's required fields, ``deployments`` and ``limits``."""
    where = f"{path}: [profiles.{name}]"
    provider = values.get("provider")
    if provider is not None and provider not in PROVIDERS:
        raise ConfigError(f"{where}.provider is {provider!r}; use one of: {', '.join(PROVIDERS)}")
    found = preset(provider)
    out: dict[str, Any] = {}
    if "api_key_env" not in values:
        out["api_key_env"] = found.key_env
    if provider == "azure" and not (values.get("azure_endpoint") or values.get("base_url")):
        raise ConfigError(f'{where} has provider "azure" but no azure_endpoint')
    if provider == "azure" and not values.get("api_version"):
        raise ConfigError(f'{where} has provider "azure" but no api_version (like "2024-10-21")')
    deployments = raw.get("deployments", {})
    if not isinstance(deployments, dict) or not all(
        isinstance(v, str) for v in deployments.values()
    ):
        raise ConfigError(f"{path}: [profiles.{name}.deployments] must map names to model strings")
    out["deployments"] = tuple((str(k), v) for k, v in deployments.items())
    limits = raw.get("limits")
    if limits is not None:
        if not isinstance(limits, dict):
            raise ConfigError(f"{path}: [profiles.{name}.limits] must be a table")
        try:
            out["limits_override"] = limits_from(
                found.limits, limits, f"{path}: [profiles.{name}.limits]"
            )
        except ProviderError as exc:
            raise ConfigError(str(exc)) from exc
    return out


def load_config(path: Path | None = None) -> Config:
    """Read ``config.toml``; a missing file gives the environment's default profile."""
    path = path or paths.config_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config(profiles={"default": Profile("default")}, path=path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from exc
    import tomllib  # only when there is a file (~2 ms of imports before the first frame)

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    profiles_raw = raw.get("profiles", {})
    if not isinstance(profiles_raw, dict):
        raise ConfigError(f"{path}: [profiles] must be a table")
    profiles = {name: _profile_from(name, body, path) for name, body in profiles_raw.items()}
    settings = raw.get("settings", {})
    if not isinstance(settings, dict):
        raise ConfigError(f"{path}: [settings] must be a table")
    if not profiles:
        profiles = {"default": Profile("default")}
    default = settings.get("profile", next(iter(profiles)))
    if not isinstance(default, str):
        raise ConfigError(f"{path}: settings.profile must be a string")
    if default not in profiles:
        raise ConfigError(f"{path}: settings.profile is {default!r}, which is not a profile")
    config = Config(profiles=profiles, default_profile=default, settings=dict(settings), path=path)
    config.hooks = hooks_from(raw.get("hooks", {}), path)
    config.loaded = _state(config)
    return config


HOOK_DURATIONS = (
    "timeout",
    "stuck_validating",
    "stuck_finalizing",
    "expiry_warning",
    "final_within",
)


def hooks_from(raw: Any, path: Path) -> HookSettings:
    """The ``[hooks]`` table (see :mod:`tui.core.hooks`, :mod:`tui.core.hook_settings`)::

    [hooks]
    on_final = "notify-me --flag"   # split like a shell would, run without one
    on_alert = "page-me"            # stuck/expiry alerts (default: on_final)
    timeout = "30s"                 # durations: seconds, or "90s", "5m", "2h", "1d"
    terminal = true                 # OSC 9 and 777; or "osc9" / "osc777"
    desktop = true                  # notify-send / osascript, if on PATH
    stuck_validating = "1h"
    stuck_finalizing = "2h"
    expiry_warning = "2h"
    final_within = "1d"
    """
    import shlex

    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [hooks] must be a table")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        where = f"{path}: hooks.{key}"
        if key in ("on_final", "on_alert"):
            if not isinstance(value, str):
                raise ConfigError(f"{where} must be a string (a command line)")
            try:
                values[key] = tuple(shlex.split(value))
            except ValueError as exc:
                raise ConfigError(f"{where} cannot be split into words: {exc}") from exc
        elif key in HOOK_DURATIONS:
            values[key] = _hook_duration(value, where)
        elif key == "terminal":
            if isinstance(value, bool):
                values[key] = TERMINAL_CHOICES if value else ()
            elif value in TERMINAL_CHOICES:
                values[key] = (value,)
            else:
                raise ConfigError(f'{where} must be true, false, "osc9" or "osc777"')
        elif key == "desktop":
            if not isinstance(value, bool):
                raise ConfigError(f"{where} must be true or false")
            values[key] = value
        else:
            raise ConfigError(f"{path}: [hooks] has unknown field {key!r}")
    return HookSettings(**values)


def _hook_duration(value: Any, where: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    seconds = duration_seconds(value) if isinstance(value, str) else None
    if not seconds:
        raise ConfigError(f'{where} must be a positive duration, e.g. 30 (seconds), "5m", "2h"')
    return float(seconds)


def save_config(config: Config, path: Path | None = None) -> Path:
    """Write what changed in ``config`` since it was read into ``config.toml``.

    The file's own text is edited: a changed value is replaced in place, a new one
    added, a removed one deleted; everything else (comments, order, blank lines,
    inline tables) keeps its bytes. Atomic, mode 0600. Keys are never part of it.
    """
    # tomlkit is imported only to write: start-up reads with tomllib.
    from tui.core.tomledit import TomlEditError, read_document, set_table, table_in, write_document

    path = path or config.path or paths.config_file()
    try:
        document = read_document(path)
        before = config.loaded or {"settings": {}, "profiles": {}}
        after = _state(config)
        settings = _changes(before["settings"], after["settings"])
        if settings:
            set_table(document, "settings", settings)
        for name in before["profiles"].keys() - after["profiles"].keys():
            profiles = document.get("profiles")
            if profiles is not None and name in profiles:
                del profiles[name]
        for name, body in after["profiles"].items():
            changes = _changes(before["profiles"].get(name, {}), body)
            if changes:
                set_table(table_in(document, "profiles"), name, changes)
    except TomlEditError as exc:
        raise ConfigError(str(exc)) from exc
    write_document(path, document)
    config.loaded = after
    return path


def _state(config: Config) -> dict[str, dict[str, Any]]:
    """The values ``config`` stands for, as save_config compares them."""
    profiles = {
        name: {key: getattr(profile, key) for key in PROFILE_FIELDS}
        for name, profile in config.profiles.items()
    }
    settings = {**config.settings, "profile": config.default_profile}
    return {"settings": settings, "profiles": profiles}


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The keys whose value differs (None: removed)."""
    changed = {key: value for key, value in after.items() if before.get(key, ...) != value}
    changed.update({key: None for key in before if key not in after})
    return changed
