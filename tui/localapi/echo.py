"""The ``echo`` model: deterministic, synthetic responses for every batch endpoint.

``respond(url, body, seed=..., now=...)`` returns ``(status_code, body)`` like the
real endpoint would: a body that parses with the SDK's own type (``ChatCompletion``,
``Response``, ``CreateEmbeddingResponse``, ``Completion``, ``ModerationCreateResponse``,
``ImagesResponse``, ``Video``) or an ``{"error": {...}}`` body with a 4xx/5xx status.

The same ``(url, body, seed)`` always gives the same answer. Replies quote the start
of the prompt (``"Echo: …"``), token counts are estimated at ~4 characters a token,
reasoning models (o-series, gpt-5…, or a body with ``reasoning``) report reasoning
tokens, long prompts report cached tokens, and ``max_tokens`` style limits truncate
(``finish_reason: "length"``).

Asking echo for a failure (for tests and the demo):

- the marker ``[fail:NNN]`` anywhere in the body's text (a message, an input, a
  prompt) makes that request fail with HTTP status NNN (e.g. ``[fail:429]``,
  ``[fail:500]``, ``[fail:400]``), with the error body the real API sends for it;
- a model named ``fail-NNN`` makes every request that uses it fail with NNN;
- bodies the real endpoint would reject are rejected the same way: a missing
  ``messages``/``input``/``prompt``, ``temperature`` outside 0..2, ``max_tokens``
  below 1, ``n`` outside 1..128, embedding ``dimensions`` outside 1..the model's
  size, a video ``size`` it does not offer, ``stream: true``, or a prompt over the
  128k-token context window (``context_length_exceeded``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import re
import struct
import zlib
from collections.abc import Callable
from typing import Any

from tui.localapi.errors import error_body
from tui.localapi.ids import ALNUM, HEX, derived_id

Body = dict[str, Any]
Handler = Callable[[Body, random.Random, str, int], tuple[int, Body]]

CONTEXT_WINDOW = 128_000
FAIL_MARKER = re.compile(r"\[fail:(\d{3})\]")
FAIL_MODEL = re.compile(r"^fail-(\d{3})$")
REASONING_MODEL = re.compile(r"^(o\d|gpt-5|gpt-6)")
EMBEDDING_SIZES = {"text-embedding-3-large": 3072, "text-embedding-3-small": 1536}
DEFAULT_EMBEDDING_SIZE = 1536
VIDEO_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
MODERATION_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
_IMAGE_CATEGORIES = {"self-harm", "self-harm/instructions", "self-harm/intent", "sexual"}
_IMAGE_CATEGORIES |= {"violence", "violence/graphic"}
# A few words that make the echo moderation model flag a text, by category.
_FLAG_WORDS = {"kill": "violence", "attack": "violence", "hate": "hate", "idiot": "harassment"}

_STATUS_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("Invalid request (echo failure marker).", "invalid_request_error", "invalid_value"),
    401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
    403: ("You are not allowed to use this model.", "permission_error", None),
    404: (
        "The model does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    ),
    409: ("The request conflicted with another request.", "invalid_request_error", None),
    422: ("The request could not be processed.", "invalid_request_error", None),
    429: (
        "Rate limit reached for requests. Please try again later.",
        "requests",
        "rate_limit_exceeded",
    ),
    500: (
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
    ),
    502: ("Bad gateway.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}


class EchoError(Exception):
    """A request the echo model rejects: status code and error body."""

    def __init__(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        kind = _STATUS_ERRORS.get(status, ("", "invalid_request_error", None))[1]
        self.status = status
        self.body = error_body(message, type=kind, param=param, code=code)


def respond(url: str, body: Body, *, seed: str = "", now: float = 0.0) -> tuple[int, Body]:
    """The echo model's answer to ``POST url`` with ``body``: (status code, JSON body)."""
    handler = HANDLERS.get(url)
    if handler is None:
        return 404, error_body(f"Invalid URL (POST {url})", code="unknown_url")
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)
    rng = random.Random(hashlib.sha256(f"{url}\x1f{seed}\x1f{canonical}".encode()).digest())
    try:
        _check_failure(body, canonical)
        _check_common(body)
        return handler(body, rng, seed or canonical, int(now))
    except EchoError as exc:
        return exc.status, exc.body
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        return 400, error_body(
            f"Invalid request body: {type(exc).__name__}.", code="invalid_request_body"
        )


def fail_status(body: Body) -> int | None:
    """The status a failure marker or ``fail-NNN`` model asks for, if any."""
    model = body.get("model")
    if isinstance(model, str) and (m := FAIL_MODEL.match(model)):
        return int(m.group(1))
    found = FAIL_MARKER.search(json.dumps(body, ensure_ascii=False, default=str))
    return int(found.group(1)) if found else None


def _check_failure(body: Body, canonical: str) -> None:
    model = body.get("model")
    status: int | None = None
    if isinstance(model, str) and (m := FAIL_MODEL.match(model)):
        status = int(m.group(1))
    elif found := FAIL_MARKER.search(canonical):
        status = int(found.group(1))
    if status is None or not 400 <= status <= 599:
        return
    message, _, code = _STATUS_ERRORS.get(status, (f"Echo failure {status}.", "", None))
    if status == 404 and isinstance(model, str):
        message = f"The model `{model}` does not exist or you do not have access to it."
    raise EchoError(status, message, code=code)


def _check_common(body: Body) -> None:
    if body.get("stream"):
        raise EchoError(
            400, "Streaming is not supported here.", param="stream", code="invalid_value"
        )
    temperature = body.get("temperature")
    if temperature is not None and (
        not isinstance(temperature, int | float) or not 0 <= temperature <= 2
    ):
        raise EchoError(
            400,
            f"Invalid 'temperature': decimal above maximum value. Expected a value <= 2, "
            f"but got {temperature} instead.",
            param="temperature",
            code="decimal_above_max_value",
        )
    for name in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        value = body.get(name)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise EchoError(
                400,
                f"Invalid '{name}': integer below minimum value. Expected a value >= 1, "
                f"but got {value} instead.",
                param=name,
                code="integer_below_min_value",
            )
    n = body.get("n")
    if n is not None and (not isinstance(n, int) or not 1 <= n <= 128):
        raise EchoError(
            400, f"Invalid 'n': {n}. Expected 1 to 128.", param="n", code="invalid_value"
        )


def _require(body: Body, name: str) -> Any:
    value = body.get(name)
    if value is None or value == "" or value == []:
        raise EchoError(
            400,
            f"Missing required parameter: '{name}'.",
            param=name,
            code="missing_required_parameter",
        )
    return value


# --- text and tokens -------------------------------------------------------------


def count_tokens(text: str) -> int:
    """About four characters a token, like OpenAI's rule of thumb."""
    return math.ceil(len(text) / 4) if text else 0


def _texts(value: Any) -> list[str]:
    """Every text in a message content / input / prompt value, in order."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        out: list[str] = []
        for item in value:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, dict):
                if isinstance(item.get("text"), str):
                    out.append(item["text"])
                elif "content" in item:
                    out.extend(_texts(item["content"]))
        return out
    if isinstance(value, dict):
        return _texts([value])
    return []


def _images(value: Any) -> int:
    """How many images a content / input value holds."""
    if isinstance(value, list):
        return sum(_images(item) for item in value)
    if isinstance(value, dict):
        kind = value.get("type")
        if kind in ("image_url", "input_image"):
            return 1
        return _images(value.get("content"))
    return 0


def _excerpt(text: str, words: int = 40) -> str:
    parts = " ".join(text.split()).split(" ")
    short = " ".join(parts[:words])
    return short + ("…" if len(parts) > words else "")


def _reply(prompt: str, json_mode: bool) -> str:
    said = _excerpt(prompt) if prompt.strip() else "(no text)"
    if json_mode:
        return json.dumps({"echo": said}, ensure_ascii=False)
    return f"Echo: {said}"


def _truncate(text: str, limit: int | None) -> tuple[str, bool]:
    if limit is None or count_tokens(text) <= limit:
        return text, False
    return text[: max(1, limit * 4)], True


def _is_reasoning(body: Body) -> bool:
    model = str(body.get("model") or "")
    return bool(REASONING_MODEL.match(model)) or "reasoning" in body or ("reasoning_effort" in body)


def _reasoning_tokens(body: Body, rng: random.Random) -> int:
    if not _is_reasoning(body):
        return 0
    effort = body.get("reasoning_effort") or (body.get("reasoning") or {}).get("effort")
    scale = {"minimal": 0, "none": 0, "low": 1, "medium": 3, "high": 8, "xhigh": 12}.get(
        str(effort), 3
    )
    return scale * 64 + rng.randrange(0, 64) if scale else 0


def _cached(prompt_tokens: int) -> int:
    """Prompt caching applies to prompts of 1024+ tokens, in 128-token steps."""
    if prompt_tokens < 1024:
        return 0
    return (prompt_tokens // 2) // 128 * 128


def _check_context(prompt_tokens: int) -> None:
    if prompt_tokens > CONTEXT_WINDOW:
        raise EchoError(
            400,
            f"This model's maximum context length is {CONTEXT_WINDOW} tokens. However, your "
            f"messages resulted in {prompt_tokens} tokens. Please reduce the length of the "
            "messages.",
            param="messages",
            code="context_length_exceeded",
        )


def _fingerprint(model: str) -> str:
    return derived_id("fp_", model, length=10)


def _rid(prefix: str, seed: str, rng: random.Random, length: int = 29, alpha: str = ALNUM) -> str:
    return derived_id(prefix, seed, str(rng.random()), length=length, alphabet=alpha)


# --- endpoints ---------------------------------------------------------------------


def chat_completions(body: Body, rng: random.Random, seed: str, now: int) -> tuple[int, Body]:
    messages = _require(body, "messages")
    _require(body, "model")
    if not isinstance(messages, list):
        raise EchoError(
            400,
            "Invalid type for 'messages': expected an array.",
            param="messages",
            code="invalid_type",
        )
    prompt_tokens = 3
    last_user = ""
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in (
            "system",
            "developer",
            "user",
            "assistant",
            "tool",
            "function",
        ):
            raise EchoError(
                400,
                f"Invalid value for 'messages[{index}].role'.",
                param=f"messages[{index}].role",
                code="invalid_value",
            )
        texts = _texts(message.get("content"))
        prompt_tokens += 4 + sum(count_tokens(t) for t in texts)
        prompt_tokens += 85 * _images(message.get("content"))
        if message["role"] == "user" and texts:
            last_user = "\n".join(texts)
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    _check_context(prompt_tokens)
    fmt = (body.get("response_format") or {}).get("type")
    text, cut = _truncate(_reply(last_user, fmt in ("json_object", "json_schema")), limit)
    n = int(body.get("n") or 1)
    reasoning = _reasoning_tokens(body, rng)
    completion = n * count_tokens(text) + reasoning
    model = str(body["model"])
    return 200, {
        "id": _rid("chatcmpl-", seed, rng),
        "object": "chat.completion",
        "created": now,
        "model": model,
        "choices": [
            {
                "index": i,
                "message": {
                    "role": "assistant",
                    "content": text,
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": "length" if cut else "stop",
            }
            for i in range(n)
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
            "prompt_tokens_details": {"cached_tokens": _cached(prompt_tokens), "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": reasoning,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": _fingerprint(model),
    }


def responses(body: Body, rng: random.Random, seed: str, now: int) -> tuple[int, Body]:
    value = _require(body, "input")
    model = str(_require(body, "model"))
    texts = _texts(value)
    instructions = body.get("instructions")
    prompt_tokens = sum(count_tokens(t) for t in texts) + 85 * _images(value) + 3
    if isinstance(instructions, str):
        prompt_tokens += count_tokens(instructions)
    limit = body.get("max_output_tokens")
    _check_context(prompt_tokens)
    fmt = ((body.get("text") or {}).get("format") or {}).get("type")
    text, cut = _truncate(
        _reply(texts[-1] if texts else "", fmt in ("json_object", "json_schema")), limit
    )
    reasoning = _reasoning_tokens(body, rng)
    output_tokens = count_tokens(text) + reasoning
    response_id = _rid("resp_", seed, rng, 48, HEX)
    output: list[Body] = []
    if _is_reasoning(body):
        output.append({"id": _rid("rs_", seed, rng, 48, HEX), "type": "reasoning", "summary": []})
    output.append(
        {
            "id": _rid("msg_", seed, rng, 48, HEX),
            "type": "message",
            "status": "incomplete" if cut else "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
        }
    )
    return 200, {
        "id": response_id,
        "object": "response",
        "created_at": now,
        "status": "incomplete" if cut else "completed",
        "completed_at": None if cut else now,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if cut else None,
        "instructions": instructions if isinstance(instructions, str) else None,
        "max_output_tokens": limit,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": (body.get("reasoning") or {}).get("effort"), "summary": None},
        "service_tier": "default",
        "store": bool(body.get("store", True)),
        "temperature": body.get("temperature", 1.0),
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": {
            "input_tokens": prompt_tokens,
            "input_tokens_details": {
                "cached_tokens": _cached(prompt_tokens),
                "cache_write_tokens": 0,
            },
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": prompt_tokens + output_tokens,
        },
        "user": None,
        "metadata": body.get("metadata") or {},
    }


def embeddings(body: Body, rng: random.Random, seed: str, now: int) -> tuple[int, Body]:
    value = _require(body, "input")
    model = str(_require(body, "model"))
    size = EMBEDDING_SIZES.get(model, DEFAULT_EMBEDDING_SIZE)
    dimensions = body.get("dimensions", size)
    if not isinstance(dimensions, int) or not 1 <= dimensions <= size:
        raise EchoError(
            400,
            f"Invalid 'dimensions': {dimensions}. This model's embeddings have 1 to {size} "
            "dimensions.",
            param="dimensions",
            code="invalid_value",
        )
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise EchoError(
            400,
            f"Invalid value: '{encoding}'. Supported values are: 'float' and 'base64'.",
            param="encoding_format",
            code="invalid_value",
        )
    inputs: list[Any] = (
        value if isinstance(value, list) and value and not isinstance(value[0], int) else [value]
    )
    data: list[Body] = []
    tokens = 0
    for index, item in enumerate(inputs):
        text = item if isinstance(item, str) else json.dumps(item)
        tokens += len(item) if isinstance(item, list) else count_tokens(text)
        vector = _unit_vector(f"{model}\x1f{text}", dimensions)
        embedding: Any = vector
        if encoding == "base64":
            embedding = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    if tokens > 8192 * len(inputs):
        raise EchoError(
            400,
            "This model's maximum context length is 8192 tokens.",
            param="input",
            code="context_length_exceeded",
        )
    return 200, {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _unit_vector(key: str, dimensions: int) -> list[float]:
    """The same text always embeds to the same unit vector."""
    rng = random.Random(hashlib.sha256(key.encode()).digest())
    raw = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [round(x / norm, 7) for x in raw]


def completions(body: Body, rng: random.Random, seed: str, now: int) -> tuple[int, Body]:
    prompt = _require(body, "prompt")
    model = str(_require(body, "model"))
    prompts = (
        prompt
        if isinstance(prompt, list) and prompt and not isinstance(prompt[0], int)
        else [prompt]
    )
    limit = body.get("max_tokens", 16)
    n = int(body.get("n") or 1)
    choices: list[Body] = []
    prompt_tokens = 0
    completion_tokens = 0
    for item in prompts:
        text_in = item if isinstance(item, str) else " ".join(str(t) for t in item)
        prompt_tokens += len(item) if isinstance(item, list) else count_tokens(text_in)
        text, cut = _truncate(" " + _reply(text_in, False), limit)
        for _ in range(n):
            completion_tokens += count_tokens(text)
            choices.append(
                {
                    "index": len(choices),
                    "text": text,
                    "logprobs": None,
                    "finish_reason": "length" if cut else "stop",
                }
            )
    _check_context(prompt_tokens)
    return 200, {
        "id": _rid("cmpl-", seed, rng),
        "object": "text_completion",
        "created": now,
        "model": model,
        "choices": choices,
        "system_fingerprint": _fingerprint(model),
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def moderations(body: Body, rng: random.Random, seed: str, now: int) -> tuple[int, Body]:
    value = _require(body, "input")
    model = str(body.get("model") or "omni-moderation-latest")
    items: list[Any] = value if isinstance(value, list) else [value]
    multimodal = any(isinstance(item, dict) for item in items)
    groups: list[list[Any]] = [items] if multimodal else [[item] for item in items]
    results: list[Body] = []
    for group in groups:
        text = " ".join(_texts(group)).lower()
        has_image = _images(group) > 0
        local = random.Random(hashlib.sha256(f"mod\x1f{text}".encode()).digest())
        scores = {name: round(local.uniform(1e-6, 2e-3), 6) for name in MODERATION_CATEGORIES}
        for word, category in _FLAG_WORDS.items():
            if re.search(rf"\b{word}", text):
                scores[category] = round(0.9 + local.uniform(0, 0.09), 6)
        categories = {name: score >= 0.5 for name, score in scores.items()}
        applied = {
            name: (["text"] if text else [])
            + (["image"] if has_image and name in _IMAGE_CATEGORIES else [])
            for name in MODERATION_CATEGORIES
        }
        results.append(
            {
                "flagged": any(categories.values()),
                "categories": categories,
                "category_scores": scores,
                "category_applied_input_types": applied,
            }
        )
    return 200, {"id": _rid("modr-", seed, rng), "model": model, "results": results}


def images(body: Body, rng: random.Random, seed: str, now: int) -> tuple[int, Body]:
    prompt = str(_require(body, "prompt"))
    model = str(body.get("model") or "gpt-image-1")
    n = int(body.get("n") or 1)
    size = body.get("size") if isinstance(body.get("size"), str) else "1024x1024"
    url_format = body.get("response_format") == "url"
    data: list[Body] = []
    for index in range(n):
        png = _tiny_png(f"{seed}\x1f{prompt}\x1f{index}")
        encoded = base64.b64encode(png).decode()
        if url_format:
            data.append({"url": f"data:image/png;base64,{encoded}", "revised_prompt": prompt})
        else:
            data.append({"b64_json": encoded})
    text_tokens = count_tokens(prompt)
    image_tokens = 323 * _images(body.get("images") or body.get("image") or [])
    output_tokens = 272 * n
    out: Body = {"created": now, "data": data, "size": size, "output_format": "png"}
    if not model.startswith("dall-e"):
        out["background"] = "opaque"
        out["quality"] = "low" if body.get("quality") == "low" else "medium"
        out["usage"] = {
            "input_tokens": text_tokens + image_tokens,
            "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_tokens},
            "output_tokens": output_tokens,
            "output_tokens_details": {"text_tokens": 0, "image_tokens": output_tokens},
            "total_tokens": text_tokens + image_tokens + output_tokens,
        }
    return 200, out


def _tiny_png(key: str, side: int = 8) -> bytes:
    """An 8x8 PNG of one colour picked from ``key``."""
    r, g, b = hashlib.sha256(key.encode()).digest()[:3]
    row = b"\x00" + bytes((r, g, b)) * side
    raw = row * side

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def videos(body: Body, rng: random.Random, seed: str, now: int) -> tuple[int, Body]:
    prompt = str(_require(body, "prompt"))
    size = body.get("size", "720x1280")
    if size not in VIDEO_SIZES:
        raise EchoError(
            400,
            f"Invalid value: '{size}'. Supported values are: "
            + ", ".join(f"'{s}'" for s in VIDEO_SIZES)
            + ".",
            param="size",
            code="invalid_value",
        )
    seconds = str(body.get("seconds", "4"))
    if seconds not in ("4", "8", "12"):
        raise EchoError(
            400,
            f"Invalid value: '{seconds}'. Supported values are: '4', '8', '12'.",
            param="seconds",
            code="invalid_value",
        )
    return 200, {
        "id": _rid("video_", seed, rng, 32, HEX),
        "object": "video",
        "created_at": now,
        "completed_at": now,
        "expires_at": now + 24 * 3600,
        "model": str(body.get("model") or "sora-2"),
        "progress": 100,
        "prompt": prompt,
        "remixed_from_video_id": None,
        "seconds": seconds,
        "size": size,
        "status": "completed",
        "error": None,
    }


HANDLERS: dict[str, Handler] = {
    "/v1/chat/completions": chat_completions,
    "/v1/responses": responses,
    "/v1/embeddings": embeddings,
    "/v1/completions": completions,
    "/v1/moderations": moderations,
    "/v1/images/generations": images,
    "/v1/images/edits": images,
    "/v1/videos": videos,
}
