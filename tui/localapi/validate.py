"""Validation of a batch input file, as the Batch API does it while ``validating``.

A private validator (the server must not depend on the client-side one): it reads
the file once, line by line, and returns either the lines to run (with their byte
offsets, so bodies are read again only when a line runs) or the errors that make
the batch ``failed``. Every error names its 1-based physical line where one applies.

Codes: ``empty_file``, ``too_many_tasks`` (> 50,000 requests), ``file_too_large``
(> 200 MB), ``invalid_json_line`` (not a JSON object, or not UTF-8),
``missing_required_parameter`` (``custom_id``, ``method``, ``url``, ``body``,
``body.model``), ``invalid_value`` (a field of the wrong type, ``method`` not POST),
``duplicate_custom_id``, ``url_mismatch`` (url differs from the batch's endpoint) and
``model_mismatch`` (a model other than the first line's). Blank lines are skipped.
At most :data:`MAX_REPORTED_ERRORS` errors are reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

MAX_REQUESTS = 50_000
MAX_INPUT_BYTES = 200 * 1024 * 1024
MAX_REPORTED_ERRORS = 1000

_decode = msgspec.json.Decoder()


@dataclass(frozen=True, slots=True)
class LineRef:
    """A valid request line: where it is in the input file and its custom_id."""

    line: int
    offset: int
    length: int
    custom_id: str


@dataclass(slots=True)
class Validation:
    lines: list[LineRef] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    model: str | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def _error(code: str, message: str, line: int | None, param: str | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "param": param, "line": line}


def validate_input(
    path: Path, endpoint: str, *, max_requests: int = MAX_REQUESTS, max_bytes: int = MAX_INPUT_BYTES
) -> Validation:
    """Check every line of the input file at ``path`` for a batch on ``endpoint``."""
    result = Validation()
    size = path.stat().st_size
    if size > max_bytes:
        result.errors.append(
            _error(
                "file_too_large",
                f"The input file is {size} bytes; the limit is {max_bytes} bytes.",
                None,
            )
        )
        return result
    seen: dict[str, int] = {}
    requests = 0
    offset = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            start = offset
            offset += len(raw)
            if not raw.strip():
                continue
            requests += 1
            if requests > max_requests:
                result.errors.append(
                    _error(
                        "too_many_tasks",
                        f"The batch input file has more than the {max_requests} maximum "
                        "number of requests.",
                        None,
                    )
                )
                break
            problem, custom_id = _check_line(raw, number, endpoint, seen, result)
            if problem is None:
                result.lines.append(LineRef(number, start, len(raw), custom_id))
            elif len(result.errors) < MAX_REPORTED_ERRORS:
                result.errors.append(problem)
    if requests == 0:
        result.errors.append(_error("empty_file", "The batch input file is empty.", None))
    if result.errors:
        result.lines.clear()
    return result


def _check_line(
    raw: bytes, number: int, endpoint: str, seen: dict[str, int], result: Validation
) -> tuple[dict[str, Any] | None, str]:
    """(None, custom_id) if the line is valid, else (its error, "")."""
    try:
        obj = _decode.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):
        obj = None
    if not isinstance(obj, dict):
        return _fail(
            "invalid_json_line", "This line is not parseable as valid JSON object.", number
        )
    for name in ("custom_id", "method", "url", "body"):
        if name not in obj or obj[name] is None:
            return _fail(
                "missing_required_parameter",
                f"Missing required parameter: '{name}'.",
                number,
                name,
            )
    custom_id = obj["custom_id"]
    if not isinstance(custom_id, str) or not custom_id:
        return _fail(
            "invalid_value", "'custom_id' must be a non-empty string.", number, "custom_id"
        )
    if obj["method"] != "POST":
        return _fail(
            "invalid_value",
            f"Invalid value for 'method': {obj['method']!r}. Only 'POST' is supported.",
            number,
            "method",
        )
    url = obj["url"]
    if url != endpoint:
        return _fail(
            "url_mismatch",
            f"The url {str(url)[:200]!r} does not match the batch endpoint {endpoint!r}.",
            number,
            "url",
        )
    body = obj["body"]
    if not isinstance(body, dict):
        return _fail("invalid_value", "'body' must be a JSON object.", number, "body")
    model = body.get("model")
    if model is None:
        return _fail(
            "missing_required_parameter",
            "Missing required parameter: 'body.model'.",
            number,
            "body.model",
        )
    if not isinstance(model, str) or not model:
        return _fail(
            "invalid_value", "'body.model' must be a non-empty string.", number, "body.model"
        )
    if custom_id in seen:
        return _fail(
            "duplicate_custom_id",
            f"The custom_id {custom_id[:200]!r} is already used on line {seen[custom_id]}; "
            "custom_id values must be unique within a batch.",
            number,
            "custom_id",
        )
    seen[custom_id] = number
    if result.model is None:
        result.model = model
    elif model != result.model:
        return _fail(
            "model_mismatch",
            f"The model {model[:200]!r} differs from the batch's model {result.model!r}; "
            "all requests in a batch must use the same model.",
            number,
            "body.model",
        )
    return None, custom_id


def _fail(
    code: str, message: str, line: int, param: str | None = None
) -> tuple[dict[str, Any], str]:
    return _error(code, message, line, param), ""
