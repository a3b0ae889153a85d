"""Checks for request parameters, with the real API's limits and error wording."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tui.core.models import METADATA_MAX_KEY, METADATA_MAX_PAIRS, METADATA_MAX_VALUE
from tui.core.requests import json_type_name
from tui.localapi.errors import ApiError, invalid_request, invalid_value

_NOT_UNICODE = re.compile("[\ud800-\udfff]")
"""A lone surrogate: what an undecodable byte or an unpaired ``\\ud800`` becomes."""

EXPIRES_MIN_SECONDS = 3600
EXPIRES_MAX_SECONDS = 30 * 24 * 3600


def text_param(value: str, param: str) -> str:
    """``value`` if it is valid Unicode text; else a 400 before anything is created."""
    if _NOT_UNICODE.search(value):
        raise _not_unicode(param)
    return value


def text_bytes(value: bytes, param: str) -> str:
    """Form field bytes as text: UTF-8, or a 400."""
    try:
        return text_param(value.decode("utf-8"), param)
    except UnicodeDecodeError:
        raise _not_unicode(param) from None


def _not_unicode(param: str) -> ApiError:
    return invalid_request(
        f"Invalid '{param[:100]}': the text is not valid Unicode (it holds a lone "
        "surrogate or bytes that are not UTF-8).",
        param=param[:100],
        code="invalid_value",
    )


def limit_param(query: Mapping[str, str], *, default: int, maximum: int) -> int:
    raw = query.get("limit")
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_request(
            f"Invalid 'limit': expected an integer, but got {raw[:50]!r} instead.",
            param="limit",
            code="invalid_type",
        ) from None
    if not 1 <= value <= maximum:
        raise invalid_request(
            f"Invalid 'limit': {value}. It must be between 1 and {maximum}.",
            param="limit",
            code="invalid_value",
        )
    return value


def metadata_param(value: Any) -> dict[str, str] | None:
    """``metadata``: null, or at most 16 string pairs (keys 64, values 512 chars)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid_request(
            "Invalid type for 'metadata': expected an object.",
            param="metadata",
            code="invalid_type",
        )
    if len(value) > METADATA_MAX_PAIRS:
        raise invalid_request(
            f"Invalid 'metadata': too many properties. Expected an object with at most "
            f"{METADATA_MAX_PAIRS} properties, but got an object with {len(value)} properties "
            "instead.",
            param="metadata",
            code="object_above_max_properties",
        )
    for key, item in value.items():
        if len(key) > METADATA_MAX_KEY:
            raise invalid_request(
                f"Invalid 'metadata': key {key[:80]!r} is too long. Keys have at most "
                f"{METADATA_MAX_KEY} characters, but this one has {len(key)}.",
                param="metadata",
                code="string_above_max_length",
            )
        if not isinstance(item, str):
            raise invalid_request(
                f"Invalid type for 'metadata.{key[:64]}': expected a string, but got "
                f"{json_type_name(item, article=True)} instead.",
                param=f"metadata.{key[:64]}",
                code="invalid_type",
            )
        if len(item) > METADATA_MAX_VALUE:
            raise invalid_request(
                f"Invalid 'metadata.{key[:64]}': string too long. Expected a string with "
                f"maximum length {METADATA_MAX_VALUE}, but got a string with length "
                f"{len(item)} instead.",
                param=f"metadata.{key[:64]}",
                code="string_above_max_length",
            )
    return dict(value)


def expires_after_param(value: Any, param: str) -> dict[str, Any] | None:
    """``{"anchor": "created_at", "seconds": 3600..2592000}`` or None."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid_request(
            f"Invalid type for '{param}': expected an object.", param=param, code="invalid_type"
        )
    anchor = value.get("anchor")
    if anchor != "created_at":
        raise invalid_value(f"{param}.anchor", anchor, ("created_at",))
    seconds = value.get("seconds")
    if isinstance(seconds, str) and seconds.strip().lstrip("-").isdigit():
        seconds = int(seconds)
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise invalid_request(
            f"Invalid type for '{param}.seconds': expected an integer.",
            param=f"{param}.seconds",
            code="invalid_type",
        )
    if not EXPIRES_MIN_SECONDS <= seconds <= EXPIRES_MAX_SECONDS:
        raise invalid_request(
            f"Invalid '{param}.seconds': {seconds}. It must be between {EXPIRES_MIN_SECONDS} "
            f"and {EXPIRES_MAX_SECONDS}.",
            param=f"{param}.seconds",
            code="invalid_value",
        )
    return {"anchor": anchor, "seconds": seconds}


def unknown_param(name: str) -> ApiError:
    return invalid_request(
        f"Unrecognized request argument supplied: {name[:100]}",
        param=name[:100],
        code="unknown_parameter",
    )
