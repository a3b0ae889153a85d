"""The enqueued-token limit, as OpenAI enforces it per organization and model.

A batch's input tokens are *enqueued* from the moment it passes validation until it
is final (``in_progress``, ``finalizing`` and ``cancelling`` hold them; ``completed``,
``failed``, ``expired`` and ``cancelled`` free them). When a batch of a model with a
limit passes validation, its input tokens plus those enqueued by the model's other
batches must fit the limit, or the batch is ``failed`` with one ``errors.data`` entry
of code ``token_limit_exceeded`` (:func:`limit_error`, worded like the real API's).

Tokens are counted with the client's estimator (:class:`tui.core.tokens.FileEstimator`,
exact), so a client that adds up its own estimates sees the same figures. Each
counted batch keeps its count in its record (``_input_tokens``), which survives a
restart; batches validated while no limit was set were not counted and hold none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

ORGANIZATION = "org-batchdeck-local"
ENQUEUED_STATUSES = frozenset({"in_progress", "finalizing", "cancelling"})
CODE = "token_limit_exceeded"


def parse_token_limit(spec: str) -> tuple[str, int]:
    """``MODEL=TOKENS`` (``gpt-4o-mini=2000000``; ``_`` or ``,`` may group digits)."""
    model, sep, amount = spec.partition("=")
    model, amount = model.strip(), amount.strip().replace("_", "").replace(",", "")
    if not sep or not model:
        raise ValueError(f"token limit {spec!r}: expected MODEL=TOKENS, e.g. gpt-4o-mini=2000000")
    if not amount.isdigit() or int(amount) <= 0:
        raise ValueError(
            f"token limit {spec!r}: TOKENS must be a whole number above 0, e.g. {model}=2000000"
        )
    return model, int(amount)


def checked_limits(limits: Mapping[str, int] | None) -> dict[str, int]:
    """A copy of ``limits`` (model -> tokens); ValueError names a bad entry."""
    checked: dict[str, int] = {}
    for model, tokens in (limits or {}).items():
        if not isinstance(model, str) or not model:
            raise ValueError(f"token limit for {model!r}: the model must be a non-empty name")
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens <= 0:
            raise ValueError(f"token limit for {model}: {tokens!r} is not a whole number above 0")
        checked[model] = tokens
    return checked


def enqueued_tokens(records: Iterable[Mapping[str, Any]], model: str) -> int:
    """The input tokens the ``model``'s unfinished, validated batches hold."""
    return sum(
        int(record.get("_input_tokens") or 0)
        for record in records
        if record.get("model") == model and record.get("status") in ENQUEUED_STATUSES
    )


def limit_error(model: str, limit: int) -> dict[str, Any]:
    """The ``errors.data`` entry of a batch over the limit, as the API words it."""
    return {
        "code": CODE,
        "message": (
            f"Enqueued token limit reached for {model} in organization {ORGANIZATION}. "
            f"Limit: {limit:,} enqueued tokens. Please try again once some in_progress "
            "batches have been completed."
        ),
        "param": None,
        "line": None,
    }


__all__ = [
    "CODE",
    "ENQUEUED_STATUSES",
    "ORGANIZATION",
    "checked_limits",
    "enqueued_tokens",
    "limit_error",
    "parse_token_limit",
]
