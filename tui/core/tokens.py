"""Token counts and the cost estimate of a batch, offline.

Counts come from a real BPE tokenizer: ``bpe-openai`` (Rust) whose wheel embeds the
``o200k_base`` and ``cl100k_base`` tables, so nothing is downloaded at run time.
:func:`encoding_for_model` picks the table: ``cl100k_base`` for GPT-3.5, GPT-4 (not
4o/4.1) and the ``text-embedding-*`` models, ``o200k_base`` for everything newer
(gpt-4o, gpt-4.1, gpt-5, the o-series) and for unknown models.

What is counted per endpoint (:func:`request_input_tokens`):

- chat completions: each message's text content, plus :data:`MESSAGE_OVERHEAD`
  tokens per message (role and separators; one more when it has a ``name``) and
  :data:`REPLY_PRIMING` for the assistant's reply. That is OpenAI's published recipe
  for counting chat tokens; the API's own count can differ by a few tokens per
  request (tools, response formats and images are not counted). It is an estimate.
- responses: ``instructions`` plus the text of ``input`` (a string or message items,
  with the same per-message overhead).
- embeddings, moderations: ``input`` (strings, or token-id lists counted by length).
- completions: ``prompt``. Images and videos: ``prompt``.

The worst-case output bound (:func:`output_bound`) is the body's
``max_completion_tokens``, ``max_tokens`` or ``max_output_tokens``; embeddings and
moderations produce none. A request without a limit has no bound: the estimate counts
such requests (``unbounded``) instead of guessing.
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.core.jsonsafe import JsonInputError, loads
from tui.core.models import Usage
from tui.core.pricing import Cost, Price, cost_of, price_for
from tui.core.request_file import open_request_file

__all__ = [
    "CL100K",
    "MESSAGE_OVERHEAD",
    "O200K",
    "REPLY_PRIMING",
    "Estimate",
    "Estimator",
    "count_tokens",
    "counter_for",
    "encoding_for_model",
    "estimate_file",
    "output_bound",
    "request_input_tokens",
]

O200K = "o200k_base"
CL100K = "cl100k_base"
MESSAGE_OVERHEAD = 3
NAME_OVERHEAD = 1
REPLY_PRIMING = 3
_CACHE_LIMIT = 4096  # distinct strings whose counts are remembered (static prompts)

Counter = Callable[[str], int]

_CL100K_PREFIXES = ("gpt-3.5", "gpt-35", "gpt-4-", "text-embedding-", "davinci-002", "babbage-002")
_CL100K_EXACT = frozenset({"gpt-4"})
_NO_OUTPUT = frozenset({"/v1/embeddings", "/v1/moderations"})
_LIMIT_KEYS = ("max_completion_tokens", "max_tokens", "max_output_tokens")


def encoding_for_model(model: str | None) -> str:
    """The tokenizer table a model uses (``o200k_base`` when unknown)."""
    name = (model or "").lower()
    if name in _CL100K_EXACT or name.startswith(_CL100K_PREFIXES):
        return CL100K
    return O200K


@functools.cache
def _bindings() -> Any:
    """bpe-openai's Rust extension, loaded by itself.

    Importing the ``bpe_openai`` package first parses both tables again in Python
    (about 0.7 s and 60 MB, through a deprecated importlib call) for a tiktoken-like
    wrapper batchdeck does not use; the extension alone builds a table in ~0.1 s.
    """
    spec = importlib.util.find_spec("bpe_openai")  # finds the package, runs nothing
    for folder in (spec.submodule_search_locations or []) if spec else []:
        for candidate in sorted(Path(folder).glob("_bindings*")):
            if candidate.suffix not in (".so", ".pyd"):
                continue
            name = "bpe_openai._bindings"
            loader = importlib.machinery.ExtensionFileLoader(name, str(candidate))
            found = importlib.util.spec_from_file_location(name, candidate, loader=loader)
            if found is None:
                continue
            module = importlib.util.module_from_spec(found)
            loader.exec_module(module)
            return module
    with warnings.catch_warnings():  # the slow way, if the layout ever changes
        warnings.simplefilter("ignore", DeprecationWarning)
        from bpe_openai import _bindings

    return _bindings


@functools.cache
def _tokenizer(encoding: str) -> Any:
    return _bindings().tokenizer_for_encoding(encoding)


def counter_for(encoding: str) -> Counter:
    """A function counting the tokens of a string in ``encoding``, remembering the
    counts of the first few thousand distinct strings (repeated static prompts)."""
    count = _tokenizer(encoding).count
    cache: dict[str, int] = {}

    def counted(text: str) -> int:
        found = cache.get(text)
        if found is None:
            found = count(text)
            if len(cache) < _CACHE_LIMIT:
                cache[text] = found
        return found

    return counted


def count_tokens(text: str, model: str | None = None, *, encoding: str | None = None) -> int:
    """Tokens in ``text`` for ``model`` (or the named ``encoding``)."""
    return int(_tokenizer(encoding or encoding_for_model(model)).count(text))


# ---------------------------------------------------------------------------
# Per request


def _content_tokens(content: Any, count: Counter) -> int:
    """Text in a message's content: a string, or parts with ``text``."""
    if isinstance(content, str):
        return count(content)
    total = 0
    if isinstance(content, list):
        for part in content:
            if isinstance(part, Mapping):
                text = part.get("text")
                if isinstance(text, str):
                    total += count(text)
            elif isinstance(part, str):
                total += count(part)
    return total


def _messages_tokens(messages: Any, count: Counter) -> int:
    if not isinstance(messages, list):
        return 0
    total = REPLY_PRIMING
    for message in messages:
        if not isinstance(message, Mapping):
            continue
        total += MESSAGE_OVERHEAD + _content_tokens(message.get("content"), count)
        if message.get("name"):
            total += NAME_OVERHEAD
    return total


def _inputs_tokens(value: Any, count: Counter) -> int:
    """Embeddings / moderations / completions inputs: strings or token-id lists."""
    if isinstance(value, str):
        return count(value)
    if not isinstance(value, list):
        return 0
    if value and all(isinstance(item, int) for item in value):
        return len(value)
    return sum(_inputs_tokens(item, count) for item in value if not isinstance(item, int))


def _responses_tokens(body: Mapping[str, Any], count: Counter) -> int:
    total = 0
    instructions = body.get("instructions")
    if isinstance(instructions, str):
        total += count(instructions)
    value = body.get("input")
    if isinstance(value, str):
        return total + count(value) + REPLY_PRIMING
    if isinstance(value, list):
        total += _messages_tokens(value, count)
    return total


def request_input_tokens(endpoint: str, body: Mapping[str, Any], count: Counter) -> int:
    """Estimated input tokens of one request body (see the module docstring)."""
    if endpoint == "/v1/chat/completions":
        return _messages_tokens(body.get("messages"), count)
    if endpoint == "/v1/responses":
        return _responses_tokens(body, count)
    if endpoint in ("/v1/embeddings", "/v1/moderations"):
        return _inputs_tokens(body.get("input"), count)
    if endpoint == "/v1/completions":
        return _inputs_tokens(body.get("prompt"), count)
    prompt = body.get("prompt")
    return count(prompt) if isinstance(prompt, str) else 0


def output_bound(endpoint: str, body: Mapping[str, Any]) -> int | None:
    """The most output tokens one request may produce; None when unbounded."""
    if endpoint in _NO_OUTPUT:
        return 0
    for key in _LIMIT_KEYS:
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


# ---------------------------------------------------------------------------
# A whole batch


@dataclass(frozen=True, slots=True)
class Estimate:
    """Tokens and cost of a batch before it is sent.

    ``output_tokens_max`` adds up the bounds of the requests that have one;
    ``unbounded`` counts those that have none (their output is not in the total).
    ``price`` is None for a model the price table does not know.
    """

    endpoint: str
    model: str | None
    encoding: str
    requests: int
    input_tokens: int
    output_tokens_max: int
    unbounded: int
    price: Price | None = None

    @property
    def cost(self) -> Cost | None:
        """Worst-case cost: every bounded request writes its whole limit."""
        if self.price is None:
            return None
        usage = Usage(input_tokens=self.input_tokens, output_tokens=self.output_tokens_max)
        return cost_of(usage, self.price)

    @property
    def input_cost(self) -> Cost | None:
        """What the input alone costs (the floor)."""
        if self.price is None:
            return None
        return cost_of(Usage(input_tokens=self.input_tokens), self.price)

    def to_dict(self) -> dict[str, Any]:
        cost, floor = self.cost, self.input_cost
        return {
            "endpoint": self.endpoint,
            "model": self.model,
            "encoding": self.encoding,
            "requests": self.requests,
            "input_tokens": self.input_tokens,
            "output_tokens_max": self.output_tokens_max,
            "unbounded_requests": self.unbounded,
            "cost_usd": None
            if cost is None or floor is None
            else {
                "input_standard": floor.standard,
                "input_batch": floor.batch,
                "max_standard": cost.standard,
                "max_batch": cost.batch,
            },
        }


@dataclass(slots=True)
class Estimator:
    """Adds requests up one body at a time (the compose builder feeds it as it goes)."""

    endpoint: str
    model: str | None = None
    requests: int = 0
    input_tokens: int = 0
    output_tokens_max: int = 0
    unbounded: int = 0
    _counters: dict[str, Counter] = field(default_factory=dict, repr=False)
    _by_model: dict[str | None, Counter] = field(default_factory=dict, repr=False)

    def _counter(self, model: str | None) -> Counter:
        counter = self._by_model.get(model)
        if counter is None:
            encoding = encoding_for_model(model)
            counter = self._counters.get(encoding)
            if counter is None:
                counter = self._counters[encoding] = counter_for(encoding)
            self._by_model[model] = counter
        return counter

    def add(self, body: Mapping[str, Any]) -> int:
        """Count one request body; returns its input tokens."""
        model = body.get("model")
        if self.model is None and isinstance(model, str):
            self.model = model
        count = self._counter(model if isinstance(model, str) else self.model)
        tokens = request_input_tokens(self.endpoint, body, count)
        self.requests += 1
        self.input_tokens += tokens
        bound = output_bound(self.endpoint, body)
        if bound is None:
            self.unbounded += 1
        else:
            self.output_tokens_max += bound
        return tokens

    def add_all(self, bodies: Iterable[Mapping[str, Any]]) -> None:
        for body in bodies:
            self.add(body)

    def result(self, prices: Mapping[str, Price] | None = None) -> Estimate:
        """The totals so far, priced from ``prices`` (the editable table) if given."""
        price = price_for(self.model, dict(prices)) if prices is not None else None
        return Estimate(
            endpoint=self.endpoint,
            model=self.model,
            encoding=encoding_for_model(self.model),
            requests=self.requests,
            input_tokens=self.input_tokens,
            output_tokens_max=self.output_tokens_max,
            unbounded=self.unbounded,
            price=price,
        )


def estimate_file(
    path: str | Path, endpoint: str | None = None, prices: Mapping[str, Price] | None = None
) -> Estimate:
    """Estimate a batch input file line by line (lines that are not requests, or that
    :func:`tui.core.jsonsafe.loads` refuses, are skipped: run
    :func:`tui.core.requests.validate` for those). ``endpoint`` defaults to the first
    line's ``url``. Only a regular file is read
    (:func:`~tui.core.request_file.open_request_file`)."""
    estimator: Estimator | None = None
    with open_request_file(path) as handle:
        for raw in handle:
            try:
                obj = loads(raw)
            except JsonInputError:
                continue
            if not isinstance(obj, dict) or not isinstance(obj.get("body"), dict):
                continue
            if estimator is None:
                url = obj.get("url")
                estimator = Estimator(endpoint or (url if isinstance(url, str) else ""))
            estimator.add(obj["body"])
    if estimator is None:
        estimator = Estimator(endpoint or "")
    return estimator.result(prices)
