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
such requests (``unbounded``) instead of guessing, and then has no upper cost
(:attr:`Estimate.max_cost` is None: "no upper bound").

A whole file (:class:`FileEstimator`, fed by the validator's one parse of each line)
is tokenized in the thread that parses (``bpe-openai`` holds the GIL while it builds
a table and while it counts, so worker threads measured no faster, only larger: each
thread's allocations grow a malloc arena of their own; nor in a forked process: one
that built the table and counted while the parent scanned peaked at 76 MB, as the
build reads 32 MB of the extension's data that can only be given back after it
returns, and with the scanning parent's 25 MB the two together were over 100 MB,
against 90 MB for one process). A big file is estimated
from a random sample of lines (a ratio estimator: tokens per byte of the sampled
lines times the bytes of the others), as many as the spread of the first lines asks
for; the sample grows while the estimated error is not well inside
:data:`SAMPLE_ERROR` and the estimate carries its bound. ``exact=True`` counts all.
"""

from __future__ import annotations

import _thread
import functools
import importlib.machinery
import importlib.util
import math
import os
import random
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.core.jsonsafe import JsonInputError, loads
from tui.core.mapped_pages import releaser
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
    "FileEstimator",
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
_CACHE_CHARS = 256_000  # the first strings' counts are remembered (static prompts)
EXACT_BYTES = 64_000
"""A file's first lines up to this size are always counted in full (the pilot): the
spread of their tokens per byte sets the chance of the lines after (their average size
too). (A file of at most :data:`SAMPLE_BYTES` is never sampled.)"""
SAMPLE_BYTES = 3_000_000
"""A file of at most this size is counted in full; and about this much of a bigger one
is tokenized (~25 ms of CPU a MB) when its pilot has too few lines (under
:data:`_PILOT_LINES`) to show their spread. Otherwise the pilot sets the rate: on the
bench file (``bench/validate.py``, 50,000 lines, 195 MB, pilot of 15 lines with a spread
of 2%; 20 seeds, /tmp/tokens8/eval.py) it samples ~335 lines (max 383, 1.5 MB; from this
budget it was ~770) for a bound of 0.38% (max 0.43%; real error mean 0.11%, max 0.38%)
and never doubles. A file whose lines' tokens per byte vary a lot (embeddings of 1-8
texts, 30-3,000 characters, 15% CJK, half escaped: a spread of ~30%; 60 MB) starts at
a rate of 0.8 and counts 54 MB of 60 on average (bound max 0.28%); from this budget its
rate reached 1 within a few batches, and the lines passed by then left bounds up to 1.1%
(printed with how to count all). One of 200-byte and 20-KB lines (80 MB, some CJK)
starts at 0.28 and counts 70 MB (its big lines have a chance of 1; from this budget:
78 MB), bound max 0.10%."""
SAMPLE_ERROR = 0.01
"""The error a sampled estimate promises (three standard errors stay inside it)."""
_BATCH_BYTES = 128_000  # lines counted at a time
_BATCH_LINES = 16  # or this many lines (so the sample's spread is seen early)
_MIN_SAMPLE = 30  # sampled lines before their spread may raise the rate
_AIM = 1 / 2
"""The rate aims at this share of :data:`SAMPLE_ERROR` (from the pilot, then doubling
while the bound projected to the end is over it). A third cost the bench file twice the
lines (~750 for a bound of 0.25%) for nothing the printed ±1% shows."""
_SAFETY = 2.0  # lines the pilot's spread asks for, times this (a pilot is ~15 lines)
_PILOT_LINES = 10  # fewer lines counted in full: the rate starts from SAMPLE_BYTES

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


# A table is 30-70 MB: never build one twice at once. (threading.Lock is this lock;
# importing threading for it alone cost ~1.4 ms of validate's start.)
_TABLES_LOCK = _thread.allocate_lock()


def _tokenizer(encoding: str) -> Any:
    with _TABLES_LOCK:
        return _built_tokenizer(encoding)


@functools.cache
def _built_tokenizer(encoding: str) -> Any:
    # Building reads ~32 MB of data embedded in the extension, never used again.
    give_back = releaser(_bindings().__file__)
    table = _bindings().tokenizer_for_encoding(encoding)
    give_back()
    return table


def counter_for(encoding: str) -> Counter:
    """A function counting the tokens of a string in ``encoding``, remembering the
    counts of the first strings, up to :data:`_CACHE_CHARS` characters (repeated static
    prompts; bounded by size, as a few thousand long messages held 30 MB)."""
    count = _tokenizer(encoding).count
    cache: dict[str, int] = {}
    room = [_CACHE_CHARS]

    def counted(text: str) -> int:
        found = cache.get(text)
        if found is None:
            found = count(text)
            if len(text) <= room[0]:
                room[0] -= len(text)
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
        if _is_bound(value):
            return value
    return None


def _is_bound(value: object) -> bool:
    """True for a usable output limit: a non-negative integer, not a bool (a plain
    ``int``, as JSON gives, is told quickly)."""
    if type(value) is int:
        return value >= 0
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# ---------------------------------------------------------------------------
# A whole batch


@dataclass(frozen=True, slots=True)
class Estimate:
    """Tokens and cost of a batch before it is sent.

    ``output_tokens_max`` adds up the bounds of the requests that have one;
    ``unbounded`` counts those that have none (their output is not in the total, and
    the cost then has no upper bound). ``price`` is None for a model the price table
    does not know. ``sampled`` is None when every line was tokenized, else the number
    of lines whose text was (the rest estimated from them, within ``error_bound``, a
    fraction of ``input_tokens``).
    """

    endpoint: str
    model: str | None
    encoding: str
    requests: int
    input_tokens: int
    output_tokens_max: int
    unbounded: int
    price: Price | None = None
    sampled: int | None = None
    error_bound: float = 0.0

    @property
    def cost(self) -> Cost | None:
        """Input plus every bounded request writing its whole limit (a true upper bound
        only when nothing is unbounded: see :attr:`max_cost`)."""
        if self.price is None:
            return None
        usage = Usage(input_tokens=self.input_tokens, output_tokens=self.output_tokens_max)
        return cost_of(usage, self.price)

    @property
    def max_cost(self) -> Cost | None:
        """The most the batch can cost; None without a price or when some request has
        no output limit (then there is no upper bound)."""
        return None if self.unbounded else self.cost

    @property
    def input_cost(self) -> Cost | None:
        """What the input alone costs (the floor)."""
        if self.price is None:
            return None
        return cost_of(Usage(input_tokens=self.input_tokens), self.price)

    def sample_note(self, hint: str = "") -> str:
        """How a sampled count was made: ``from a sample of 1,234 lines (±1%)``, with
        ``hint`` (how to count all) added when the error is over the promise; "" when
        every line was counted."""
        if self.sampled is None:
            return ""
        more = f"; {hint}" if hint else ""
        if self.error_bound <= SAMPLE_ERROR:
            bound = f"±{SAMPLE_ERROR:.0%}"
        elif self.error_bound == math.inf:
            bound = f"error unknown: too few lines sampled{more}"
        else:
            bound = f"±{self.error_bound:.1%}{more}"
        return f"from a sample of {self.sampled:,} lines ({bound})"

    def to_dict(self) -> dict[str, Any]:
        """Plain data; ``max_*`` costs are null when there is no upper bound."""
        cost, floor = self.max_cost, self.input_cost
        return {
            "endpoint": self.endpoint,
            "model": self.model,
            "encoding": self.encoding,
            "requests": self.requests,
            "input_tokens": self.input_tokens,
            "input_tokens_sampled_lines": self.sampled,
            "input_tokens_error_bound": self.error_bound,
            "output_tokens_max": self.output_tokens_max,
            "unbounded_requests": self.unbounded,
            "cost_usd": None
            if floor is None
            else {
                "input_standard": floor.standard,
                "input_batch": floor.batch,
                "max_standard": None if cost is None else cost.standard,
                "max_batch": None if cost is None else cost.batch,
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


# A counted line: its texts, the chance it was drawn with (0.0: counted in full), its
# exact tokens (overhead, token ids) and its size in bytes.
_Line = tuple[list[str], float, int, int]


def _count_lines(count: Counter, lines: list[_Line]) -> list[int]:
    """Tokens of each line."""
    return [fixed + sum(count(text) for text in texts) for texts, _, fixed, _ in lines]


class FileEstimator:
    """Estimates a file fed one parsed request at a time (``add``, the validator's hook).

    The file's first :data:`EXACT_BYTES` are counted in full, as is everything with
    ``exact=True``. After that a random sample of lines gives the tokens per byte of
    the rest (a ratio estimator; a line's JSON size is known without looking inside
    it, and tokens per JSON byte vary less between scripts than per character, as
    ``\\u`` escapes and UTF-8 make a CJK character, about one token, several bytes).
    A line is drawn with a chance proportional to its size times ``rate``. The rate
    starts from the pilot (the first lines, counted in full: :meth:`_end_pilot`): with
    a size-weighted spread (coefficient of variation) CV of their tokens per byte, n
    lines drawn give the ratio to a relative standard error of about CV/sqrt(n), so
    the aim (:data:`_AIM` of :data:`SAMPLE_ERROR`, three standard errors) needs
    n = (3 CV / aim)^2 lines, times :data:`_SAFETY`, at least 60; the rate is n over
    n plus the lines left (estimated from the pilot's average size). A pilot of fewer
    than :data:`_PILOT_LINES` lines starts at about :data:`SAMPLE_BYTES` of a file of
    ``size`` bytes instead. Then the rate doubles while the error bound projected to
    the end of the file at the current rate (three standard errors, which shrink as
    the file goes on: :meth:`_projected`) is over the aim, which saves the promise
    when the pilot was not representative (a file sorted short lines first, long CJK
    ones last, started at a rate of 0.009 and doubled four times: bound 0.43%, real
    error at most 0.34% in 20 seeds). Lines are counted
    a batch at a time (the spread is looked at once per batch); memory is one batch of
    text.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        exact: bool = False,
        size: int = 0,
    ) -> None:
        self.endpoint = endpoint or ""
        self.model: str | None = None
        self.exact = exact
        self.rate = 1.0 if exact or size <= SAMPLE_BYTES else SAMPLE_BYTES / size
        self._piloting = self.rate < 1.0  # the first EXACT_BYTES, to set the rate from
        self.requests = self.output_tokens_max = self.unbounded = 0
        self._size = size
        self._rng = random.Random(size)  # the same file gives the same figure
        self._random = self._rng.random
        self._full_tokens = 0  # tokens of the lines counted in full
        self._full_bytes = self._full_lines = 0
        self._full_spread = 0.0  # sum of tokens^2 / bytes over them (_pilot_spread)
        self._seen_bytes = 0
        self._rest_bytes = 0  # bytes of the lines left to the sample
        self._rest_at_rate = 0  # _rest_bytes when the rate last doubled
        self._rest_over_rate = 0.0  # sum of bytes / rate over those (_variance_units)
        self._sampled = 0
        self._sx = self._sy = 0.0  # sample sums weighted 1/chance (bytes, tokens)
        self._vxx = self._vxy = self._vyy = 0.0  # weighted (1-p)/p^2, for the variance
        self._texts: list[str] = []
        self._batch: list[_Line] = []
        self._batch_bytes = 0
        self._count: Counter | None = None

    def _take(self, text: str) -> int:
        self._texts.append(text)
        return 0

    def add(self, url: str | None, body: Mapping[str, Any], size: int) -> None:
        """Count one request: its line's ``url``, ``body`` and size in bytes."""
        if not self.endpoint and url:
            self.endpoint = url
        if self.requests == 0:
            model = body.get("model")
            self.model = model if isinstance(model, str) else None
            self._counter()
        self.requests += 1
        if self.endpoint not in _NO_OUTPUT:  # output_bound, inlined: it runs on every line
            for key in _LIMIT_KEYS:
                value = body.get(key)
                if value is not None and ((type(value) is int and value >= 0) or _is_bound(value)):
                    self.output_tokens_max += value
                    break
            else:
                self.unbounded += 1
        chance = 1.0
        if self.rate < 1.0 and self._seen_bytes >= EXACT_BYTES:
            if self._piloting:
                self._end_pilot()  # may count all from here (rate 1)
            if self.rate < 1.0:
                chance = self.rate * size * self.requests / self._seen_bytes
        self._seen_bytes += size
        if chance < 1.0:
            self._rest_bytes += size
            if self._random() >= chance:
                return  # left to the sample: nothing to look at
        texts = self._texts = []
        fixed = request_input_tokens(self.endpoint, body, self._take)
        self._batch.append((texts, 0.0 if chance >= 1.0 else chance, fixed, size))
        self._batch_bytes += size
        if self._batch_bytes >= _BATCH_BYTES or len(self._batch) >= _BATCH_LINES:
            self._submit()

    def _counter(self) -> Counter:
        if self._count is None:
            # Built here, at the first request, in the caller's thread: the build holds
            # the GIL anyway, and the caller's malloc arena has room a new thread's lacks.
            self._count = counter_for(encoding_for_model(self.model))
        return self._count

    def _submit(self) -> None:
        batch, self._batch, self._batch_bytes = self._batch, [], 0
        if batch:
            self._fold(batch, _count_lines(self._counter(), batch))

    def _fold(self, batch: list[_Line], counted: list[int]) -> None:
        for (_, chance, _, size), tokens in zip(batch, counted, strict=True):
            if not chance:
                self._full_tokens += tokens
                self._full_bytes += size
                self._full_lines += 1
                self._full_spread += tokens * tokens / size if size else 0.0
                continue
            self._sampled += 1
            self._sx += size / chance
            self._sy += tokens / chance
            spread = (1 - chance) / chance**2
            self._vxx += spread * size * size
            self._vxy += spread * size * tokens
            self._vyy += spread * tokens * tokens
        if (
            self._sampled >= _MIN_SAMPLE
            and self.rate < 1.0
            and self._projected() > SAMPLE_ERROR * _AIM
        ):
            self._double_rate()

    def _end_pilot(self) -> None:
        """Set the rate for the rest of the file from the spread of the lines counted in
        full so far (the pilot), or leave the fixed budget's if they are too few."""
        self._piloting = False
        self._submit()
        lines = self._full_lines
        if lines < _PILOT_LINES or not self._full_tokens:
            return
        wanted = _SAFETY * (3 / (SAMPLE_ERROR * _AIM)) ** 2 * self._pilot_spread()
        wanted = max(wanted, 2 * _MIN_SAMPLE)
        rest = (self._size - self._seen_bytes) * lines / self._full_bytes
        self.rate = min(1.0, wanted / (wanted + rest)) if rest > 0 else 1.0

    def _pilot_spread(self) -> float:
        """The squared coefficient of variation of the full lines' tokens per byte,
        weighted by size, around their ratio: n lines drawn with a chance proportional
        to size estimate the ratio to a relative standard error of about sqrt(this / n)."""
        lines, total, tokens = self._full_lines, self._full_bytes, self._full_tokens
        spread = total * self._full_spread / (tokens * tokens) - 1
        return max(spread, 0.0) * lines / (lines - 1)

    def _double_rate(self) -> None:
        self._rest_over_rate = self._variance_units()
        self._rest_at_rate = self._rest_bytes
        self.rate = min(1.0, 2 * self.rate)

    def _variance_units(self) -> float:
        """The variance the lines left to the sample bring, in units where a byte drawn
        at rate 1 brings one: each brings about 1/chance times its residual squared,
        which grows with its size, so a byte brings about 1/rate."""
        return self._rest_over_rate + (self._rest_bytes - self._rest_at_rate) / self.rate

    def _projected(self) -> float:
        """The error bound expected at the end of the file if the rate stays as it is.

        The variance so far grows by 1/rate a byte over the bytes not read yet, at the
        current rate (bytes read before a doubling brought twice as much each), while the
        tokens grow with the bytes. At one rate all along this is the error now times
        sqrt(read / size); after a doubling the rest brings half as much per byte, so the
        projection drops (scaling the error now, drawn at the lower rate, did not, and the
        rate could double at every batch).
        """
        error = self._error()
        unseen = self._size - self._seen_bytes
        if unseen <= 0 or not self._rest_bytes or not math.isfinite(error):
            return error
        now = self._variance_units()
        end = now + unseen / self.rate
        return error * math.sqrt(end / now) * self._seen_bytes / self._size

    def _rest_tokens(self) -> tuple[float, float]:
        """The estimated tokens of the lines left to the sample, and their standard error."""
        if not self._rest_bytes:
            return 0.0, 0.0
        if not self._sx:
            return 0.0, math.inf
        ratio = self._sy / self._sx
        variance = self._vyy - 2 * ratio * self._vxy + ratio * ratio * self._vxx
        scale = self._rest_bytes / self._sx
        return ratio * self._rest_bytes, scale * math.sqrt(max(variance, 0.0))

    def _error(self) -> float:
        """Three standard errors as a fraction of the input tokens estimated so far."""
        if self._sampled < 2 and self._rest_bytes:
            return math.inf
        rest, spread = self._rest_tokens()
        total = self._full_tokens + rest
        return 3 * spread / total if total else 0.0

    def close(self) -> None:
        """Drop the lines not counted yet (an estimate given up; ``result`` counts them)."""
        self._batch, self._batch_bytes = [], 0

    def result(self, prices: Mapping[str, Price] | None = None) -> Estimate:
        """Finish counting; the totals, priced from ``prices`` if given."""
        self._submit()  # the last batch
        rest, _ = self._rest_tokens()
        sampled = self._rest_bytes > 0
        return Estimate(
            endpoint=self.endpoint,
            model=self.model,
            encoding=encoding_for_model(self.model),
            requests=self.requests,
            input_tokens=self._full_tokens + round(rest),
            output_tokens_max=self.output_tokens_max,
            unbounded=self.unbounded,
            price=price_for(self.model, dict(prices)) if prices is not None else None,
            sampled=self._sampled if sampled else None,
            error_bound=self._error() if sampled else 0.0,
        )


def estimate_file(
    path: str | Path,
    endpoint: str | None = None,
    prices: Mapping[str, Price] | None = None,
    *,
    exact: bool = True,
) -> Estimate:
    """Estimate a batch input file line by line (lines that are not requests, or that
    :func:`tui.core.jsonsafe.loads` refuses, are skipped: run
    :func:`tui.core.requests.validate` for those, or pass a :class:`FileEstimator`'s
    ``add`` to it to parse each line once). ``endpoint`` defaults to the first
    line's ``url``. Only a regular file is read
    (:func:`~tui.core.request_file.open_request_file`)."""
    with open_request_file(path) as handle:
        estimator = FileEstimator(endpoint, exact=exact, size=os.fstat(handle.fileno()).st_size)
        try:
            for raw in handle:
                try:
                    obj = loads(raw)
                except JsonInputError:
                    continue
                if isinstance(obj, dict) and isinstance(obj.get("body"), dict):
                    url = obj.get("url")
                    estimator.add(url if isinstance(url, str) else None, obj["body"], len(raw))
            return estimator.result(prices)
        finally:
            estimator.close()
