"""Request bodies from a small form, one shape per batch endpoint.

The compose screen (and scripts) fill a :class:`BodyForm`; :func:`build_body` turns it
into the body the endpoint expects, with ``{column}`` placeholders left in its strings
for :mod:`tui.core.compose` to fill per row:

- ``/v1/chat/completions``: ``messages`` (system, then user), ``temperature``,
  ``max_completion_tokens``, ``response_format`` (JSON object or JSON schema).
- ``/v1/responses``: ``instructions``, ``input``, ``temperature``,
  ``max_output_tokens``, ``text.format`` (JSON object or JSON schema).
- ``/v1/embeddings``: ``input``. ``/v1/moderations``: ``input``.
- ``/v1/completions``: ``prompt``, ``temperature``, ``max_tokens``.
- ``/v1/images/generations``, ``/v1/images/edits``, ``/v1/videos``: ``prompt``.

``extra`` (the raw JSON editor) is laid over the result last, so anything the form
does not know (``seed``, ``tools``, ``size``, ``image``...) can still be sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tui.core import jsonsafe
from tui.core.errors import BatchdeckError
from tui.core.jsonsafe import JsonInputError
from tui.core.models import BATCH_ENDPOINTS

__all__ = [
    "DEFAULT_MODELS",
    "ENDPOINT_FIELDS",
    "BodyError",
    "BodyForm",
    "build_body",
    "parse_json_object",
]

DEFAULT_MODELS: dict[str, str] = {
    "/v1/responses": "gpt-4.1-mini",
    "/v1/chat/completions": "gpt-4o-mini",
    "/v1/embeddings": "text-embedding-3-small",
    "/v1/completions": "gpt-3.5-turbo-instruct",
    "/v1/moderations": "omni-moderation-latest",
    "/v1/images/generations": "gpt-image-1",
    "/v1/images/edits": "gpt-image-1",
    "/v1/videos": "sora-2",
}

ENDPOINT_FIELDS: dict[str, frozenset[str]] = {
    "/v1/responses": frozenset({"system", "prompt", "temperature", "max_tokens", "schema"}),
    "/v1/chat/completions": frozenset({"system", "prompt", "temperature", "max_tokens", "schema"}),
    "/v1/embeddings": frozenset({"prompt"}),
    "/v1/completions": frozenset({"prompt", "temperature", "max_tokens"}),
    "/v1/moderations": frozenset({"prompt"}),
    "/v1/images/generations": frozenset({"prompt"}),
    "/v1/images/edits": frozenset({"prompt"}),
    "/v1/videos": frozenset({"prompt"}),
}
"""Which form fields each endpoint uses (the screen shows only these)."""

JSON_OBJECT = "json_object"


class BodyError(BatchdeckError, ValueError):
    """The form cannot make a body; the message names the field."""


@dataclass(frozen=True)
class BodyForm:
    """The fields of the compose form. ``prompt`` is the user prompt / input.

    ``schema`` is None (plain text), ``"json_object"``, or a JSON schema (a dict)
    named ``schema_name``. ``extra`` is merged over the built body.
    """

    model: str
    prompt: str = ""
    system: str = ""
    temperature: float | None = None
    max_tokens: int | None = None
    schema: dict[str, Any] | str | None = None
    schema_name: str = "result"
    extra: Mapping[str, Any] = field(default_factory=dict)


def parse_json_object(text: str, what: str) -> dict[str, Any]:
    """``text`` as a JSON object, or a :class:`BodyError` naming ``what`` and where."""
    try:
        value = jsonsafe.loads(text)
    except JsonInputError as exc:  # also a paste nested thousands deep, not a crash
        raise BodyError(f"{what}: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise BodyError(f"{what}: must be a JSON object")
    return value


def _check(form: BodyForm) -> None:
    if not form.model.strip():
        raise BodyError("model: required")
    if form.temperature is not None and not 0 <= form.temperature <= 2:
        raise BodyError("temperature: between 0 and 2")
    if form.max_tokens is not None and form.max_tokens < 1:
        raise BodyError("max tokens: at least 1")


def _chat(form: BodyForm) -> dict[str, Any]:
    messages = []
    if form.system:
        messages.append({"role": "system", "content": form.system})
    messages.append({"role": "user", "content": form.prompt})
    body: dict[str, Any] = {"model": form.model, "messages": messages}
    if form.temperature is not None:
        body["temperature"] = form.temperature
    if form.max_tokens is not None:
        body["max_completion_tokens"] = form.max_tokens
    if form.schema == JSON_OBJECT:
        body["response_format"] = {"type": JSON_OBJECT}
    elif isinstance(form.schema, dict):
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": form.schema_name, "schema": form.schema, "strict": True},
        }
    return body


def _responses(form: BodyForm) -> dict[str, Any]:
    body: dict[str, Any] = {"model": form.model, "input": form.prompt}
    if form.system:
        body["instructions"] = form.system
    if form.temperature is not None:
        body["temperature"] = form.temperature
    if form.max_tokens is not None:
        body["max_output_tokens"] = form.max_tokens
    if form.schema == JSON_OBJECT:
        body["text"] = {"format": {"type": JSON_OBJECT}}
    elif isinstance(form.schema, dict):
        body["text"] = {
            "format": {
                "type": "json_schema",
                "name": form.schema_name,
                "schema": form.schema,
                "strict": True,
            }
        }
    return body


def _completions(form: BodyForm) -> dict[str, Any]:
    body: dict[str, Any] = {"model": form.model, "prompt": form.prompt}
    if form.temperature is not None:
        body["temperature"] = form.temperature
    if form.max_tokens is not None:
        body["max_tokens"] = form.max_tokens
    return body


def build_body(endpoint: str, form: BodyForm) -> dict[str, Any]:
    """The request body for ``endpoint`` from ``form`` (``extra`` laid over it)."""
    if endpoint not in BATCH_ENDPOINTS:
        raise BodyError(f"endpoint: {endpoint!r} is not a batch endpoint")
    _check(form)
    if endpoint == "/v1/chat/completions":
        body = _chat(form)
    elif endpoint == "/v1/responses":
        body = _responses(form)
    elif endpoint == "/v1/completions":
        body = _completions(form)
    elif endpoint in ("/v1/embeddings", "/v1/moderations"):
        body = {"model": form.model, "input": form.prompt}
    else:
        body = {"model": form.model, "prompt": form.prompt}
    body.update(form.extra)
    return body
