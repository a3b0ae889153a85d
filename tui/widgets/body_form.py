"""BodyFormPanel: the endpoint, the model and the request body, as a form or raw JSON.

The form shows only the fields the chosen endpoint uses (:data:`tui.core.bodies.
ENDPOINT_FIELDS`): system prompt and user prompt, temperature, max tokens and a
response format (plain text, JSON object or a JSON schema) for chat and responses;
the input for embeddings and moderations; the prompt for completions, images and
videos. "Extra fields" is a JSON object laid over the built body. In raw mode one
editor holds the whole body, for anything the form does not cover. Strings may hold
``{column}`` placeholders either way.
"""

from __future__ import annotations

import json
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Select, TextArea

from tui.core.bodies import (
    DEFAULT_MODELS,
    ENDPOINT_FIELDS,
    BodyError,
    BodyForm,
    build_body,
    parse_json_object,
)
from tui.core.models import BATCH_ENDPOINTS

MODES = (("Form", "form"), ("Raw JSON body", "raw"))
FORMATS = (("Plain text", "text"), ("JSON object", "json_object"), ("JSON schema", "json_schema"))
PROMPT_LABELS = {
    "/v1/embeddings": "Input to embed ({column} placeholders)",
    "/v1/moderations": "Input to classify ({column} placeholders)",
}
DEFAULT_PROMPT_LABEL = "User prompt ({column} placeholders)"


class BodyFormPanel(Vertical):
    """The request's endpoint, model and body."""

    DEFAULT_CSS = """
    BodyFormPanel, BodyFormPanel #body-fields { height: auto; }
    BodyFormPanel Horizontal { height: auto; }
    BodyFormPanel .field { width: auto; height: auto; }
    BodyFormPanel Label { padding: 1 1 0 1; }
    BodyFormPanel .row-label { padding: 1 1 0 0; width: auto; }
    BodyFormPanel #body-endpoint { width: 30; }
    BodyFormPanel #body-model { width: 1fr; }
    BodyFormPanel #body-mode { width: 24; }
    BodyFormPanel #body-format { width: 22; }
    BodyFormPanel #body-temperature, BodyFormPanel #body-max-tokens { width: 18; }
    BodyFormPanel TextArea { height: 4; }
    BodyFormPanel #body-prompt { height: 5; }
    BodyFormPanel #body-raw { height: 14; }
    BodyFormPanel .-hidden { display: none; }
    """

    def __init__(self, endpoint: str = "/v1/chat/completions", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._initial_endpoint = endpoint

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Select(
                [(e, e) for e in BATCH_ENDPOINTS],
                value=self._initial_endpoint,
                allow_blank=False,
                id="body-endpoint",
            )
            yield Input(
                DEFAULT_MODELS[self._initial_endpoint], placeholder="model", id="body-model"
            )
            yield Select(MODES, value="form", allow_blank=False, id="body-mode")
        with Vertical(id="body-fields"):
            yield Label("System prompt / instructions", id="body-system-label")
            yield TextArea(id="body-system")
            yield Label(DEFAULT_PROMPT_LABEL, id="body-prompt-label")
            yield TextArea(id="body-prompt")
            with Horizontal(id="body-options"):
                with Vertical(classes="field"):
                    yield Label("Temperature")
                    yield Input(placeholder="0-2", id="body-temperature")
                with Vertical(classes="field"):
                    yield Label("Max tokens")
                    yield Input(placeholder="no limit", id="body-max-tokens")
                with Vertical(classes="field", id="body-format-field"):
                    yield Label("Response format")
                    yield Select(FORMATS, value="text", allow_blank=False, id="body-format")
            yield Label("JSON schema of the answer", id="body-schema-label")
            yield TextArea(id="body-schema")
            yield Label("Extra body fields (a JSON object, merged last)", id="body-extra-label")
            yield TextArea(id="body-extra")
        yield TextArea(id="body-raw", classes="-hidden")

    def on_mount(self) -> None:
        self._show_fields()

    # -- values ---------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return str(self.query_one("#body-endpoint", Select).value)

    @property
    def mode(self) -> str:
        return str(self.query_one("#body-mode", Select).value)

    def _text(self, selector: str) -> str:
        return self.query_one(selector, TextArea).text

    def form(self) -> BodyForm:
        """The form's fields, checked; a :class:`BodyError` names the bad one."""
        fields = ENDPOINT_FIELDS[self.endpoint]
        temperature = self.query_one("#body-temperature", Input).value.strip()
        max_tokens = self.query_one("#body-max-tokens", Input).value.strip()
        try:
            temp = float(temperature) if temperature and "temperature" in fields else None
        except ValueError:
            raise BodyError("temperature: a number from 0 to 2") from None
        try:
            limit = int(max_tokens) if max_tokens and "max_tokens" in fields else None
        except ValueError:
            raise BodyError("max tokens: a whole number") from None
        schema: dict[str, Any] | str | None = None
        kind = str(self.query_one("#body-format", Select).value)
        if "schema" in fields and kind == "json_object":
            schema = "json_object"
        elif "schema" in fields and kind == "json_schema":
            schema = parse_json_object(self._text("#body-schema"), "JSON schema")
        extra_text = self._text("#body-extra").strip()
        extra = parse_json_object(extra_text, "extra fields") if extra_text else {}
        return BodyForm(
            model=self.query_one("#body-model", Input).value.strip(),
            prompt=self._text("#body-prompt"),
            system=self._text("#body-system") if "system" in fields else "",
            temperature=temp,
            max_tokens=limit,
            schema=schema,
            extra=extra,
        )

    def body(self) -> dict[str, Any]:
        """The body template (placeholders kept); :class:`BodyError` if it cannot be."""
        if self.mode == "raw":
            body = parse_json_object(self._text("#body-raw"), "raw body")
            if not isinstance(body.get("model"), str) or not body["model"].strip():
                raise BodyError('raw body: needs a "model"')
            return body
        return build_body(self.endpoint, self.form())

    def set_values(
        self,
        *,
        endpoint: str | None = None,
        model: str | None = None,
        system: str | None = None,
        prompt: str | None = None,
        max_tokens: int | None = None,
    ) -> None:
        """Fill fields (for scripts, tests and "edit this request")."""
        if endpoint is not None:
            self.query_one("#body-endpoint", Select).value = endpoint
        if model is not None:
            self.query_one("#body-model", Input).value = model
        if system is not None:
            self.query_one("#body-system", TextArea).text = system
        if prompt is not None:
            self.query_one("#body-prompt", TextArea).text = prompt
        if max_tokens is not None:
            self.query_one("#body-max-tokens", Input).value = str(max_tokens)

    def edit_raw(self, body: dict[str, Any]) -> None:
        """Show ``body`` in the raw editor (raw mode)."""
        self.query_one("#body-raw", TextArea).text = json.dumps(body, indent=2, ensure_ascii=False)
        self.query_one("#body-mode", Select).value = "raw"

    # -- showing the right fields ------------------------------------------------------

    def _show_fields(self) -> None:
        fields = ENDPOINT_FIELDS[self.endpoint]
        raw = self.mode == "raw"
        self.query_one("#body-fields").set_class(raw, "-hidden")
        self.query_one("#body-raw").set_class(not raw, "-hidden")
        for name in ("system", "schema"):
            for part in (f"#body-{name}", f"#body-{name}-label"):
                self.query_one(part).set_class(name not in fields, "-hidden")
        show_options = "temperature" in fields or "max_tokens" in fields
        self.query_one("#body-options").set_class(not show_options, "-hidden")
        self.query_one("#body-format-field").set_class("schema" not in fields, "-hidden")
        kind = self.query_one("#body-format", Select).value
        schema_shown = "schema" in fields and kind == "json_schema"
        for part in ("#body-schema", "#body-schema-label"):
            self.query_one(part).set_class(not schema_shown, "-hidden")
        label = PROMPT_LABELS.get(self.endpoint, DEFAULT_PROMPT_LABEL)
        self.query_one("#body-prompt-label", Label).update(label)

    @on(Select.Changed, "#body-endpoint")
    def _endpoint_changed(self, event: Select.Changed) -> None:
        model = self.query_one("#body-model", Input)
        if not model.value.strip() or model.value in DEFAULT_MODELS.values():
            model.value = DEFAULT_MODELS[str(event.value)]
        self._show_fields()

    @on(Select.Changed, "#body-format")
    def _format_changed(self) -> None:
        self._show_fields()

    @on(Select.Changed, "#body-mode")
    def _mode_changed(self, event: Select.Changed) -> None:
        raw = self.query_one("#body-raw", TextArea)
        if event.value == "raw" and not raw.text.strip():
            try:
                body = build_body(self.endpoint, self.form())
            except BodyError:
                body = {"model": self.query_one("#body-model", Input).value}
            raw.text = json.dumps(body, indent=2, ensure_ascii=False)
        self._show_fields()
