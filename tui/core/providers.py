"""Provider presets: what each Batch API service accepts, and a profile's overrides.

A profile names its ``provider`` (``openai`` by default); the preset gives the base
URL, the key's usual environment variable and the per-file limits the service
documents. ``[profiles.NAME.limits]`` overrides any limit (:func:`limits_from`), so a
service that changes its rules needs no new release. Validation, splitting, the
compose form and ``submit`` read :class:`ProviderLimits`, never OpenAI's constants.

Where a service documents nothing for a limit, OpenAI's value is kept (and the
comment says so): batchdeck then refuses nothing the service would take on that
count that OpenAI would not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from tui.core.errors import BatchdeckError
from tui.core.models import BATCH_ENDPOINTS, MAX_EMBEDDING_INPUTS, MAX_FILE_BYTES, MAX_REQUESTS

PROVIDERS = ("openai", "azure", "groq", "gemini", "deepinfra", "compatible", "anthropic")
DEFAULT_PROVIDER = "openai"
MIN_EXPIRY = 3600  # OpenAI: output_expires_after.seconds from 1 hour ...
MAX_EXPIRY = 30 * 24 * 3600  # ... to 30 days
if TYPE_CHECKING:
    from tui.core.pricing import Price, PriceError
    from tui.core.request_report import Limits

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Patterns compiled by their first use (re's cache), not by a launch that needs none.
_DURATION = r"(?i)^\s*(\d+)\s*([smhd]?)\s*$"
_WINDOW = r"^[1-9][0-9]*[hd]$"


class ProviderError(BatchdeckError, ValueError):
    """A value the profile's provider does not accept (a window, an endpoint, an expiry)."""


def duration_seconds(text: str) -> int | None:
    """``"24h"``, ``"7d"``, ``"90m"`` or plain seconds as seconds; None if not one."""
    match = re.match(_DURATION, text)
    if not match:
        return None
    return int(match.group(1)) * _UNITS[(match.group(2) or "s").lower()]


@dataclass(frozen=True, slots=True)
class ProviderLimits:
    """What one service accepts for a batch.

    ``completion_windows`` are the windows offered, shortest first (the first is the
    default). ``min_expiry``/``max_expiry`` bound ``output_expires_after`` in seconds;
    None: the service takes no ``output_expires_after``, so none is sent."""

    max_requests: int = MAX_REQUESTS
    max_bytes: int = MAX_FILE_BYTES
    max_embedding_inputs: int = MAX_EMBEDDING_INPUTS
    endpoints: tuple[str, ...] = BATCH_ENDPOINTS
    completion_windows: tuple[str, ...] = ("24h",)
    file_purpose: str = "batch"
    min_expiry: int | None = MIN_EXPIRY
    max_expiry: int | None = MAX_EXPIRY

    def request_limits(self) -> Limits:
        """The per-file limits the validator and the splitter use."""
        from tui.core.request_report import Limits  # the file check's: not at start-up

        return Limits(
            max_requests=self.max_requests,
            max_bytes=self.max_bytes,
            max_embedding_inputs=self.max_embedding_inputs,
            endpoints=self.endpoints,
        )

    @property
    def default_window(self) -> str:
        return self.completion_windows[0]

    def check_window(self, window: str, provider: str) -> str:
        """``window`` if the service offers it, else a :class:`ProviderError` naming
        the ones it does."""
        if window in self.completion_windows:
            return window
        offered = ", ".join(self.completion_windows)
        raise ProviderError(
            f"completion window {window!r} is not offered by {provider} (choose one of: {offered})"
        )

    def check_endpoint(self, endpoint: str, provider: str) -> str:
        if endpoint in self.endpoints:
            return endpoint
        raise ProviderError(
            f"endpoint {endpoint} is not offered by {provider} "
            f"(its batch endpoints: {', '.join(self.endpoints)})"
        )

    def check_expiry(self, seconds: int, provider: str) -> int:
        """``seconds`` if within the service's output expiry range."""
        if self.min_expiry is None or self.max_expiry is None:
            raise ProviderError(f"{provider} takes no output expiry; leave it out")
        if not self.min_expiry <= seconds <= self.max_expiry:
            raise ProviderError(
                f"output expiry of {seconds} s is outside {provider}'s range "
                f"({_short(self.min_expiry)} to {_short(self.max_expiry)})"
            )
        return seconds


# A table entry that nothing compares or prints: no __eq__/__hash__/__repr__ to
# generate at import (the app's start-up loads it).
@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Preset:
    """A provider's defaults. ``base_url`` None: the profile gives one (or, for
    openai, ``OPENAI_BASE_URL`` or OpenAI's)."""

    name: str
    base_url: str | None
    key_env: str
    limits: ProviderLimits
    batch_discount: float | None = None
    """The documented batch price against the synchronous one (0.5: half); None: unknown."""
    source: str = ""


_OPENAI_DOCS = "https://platform.openai.com/docs/api-reference/batch/create"

PRESETS: dict[str, Preset] = {
    # 50,000 requests, 200 MB, 50,000 embedding inputs, window "24h" only,
    # output_expires_after 1 hour to 30 days, purpose "batch".
    "openai": Preset(
        "openai",
        None,
        "OPENAI_API_KEY",
        ProviderLimits(),
        0.5,
        _OPENAI_DOCS,
    ),
    # https://learn.microsoft.com/en-us/azure/ai-foundry/openai/how-to/batch
    # ("Global batch limits": 100,000 requests per file, 200 MB per input file; the
    # window is "24h"; a byte order mark makes the service refuse the file; 50% of
    # Global Standard's price). Endpoints: chat completions, responses, embeddings.
    # Output expiry is not documented for every api-version, so none is sent.
    "azure": Preset(
        "azure",
        None,
        "AZURE_OPENAI_API_KEY",
        ProviderLimits(
            max_requests=100_000,
            endpoints=("/v1/chat/completions", "/v1/responses", "/v1/embeddings"),
            min_expiry=None,
            max_expiry=None,
        ),
        0.5,
        "https://learn.microsoft.com/en-us/azure/ai-foundry/openai/how-to/batch",
    ),
    # https://console.groq.com/docs/batch: chat completions only, input files up to
    # 100 MB, completion_window from 24h to 7d. Requests per file: OpenAI's 50,000.
    "groq": Preset(
        "groq",
        "https://api.groq.com/openai/v1",
        "GROQ_API_KEY",
        ProviderLimits(
            max_bytes=100_000_000,
            endpoints=("/v1/chat/completions",),
            completion_windows=("24h", "48h", "72h", "4d", "5d", "6d", "7d"),
            min_expiry=None,
            max_expiry=None,
        ),
        None,
        "https://console.groq.com/docs/batch",
    ),
    # https://ai.google.dev/gemini-api/docs/openai (base URL) and
    # https://developers.googleblog.com/en/gemini-batch-api-now-supports-embeddings-and-openai-compatibility
    # (the OpenAI SDK's files/batches, chat completions and embeddings, 50% of the
    # standard price); https://ai.google.dev/gemini-api/docs/batch-api: input files up
    # to 2 GB. Requests per file: not documented, OpenAI's 50,000 kept.
    "gemini": Preset(
        "gemini",
        "https://generativelanguage.googleapis.com/v1beta/openai/",
        "GEMINI_API_KEY",
        ProviderLimits(
            max_bytes=2_000_000_000,
            endpoints=("/v1/chat/completions", "/v1/embeddings"),
            min_expiry=None,
            max_expiry=None,
        ),
        0.5,
        "https://ai.google.dev/gemini-api/docs/batch-api",
    ),
    # https://docs.deepinfra.com/batch/introduction and /batch/batch-endpoints:
    # /v1/chat/completions, /v1/completions, /v1/embeddings; window "24h" only;
    # output_expires_after 3600 to 2592000 s; 20% below real-time prices. Requests
    # and bytes per file: not documented, OpenAI's kept.
    "deepinfra": Preset(
        "deepinfra",
        "https://api.deepinfra.com/v1/openai",
        "DEEPINFRA_API_KEY",
        ProviderLimits(endpoints=("/v1/chat/completions", "/v1/completions", "/v1/embeddings")),
        0.8,
        "https://docs.deepinfra.com/batch/batch-endpoints",
    ),
    # https://docs.anthropic.com/en/docs/build-with-claude/batch-processing: Message
    # Batches, a second backend (tui/core/anthropic_client.py), not OpenAI-shaped:
    # requests inline ({custom_id, params} lines: tui/core/anthropic_lines.py), up to
    # 100,000 requests or 256 MB, 24 h, no files and no output expiry; 50% of the price.
    # No OpenAI endpoint is offered: an OpenAI-format file is refused before anything
    # is sent (`batchdeck convert --to anthropic` makes one of it).
    "anthropic": Preset(
        "anthropic",
        "https://api.anthropic.com",
        "ANTHROPIC_API_KEY",
        ProviderLimits(
            max_requests=100_000,
            max_bytes=256 * 1024**2,
            endpoints=("/v1/messages",),
            min_expiry=None,
            max_expiry=None,
        ),
        0.5,
        "https://docs.anthropic.com/en/docs/build-with-claude/batch-processing",
    ),
    # Any OpenAI-compatible server (a gateway, `batchdeck serve`): OpenAI's rules.
    "compatible": Preset("compatible", None, "OPENAI_API_KEY", ProviderLimits()),
}


def preset(name: str | None) -> Preset:
    return PRESETS[name or DEFAULT_PROVIDER]


def with_deployments(
    prices: dict[str, Price] | PriceError, deployments: Mapping[str, str]
) -> dict[str, Price] | PriceError:
    """The price table with each Azure deployment name priced as its model
    (``[profiles.NAME.deployments]``), so a batch whose ``model`` is a deployment
    is priced; a table that is unusable, or no deployments, come back as they are."""
    from tui.core.pricing import PriceError, price_for

    if isinstance(prices, PriceError) or not deployments:
        return prices
    aliased = dict(prices)
    for deployment, model in deployments.items():
        price = price_for(model, prices)
        if price is not None:
            aliased[deployment] = price
    return aliased


# -- [profiles.NAME.limits] ------------------------------------------------------------

_INT_LIMITS = ("max_requests", "max_bytes", "max_embedding_inputs")
LIMIT_KEYS = (
    *_INT_LIMITS,
    "endpoints",
    "completion_windows",
    "file_purpose",
    "output_expiry",
    "min_expiry",
    "max_expiry",
)


def limits_from(base: ProviderLimits, raw: Mapping[str, Any], where: str) -> ProviderLimits:
    """``base`` with the overrides of a ``[profiles.NAME.limits]`` table; ``where``
    names the table (file and section) in every error."""
    changes: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in LIMIT_KEYS:
            raise ProviderError(
                f"{where} has unknown field {key!r} (known: {', '.join(LIMIT_KEYS)})"
            )
        field = f"{where}.{key}"
        if key in _INT_LIMITS:
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ProviderError(f"{field} must be a whole number of at least 1")
            changes[key] = value
        elif key == "endpoints":
            changes[key] = _endpoints(value, field)
        elif key == "completion_windows":
            changes[key] = _windows(value, field)
        elif key == "file_purpose":
            if not isinstance(value, str) or not value.strip():
                raise ProviderError(f"{field} must be a non-empty string")
            changes[key] = value.strip()
        elif key == "output_expiry":
            if not isinstance(value, bool):
                raise ProviderError(f"{field} must be true or false")
            expiry = (MIN_EXPIRY, MAX_EXPIRY) if value else (None, None)
            changes["min_expiry"], changes["max_expiry"] = expiry
        else:  # min_expiry, max_expiry
            seconds = duration_seconds(value) if isinstance(value, str) else None
            if seconds is None or seconds < 1:
                raise ProviderError(f'{field} must be a duration such as "1h" or "30d"')
            changes[key] = seconds
    limits = replace(base, **changes)
    if (limits.min_expiry is None) != (limits.max_expiry is None):
        limits = replace(
            limits,
            min_expiry=limits.min_expiry or MIN_EXPIRY,
            max_expiry=limits.max_expiry or MAX_EXPIRY,
        )
    low, high = limits.min_expiry, limits.max_expiry
    if low is not None and high is not None and low > high:
        raise ProviderError(f"{where}: min_expiry is longer than max_expiry")
    return limits


def _strings(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ProviderError(f"{field} must be a non-empty list of strings")
    return value


def _endpoints(value: Any, field: str) -> tuple[str, ...]:
    items = _strings(value, field)
    for item in items:
        if item not in BATCH_ENDPOINTS:
            raise ProviderError(
                f"{field}: {item!r} is not a batch endpoint ({', '.join(BATCH_ENDPOINTS)})"
            )
    return tuple(dict.fromkeys(items))


def _windows(value: Any, field: str) -> tuple[str, ...]:
    items = _strings(value, field)
    for item in items:
        if not re.fullmatch(_WINDOW, item):
            raise ProviderError(f'{field}: {item!r} is not a window such as "24h" or "7d"')
    unique = dict.fromkeys(items)
    return tuple(sorted(unique, key=lambda w: duration_seconds(w) or 0))


def _short(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
