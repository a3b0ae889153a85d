"""Anthropic Message Batches request lines: ``{"custom_id": ..., "params": {...}}``.

A file of these lines (JSONL, one request a line) is what batchdeck composes, checks
and converts for Claude; the API itself takes the same objects inline in the create
call (``{"requests": [...]}``), so there is no upload step. The rules are Anthropic's:

- at most :data:`MAX_REQUESTS` requests and :data:`MAX_BYTES` per batch;
- ``custom_id``: 1 to 64 characters of ``[a-zA-Z0-9_-]``, unique in the batch;
- ``params``: an object with ``model`` (a string), ``max_tokens`` (an integer >= 1,
  required: Anthropic has no default) and ``messages`` (a non-empty array of
  ``user``/``assistant`` messages); ``system`` is a string or text blocks;
  ``stream`` is not allowed in a batch.

:func:`check_file` reports every problem with its file, 1-based line and field;
:func:`estimate_params` adds up tokens for the cost estimate (the offline tokenizer is
OpenAI's, so for Claude it is an estimate) and the price table has Claude's prices.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.core import jsonsafe
from tui.core.errors import BatchdeckError

if TYPE_CHECKING:
    from tui.core.pricing import Price
    from tui.core.tokens import Estimate

ENDPOINT = "/v1/messages"
MAX_REQUESTS = 100_000
MAX_BYTES = 256 * 1024**2
CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
ROLES = ("user", "assistant")
MAX_PROBLEMS = 100


class AnthropicFileError(BatchdeckError):
    """An Anthropic request file cannot be used; the message names file, line and field."""


@dataclass(frozen=True, slots=True)
class LineProblem:
    """One problem: the 1-based ``line`` (None for the whole file), the ``field``
    (``params.max_tokens``) and what is wrong."""

    line: int | None
    field: str
    message: str

    def where(self, path: Path | str) -> str:
        """``FILE:LINE: field: message``."""
        place = f"{path}:{self.line}" if self.line is not None else str(path)
        return f"{place}: {self.field + ': ' if self.field else ''}{self.message}"


@dataclass(slots=True)
class FileCheck:
    """What :func:`check_file` found: the requests that are fine and every problem
    (at most :data:`MAX_PROBLEMS` kept; ``problem_count`` counts them all)."""

    path: Path
    requests: int = 0
    bytes: int = 0
    model: str | None = None
    problems: list[LineProblem] = field(default_factory=list)
    problem_count: int = 0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    def add(self, problem: LineProblem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)


def line_problems(obj: Any, line: int | None, seen: set[str] | None = None) -> list[LineProblem]:
    """What is wrong with one request object (empty when it is fine). ``seen`` collects
    the custom_ids so far, to report a duplicate."""
    if not isinstance(obj, dict):
        return [LineProblem(line, "", "expected a JSON object {custom_id, params}")]
    problems = [
        LineProblem(line, name, "unknown field (a request has only custom_id and params)")
        for name in obj
        if name not in ("custom_id", "params")
    ]
    custom_id = obj.get("custom_id")
    if custom_id is None:
        problems.append(LineProblem(line, "custom_id", "required"))
    elif not isinstance(custom_id, str) or not CUSTOM_ID.match(custom_id):
        problems.append(
            LineProblem(line, "custom_id", "must be 1 to 64 characters of a-z A-Z 0-9 _ -")
        )
    elif seen is not None:
        if custom_id in seen:
            problems.append(LineProblem(line, "custom_id", f"duplicate {custom_id!r}"))
        seen.add(custom_id)
    return problems + params_problems(obj.get("params"), line)


def params_problems(params: Any, line: int | None) -> list[LineProblem]:
    """What is wrong with a request's ``params`` (a Messages API body)."""
    if params is None:
        return [LineProblem(line, "params", "required")]
    if not isinstance(params, dict):
        return [LineProblem(line, "params", "must be an object")]
    problems = []
    model = params.get("model")
    if not isinstance(model, str) or not model.strip():
        problems.append(LineProblem(line, "params.model", "required (a model name)"))
    max_tokens = params.get("max_tokens")
    if max_tokens is None:
        problems.append(LineProblem(line, "params.max_tokens", "required by Anthropic"))
    elif not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        problems.append(LineProblem(line, "params.max_tokens", "must be an integer >= 1"))
    problems += _messages_problems(params.get("messages"), line)
    system = params.get("system")
    if system is not None and not isinstance(system, str | list):
        problems.append(LineProblem(line, "params.system", "must be a string or text blocks"))
    if params.get("stream"):
        problems.append(LineProblem(line, "params.stream", "streaming is not allowed in a batch"))
    return problems


def _messages_problems(messages: Any, line: int | None) -> list[LineProblem]:
    if not isinstance(messages, list) or not messages:
        return [LineProblem(line, "params.messages", "required (a non-empty array)")]
    problems = []
    for index, message in enumerate(messages):
        where = f"params.messages[{index}]"
        if not isinstance(message, dict):
            problems.append(LineProblem(line, where, "must be an object"))
            continue
        if message.get("role") not in ROLES:
            problems.append(LineProblem(line, f"{where}.role", "must be 'user' or 'assistant'"))
        content = message.get("content")
        if not isinstance(content, str | list) or not content:
            problems.append(LineProblem(line, f"{where}.content", "required (text or blocks)"))
    return problems


def iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """``(line number, raw bytes)`` of each line of ``path`` (an OSError names the file)."""
    with open(path, "rb") as handle:
        yield from enumerate(handle, start=1)


def parse_line(raw: bytes, line: int) -> tuple[Any, LineProblem | None]:
    """One JSONL line as data, or the problem that says why it is not."""
    if not raw.strip():
        return None, LineProblem(line, "", "blank line")
    try:
        return jsonsafe.loads(raw), None
    except jsonsafe.JsonInputError as exc:
        return None, LineProblem(line, "", f"not valid JSON ({exc})")


def check_file(path: Path | str) -> FileCheck:
    """Check every line of an Anthropic request file (see the module docstring)."""
    path = Path(path)
    check = FileCheck(path)
    seen: set[str] = set()
    try:
        for line, raw in iter_lines(path):
            check.bytes += len(raw)
            obj, problem = parse_line(raw, line)
            found = [problem] if problem is not None else line_problems(obj, line, seen)
            for each in found:
                check.add(each)
            if problem is None:
                check.requests += 1
                model = obj.get("params", {}).get("model") if isinstance(obj, dict) else None
                if check.model is None and isinstance(model, str):
                    check.model = model
    except OSError as exc:
        raise AnthropicFileError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    if check.requests == 0 and check.problem_count == 0:
        check.add(LineProblem(None, "", "the file has no requests"))
    if check.requests > MAX_REQUESTS:
        check.add(LineProblem(None, "", f"{check.requests:,} requests: at most {MAX_REQUESTS:,}"))
    if check.bytes > MAX_BYTES:
        check.add(LineProblem(None, "", f"{check.bytes:,} bytes: at most 256 MB per batch"))
    return check


def chat_body(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` as a chat-completions body for the token counter: ``system`` becomes
    the first message; ``max_tokens`` is the output bound."""
    messages: list[Any] = []
    system = params.get("system")
    if system is not None:
        messages.append({"role": "system", "content": system})
    found = params.get("messages")
    messages += found if isinstance(found, list) else []
    model, max_tokens = params.get("model"), params.get("max_tokens")
    return {"model": model, "messages": messages, "max_tokens": max_tokens}


def estimate_params(
    params: Iterable[Mapping[str, Any]], prices: Mapping[str, Price] | None = None
) -> Estimate:
    """The :class:`tui.core.tokens.Estimate` of these requests' ``params`` (endpoint
    ``/v1/messages``; ``prices`` is the price table, as for OpenAI files)."""
    from tui.core.tokens import Estimator

    estimator = Estimator("/v1/chat/completions")
    for each in params:
        estimator.add(chat_body(each))
    return dataclasses.replace(estimator.result(prices), endpoint=ENDPOINT)


def read_requests(path: Path | str) -> list[dict[str, Any]]:
    """Every request of a checked file (an :class:`AnthropicFileError` lists the problems)."""
    check = check_file(path)
    if not check.ok:
        shown = "\n".join(p.where(check.path) for p in check.problems[:20])
        more = check.problem_count - min(20, len(check.problems))
        tail = f"\n... and {more} more" if more > 0 else ""
        raise AnthropicFileError(f"{check.path} is not a valid Anthropic batch:\n{shown}{tail}")
    out = []
    for line, raw in iter_lines(Path(path)):
        obj, _ = parse_line(raw, line)
        out.append(obj)
    return out
