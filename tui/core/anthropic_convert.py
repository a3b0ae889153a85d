"""Convert batch request lines between OpenAI chat completions and Anthropic messages.

OpenAI line: ``{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}``;
Anthropic line: ``{"custom_id", "params"}`` (see :mod:`tui.core.anthropic_lines`).

What maps: system/developer messages <-> ``system``; user/assistant text and images
(data URLs <-> base64 sources, http URLs <-> url sources); ``max_tokens`` /
``max_completion_tokens`` <-> ``max_tokens``; ``stop`` <-> ``stop_sequences``;
``temperature`` (Anthropic's range is 0..1), ``top_p``; ``user`` <->
``metadata.user_id``; function tools and ``tool_choice``. Everything else (``n`` > 1,
logprobs, tool-call messages, response formats, ``top_k``, thinking...) cannot be
converted and is reported per line with its field: a line is converted whole or not
at all. :func:`convert_file` streams the input and writes the output atomically.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import msgspec

from tui.core.anthropic_lines import (
    AnthropicFileError,
    LineProblem,
    iter_lines,
    line_problems,
    parse_line,
)
from tui.core.fsutil import atomic_file, export_mode

OPENAI_URL = "/v1/chat/completions"
DATA_URL = re.compile(r"^data:(image/[a-z+.-]+);base64,(.*)$", re.DOTALL)
OPENAI_MAX_STOPS = 4
FORMATS = ("anthropic", "openai")


class Unconvertible(Exception):
    """A line that cannot be converted: ``field`` and why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(slots=True)
class Conversion:
    """What :func:`convert_file` did: lines converted, and every line it could not."""

    source: Path
    target: Path | None = None
    converted: int = 0
    problems: list[LineProblem] = field(default_factory=list)
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


# --- OpenAI -> Anthropic -----------------------------------------------------------

_OPENAI_BODY_KEYS = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "temperature",
        "top_p",
        "n",
        "user",
        "tools",
        "tool_choice",
        "stream",
        "logprobs",
    }
)


def to_anthropic(line: Any, *, max_tokens: int | None = None) -> dict[str, Any]:
    """An OpenAI chat-completions batch line as an Anthropic request line."""
    if not isinstance(line, dict):
        raise Unconvertible("", "expected a JSON object")
    custom_id = line.get("custom_id")
    if not isinstance(custom_id, str):
        raise Unconvertible("custom_id", "required (a string)")
    url = line.get("url")
    if url != OPENAI_URL:
        raise Unconvertible("url", f"only {OPENAI_URL} lines convert, not {str(url)[:80]!r}")
    body = line.get("body")
    if not isinstance(body, dict):
        raise Unconvertible("body", "required (an object)")
    for name in body:
        if name not in _OPENAI_BODY_KEYS:
            raise Unconvertible(f"body.{name}", "has no Anthropic equivalent")
    if body.get("n") not in (None, 1):
        raise Unconvertible("body.n", "Anthropic returns one answer per request (n must be 1)")
    if body.get("logprobs"):
        raise Unconvertible("body.logprobs", "Anthropic does not return logprobs")
    if body.get("stream"):
        raise Unconvertible("body.stream", "streaming is not allowed in a batch")
    params: dict[str, Any] = {"model": body.get("model")}
    limit = body.get("max_completion_tokens", body.get("max_tokens", max_tokens))
    if limit is None:
        raise Unconvertible("body.max_tokens", "required by Anthropic (give --max-tokens)")
    params["max_tokens"] = limit
    system, messages = _split_system(body.get("messages"))
    if system:
        params["system"] = system
    params["messages"] = messages
    _copy_sampling(body, params)
    if "user" in body:
        params["metadata"] = {"user_id": body["user"]}
    if "tools" in body:
        params["tools"] = [_tool_to_anthropic(t, i) for i, t in enumerate(body["tools"] or [])]
    if "tool_choice" in body:
        params["tool_choice"] = _choice_to_anthropic(body["tool_choice"])
    out = {"custom_id": custom_id, "params": params}
    found = line_problems(out, None)
    if found:
        raise Unconvertible(found[0].field, found[0].message)
    return out


def _copy_sampling(body: dict[str, Any], params: dict[str, Any]) -> None:
    stop = body.get("stop")
    if stop is not None:
        params["stop_sequences"] = [stop] if isinstance(stop, str) else stop
    temperature = body.get("temperature")
    if temperature is not None:
        if not isinstance(temperature, int | float) or not 0 <= temperature <= 1:
            raise Unconvertible("body.temperature", f"{temperature} is outside Anthropic's 0..1")
        params["temperature"] = temperature
    if body.get("top_p") is not None:
        params["top_p"] = body["top_p"]


def _split_system(messages: Any) -> tuple[str, list[dict[str, Any]]]:
    if not isinstance(messages, list):
        raise Unconvertible("body.messages", "required (an array)")
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        where = f"body.messages[{index}]"
        if not isinstance(message, dict):
            raise Unconvertible(where, "must be an object")
        role = message.get("role")
        if role in ("system", "developer"):
            system.append(_plain_text(message.get("content"), f"{where}.content"))
        elif role in ("user", "assistant"):
            if message.get("tool_calls") or message.get("function_call"):
                raise Unconvertible(f"{where}.tool_calls", "tool-call messages do not convert")
            for name in message:
                if name not in ("role", "content", "name"):
                    raise Unconvertible(f"{where}.{name}", "has no Anthropic equivalent")
            content = _content_to_anthropic(message.get("content"), f"{where}.content")
            out.append({"role": role, "content": content})
        else:
            raise Unconvertible(f"{where}.role", f"{str(role)[:40]!r} messages do not convert")
    return "\n\n".join(system), out


def _plain_text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for index, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text":
                raise Unconvertible(f"{where}[{index}]", "only text parts convert here")
            texts.append(str(part.get("text", "")))
        return "\n".join(texts)
    raise Unconvertible(where, "must be text")


def _content_to_anthropic(content: Any, where: str) -> Any:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise Unconvertible(where, "must be text or an array of parts")
    blocks: list[dict[str, Any]] = []
    for index, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            blocks.append({"type": "text", "text": part.get("text")})
        elif kind == "image_url":
            url = (part.get("image_url") or {}).get("url")
            blocks.append(_image_to_anthropic(url, f"{where}[{index}].image_url.url"))
        else:
            raise Unconvertible(f"{where}[{index}]", f"{str(kind)[:40]!r} parts do not convert")
    return blocks


def _image_to_anthropic(url: Any, where: str) -> dict[str, Any]:
    if not isinstance(url, str):
        raise Unconvertible(where, "required (a URL)")
    if found := DATA_URL.match(url):
        data = found.group(2)
        try:
            base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise Unconvertible(where, "the data URL is not valid base64") from None
        source = {"type": "base64", "media_type": found.group(1), "data": data}
        return {"type": "image", "source": source}
    if url.startswith(("https://", "http://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise Unconvertible(where, "only data: and http(s) image URLs convert")


def _tool_to_anthropic(tool: Any, index: int) -> dict[str, Any]:
    where = f"body.tools[{index}]"
    function = tool.get("function") if isinstance(tool, dict) else None
    if (
        not isinstance(tool, dict)
        or tool.get("type") != "function"
        or not isinstance(function, dict)
    ):
        raise Unconvertible(where, "only function tools convert")
    out = {"name": function.get("name"), "input_schema": function.get("parameters") or {}}
    if function.get("description"):
        out["description"] = function["description"]
    if not out["input_schema"]:
        out["input_schema"] = {"type": "object", "properties": {}}
    return out


def _choice_to_anthropic(choice: Any) -> dict[str, Any]:
    simple = {"auto": "auto", "required": "any", "none": "none"}
    if isinstance(choice, str) and choice in simple:
        return {"type": simple[choice]}
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return {"type": "tool", "name": choice["function"].get("name")}
    raise Unconvertible("body.tool_choice", "does not convert")


# --- Anthropic -> OpenAI -----------------------------------------------------------

_ANTHROPIC_PARAM_KEYS = frozenset(
    {
        "model",
        "max_tokens",
        "messages",
        "system",
        "stop_sequences",
        "temperature",
        "top_p",
        "metadata",
        "tools",
        "tool_choice",
    }
)


def to_openai(line: Any, *, max_tokens: int | None = None) -> dict[str, Any]:
    """An Anthropic request line as an OpenAI chat-completions batch line."""
    found = line_problems(line, None)
    if found:
        raise Unconvertible(found[0].field, found[0].message)
    params = line["params"]
    for name in params:
        if name not in _ANTHROPIC_PARAM_KEYS:
            raise Unconvertible(f"params.{name}", "has no OpenAI chat-completions equivalent")
    messages: list[dict[str, Any]] = []
    if params.get("system"):
        system = _system_text(params["system"])
        messages.append({"role": "system", "content": system})
    for index, message in enumerate(params["messages"]):
        where = f"params.messages[{index}].content"
        content = _content_to_openai(message.get("content"), where)
        messages.append({"role": message["role"], "content": content})
    body: dict[str, Any] = {"model": params["model"], "messages": messages}
    body["max_completion_tokens"] = params["max_tokens"]
    stops = params.get("stop_sequences")
    if stops:
        if not isinstance(stops, list) or len(stops) > OPENAI_MAX_STOPS:
            raise Unconvertible("params.stop_sequences", "OpenAI takes at most 4 stop sequences")
        body["stop"] = stops
    for name in ("temperature", "top_p"):
        if params.get(name) is not None:
            body[name] = params[name]
    metadata = params.get("metadata")
    if metadata:
        if not isinstance(metadata, dict) or set(metadata) - {"user_id"}:
            raise Unconvertible("params.metadata", "only metadata.user_id converts (to user)")
        body["user"] = metadata.get("user_id")
    if params.get("tools"):
        body["tools"] = [_tool_to_openai(t, i) for i, t in enumerate(params["tools"])]
    if "tool_choice" in params:
        body["tool_choice"] = _choice_to_openai(params["tool_choice"])
    return {"custom_id": line["custom_id"], "method": "POST", "url": OPENAI_URL, "body": body}


def _system_text(system: Any) -> str:
    if isinstance(system, str):
        return system
    texts = []
    for index, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise Unconvertible(f"params.system[{index}]", "only text blocks convert")
        texts.append(str(block.get("text", "")))
    return "\n\n".join(texts)


def _content_to_openai(content: Any, where: str) -> Any:
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for index, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            parts.append({"type": "text", "text": block.get("text")})
        elif kind == "image":
            parts.append(_image_to_openai(block.get("source"), f"{where}[{index}].source"))
        else:
            raise Unconvertible(f"{where}[{index}]", f"{str(kind)[:40]!r} blocks do not convert")
    if len(parts) == 1 and parts[0]["type"] == "text":
        return parts[0]["text"]
    return parts


def _image_to_openai(source: Any, where: str) -> dict[str, Any]:
    kind = source.get("type") if isinstance(source, dict) else None
    if kind == "base64" and isinstance(source, dict):
        url = f"data:{source.get('media_type')};base64,{source.get('data')}"
    elif kind == "url" and isinstance(source, dict):
        url = str(source.get("url"))
    else:
        raise Unconvertible(where, "only base64 and url image sources convert")
    return {"type": "image_url", "image_url": {"url": url}}


def _tool_to_openai(tool: Any, index: int) -> dict[str, Any]:
    if (
        not isinstance(tool, dict)
        or "input_schema" not in tool
        or tool.get("type")
        not in (
            None,
            "custom",
        )
    ):
        raise Unconvertible(f"params.tools[{index}]", "only custom (client) tools convert")
    function = {"name": tool.get("name"), "parameters": tool["input_schema"]}
    if tool.get("description"):
        function["description"] = tool["description"]
    return {"type": "function", "function": function}


def _choice_to_openai(choice: Any) -> Any:
    kind = choice.get("type") if isinstance(choice, dict) else None
    simple = {"auto": "auto", "any": "required", "none": "none"}
    if kind in simple:
        return simple[str(kind)]
    if kind == "tool" and isinstance(choice, dict):
        return {"type": "function", "function": {"name": choice.get("name")}}
    raise Unconvertible("params.tool_choice", "does not convert")


# --- files -------------------------------------------------------------------------


class _Discard(Exception):
    """Leave the target untouched (some lines did not convert)."""


def _convert_lines(
    source: Path,
    convert: Callable[..., dict[str, Any]],
    handle: IO[bytes],
    result: Conversion,
    max_tokens: int | None,
) -> None:
    """Write each line that converts; note each one that does not."""
    encode = msgspec.json.Encoder().encode
    seen: set[str] = set()
    for number, raw in iter_lines(source):
        obj, problem = parse_line(raw, number)
        if problem is None:
            try:
                converted = convert(obj, max_tokens=max_tokens)
                custom_id = converted["custom_id"]
                if custom_id in seen:
                    raise Unconvertible("custom_id", f"duplicate {custom_id!r}")
                seen.add(custom_id)
                handle.write(encode(converted) + b"\n")
                result.converted += 1
                continue
            except Unconvertible as exc:
                problem = LineProblem(number, exc.field, exc.message)
        result.problems.append(problem)


def default_target(source: Path, to: str) -> Path:
    """``requests.jsonl`` -> ``requests.anthropic.jsonl`` (or ``.openai.jsonl``)."""
    return source.with_name(f"{source.stem}.{to}.jsonl")


def convert_file(
    source: Path | str,
    to: str,
    target: Path | str | None = None,
    *,
    skip_unconvertible: bool = False,
    max_tokens: int | None = None,
) -> Conversion:
    """Convert every line of ``source`` into ``to`` (``"anthropic"`` or ``"openai"``).

    The target is written atomically, and only when every line converted or
    ``skip_unconvertible`` is set (then it holds the lines that did); otherwise nothing
    is written. Raises :class:`AnthropicFileError` when the source cannot be read or the
    target would replace it.
    """
    if to not in FORMATS:
        raise ValueError(f"to must be one of {FORMATS}")
    source = Path(source)
    out = Path(target) if target is not None else default_target(source, to)
    if out.exists() and source.exists() and out.resolve() == source.resolve():
        raise AnthropicFileError(f"{out}: the output would replace the input; choose another -o")
    convert: Callable[..., dict[str, Any]] = to_anthropic if to == "anthropic" else to_openai
    result = Conversion(source, out)
    try:
        with atomic_file(out, export_mode()) as handle:
            _convert_lines(source, convert, handle, result, max_tokens)
            if result.problems and not skip_unconvertible:
                raise _Discard
    except _Discard:
        return result
    except OSError as exc:
        name = exc.filename or out
        raise AnthropicFileError(f"{name}: {exc.strerror or exc}") from exc
    result.written = True
    return result
