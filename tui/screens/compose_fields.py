"""The compose screen's fields as a :class:`~tui.core.drafts.Draft`, and back; and
the fields the profile's provider decides (the completion windows it offers; what an
Anthropic message batch takes).

Every field that says what the batch is (the Request tab's body, the Source tab, the
Submit tab) is read by its id; the requests added one by one go with them. Writing a
draft back fills the fields it names and leaves the others; a select takes only one
of its own options.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace

from textual.dom import DOMNode
from textual.widgets import Checkbox, Input, Select, TextArea
from textual.widgets.select import InvalidSelectValueError

from tui.core.config import Profile
from tui.core.drafts import Draft
from tui.core.journal import SubmitError
from tui.core.providers import ProviderError
from tui.core.submission import SubmitOptions
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
    "completion-window",
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


def app_profile(screen: DOMNode) -> Profile:
    """The app's current profile (a bare app hosting the screen: OpenAI's defaults)."""
    profile = getattr(screen.app, "profile", None)
    return profile if isinstance(profile, Profile) else Profile("default")


def window_select(profile: Profile) -> Select[str]:
    """The completion windows the profile's provider offers, its default chosen."""
    windows = profile.limits.completion_windows
    return Select(
        [(w, w) for w in windows], value=windows[0], allow_blank=False, id="completion-window"
    )


def provider_checked(screen: DOMNode, options: SubmitOptions) -> SubmitOptions:
    """``options`` with the chosen window, checked against the provider's rules (its
    windows, its output expiry range); :class:`SubmitError` says what is wrong."""
    profile = app_profile(screen)
    limits, name = profile.limits, profile.provider_name
    chosen = screen.query_one("#completion-window", Select)
    window = limits.default_window if chosen.is_blank() else str(chosen.value)
    try:
        limits.check_window(window, name)
        if options.output_expires_after is not None:
            limits.check_expiry(options.output_expires_after, name)
    except ProviderError as exc:
        raise SubmitError(str(exc)) from exc
    return replace(options, completion_window=window)


def anthropic_checked(options: SubmitOptions) -> SubmitOptions:
    """``options`` for an Anthropic message batch: no metadata, expiry or split (one
    inline batch of up to 100,000 requests); :class:`SubmitError` names what was given."""
    given = [
        name
        for name, value in (
            ("metadata", options.metadata),
            ("output expiry", options.output_expires_after),
            ("split", options.split),
        )
        if value
    ]
    if given:
        raise SubmitError(
            f"{', '.join(given)}: not for an Anthropic profile (one inline message batch)"
        )
    return replace(options, completion_window=None)


CLAUDE_MODEL = "claude-haiku-4-5"  # the Request tab's model on an Anthropic profile


def anthropic_defaults(screen: DOMNode) -> None:
    """On an Anthropic profile the Request tab builds chat messages (converted to
    ``params``) for a Claude model; a model the user typed is kept."""
    from tui.core.anthropic_convert import OPENAI_URL
    from tui.core.bodies import DEFAULT_MODELS
    from tui.widgets.body_form import BodyFormPanel

    form = screen.query_one(BodyFormPanel)
    model = screen.query_one("#body-model", Input).value.strip()
    form.set_values(endpoint=OPENAI_URL)
    if not model or model in DEFAULT_MODELS.values():
        form.set_values(model=CLAUDE_MODEL)
