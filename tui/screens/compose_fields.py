"""The compose screen's fields as a :class:`~tui.core.drafts.Draft`, and back.

Every field that says what the batch is (the Request tab's body, the Source tab, the
Submit tab) is read by its id; the requests added one by one go with them. Writing a
draft back fills the fields it names and leaves the others; a select takes only one
of its own options.
"""

from __future__ import annotations

import contextlib

from textual.dom import DOMNode
from textual.widgets import Checkbox, Input, Select, TextArea
from textual.widgets.select import InvalidSelectValueError

from tui.core.drafts import Draft
from tui.widgets.request_list import RequestList

# In this order when a draft is written back: the endpoint before the model (choosing
# an endpoint offers its default model), the modes before the fields they show.
FIELDS = (
    "body-endpoint",
    "body-mode",
    "body-format",
    "body-model",
    "body-system",
    "body-prompt",
    "body-temperature",
    "body-max-tokens",
    "body-schema",
    "body-extra",
    "body-raw",
    "source-kind",
    "rows-path",
    "id-pattern",
    "jsonl-path",
    "manual-id",
    "output-path",
    "description",
    "metadata",
    "expiry",
    "split",
)


def read_draft(screen: DOMNode) -> Draft:
    """The fields' values now, and the requests in the list."""
    fields: dict[str, str | bool] = {}
    for name in FIELDS:
        widget = screen.query_one(f"#{name}")
        if isinstance(widget, Input):
            fields[name] = widget.value
        elif isinstance(widget, TextArea):
            fields[name] = widget.text
        elif isinstance(widget, Select):
            fields[name] = "" if widget.is_blank() else str(widget.value)
        elif isinstance(widget, Checkbox):
            fields[name] = widget.value
    requests = tuple(screen.query_one(RequestList).requests)
    return Draft(fields, requests)


def write_draft(screen: DOMNode, draft: Draft) -> None:
    """Fill the fields ``draft`` names (the others are left as they are)."""
    for name in FIELDS:
        value = draft.fields.get(name)
        if value is None:
            continue
        widget = screen.query_one(f"#{name}")
        if isinstance(widget, Input) and isinstance(value, str):
            widget.value = value
        elif isinstance(widget, TextArea) and isinstance(value, str):
            widget.text = value
        elif isinstance(widget, Select) and isinstance(value, str):
            with contextlib.suppress(InvalidSelectValueError):  # not one of its options
                widget.value = value
        elif isinstance(widget, Checkbox) and isinstance(value, bool):
            widget.value = value
    screen.query_one(RequestList).set_requests(list(draft.requests))
