"""Fast decoding of result and input lines: only the fields the index keeps.

msgspec structs that skip the answer text (``msgspec.Raw``): a row keeps its first
bytes (:data:`~tui.core.results.rows.SNIPPET_BYTES`) for the preview. A line whose
shape the structs refuse is read as plain JSON instead.

:mod:`~tui.core.results.describe` is imported only for an odd line or answer (an
index of plain answers does not load it).
"""

from __future__ import annotations

import msgspec

from tui.core.results.rows import (
    ANSWERED,
    ANY_DECODER,
    DECODE_ERRORS,
    SNIPPET_BYTES,
    Outcome,
    ResultRow,
    error_outcome,
)


class _Message(msgspec.Struct, gc=False):
    content: msgspec.Raw = msgspec.Raw()  # the answer stays undecoded: only its start is read
    refusal: str | None = None


class _Choice(msgspec.Struct, gc=False):
    message: _Message | None = None
    text: msgspec.Raw = msgspec.Raw()
    finish_reason: str | None = None


class _Part(msgspec.Struct, gc=False):
    type: str = ""
    text: msgspec.Raw = msgspec.Raw()


class _OutputItem(msgspec.Struct, gc=False):
    type: str = ""
    content: list[_Part] | None = None


class _Usage(msgspec.Struct, gc=False):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


class _ApiError(msgspec.Struct, gc=False):
    message: str | None = None
    type: str | None = None
    code: str | None = None


class _Moderation(msgspec.Struct, gc=False):
    flagged: bool = False
    categories: dict[str, bool] | None = None


class _Body(msgspec.Struct, gc=False):
    object: str | None = None
    id: str | None = None
    status: str | None = None
    choices: list[_Choice] | None = None
    output: list[_OutputItem] | None = None
    data: list[msgspec.Raw] | None = None
    results: list[_Moderation] | None = None
    usage: _Usage | None = None
    error: _ApiError | None = None
    seconds: str | None = None
    size: str | None = None


class _Response(msgspec.Struct, gc=False):
    status_code: int = 0
    body: _Body | None = None


class _LineError(msgspec.Struct, gc=False):
    code: str | None = None
    message: str | None = None


class _ResultLine(msgspec.Struct, gc=False):
    custom_id: str | None = None
    response: _Response | None = None
    error: _LineError | None = None


class _Finish(msgspec.Struct, gc=False):
    finish_reason: str | None = None


class _IndexBody(msgspec.Struct, gc=False):
    """What the index reads of a body: no answer text (10% faster than :class:`_Body`)."""

    status: str | None = None
    choices: list[_Finish] | None = None
    output: list[msgspec.Raw] | None = None
    usage: _Usage | None = None
    error: _ApiError | None = None


class _IndexResponse(msgspec.Struct, gc=False):
    status_code: int = 0
    body: _IndexBody | None = None


class IndexLine(msgspec.Struct, gc=False):
    custom_id: str | None = None
    response: _IndexResponse | None = None
    error: _LineError | None = None


class InputLine(msgspec.Struct, gc=False):
    custom_id: str | None = None


RESULT_DECODER = msgspec.json.Decoder(_ResultLine)
INDEX_DECODER = msgspec.json.Decoder(IndexLine)
INPUT_DECODER = msgspec.json.Decoder(InputLine)


def _snippet(raw: msgspec.Raw) -> bytes | str:
    """The start of a raw JSON value kept for the preview: a string's first bytes as
    they are (decoded only when shown), anything else decoded to text now."""
    head = memoryview(raw)[:SNIPPET_BYTES].tobytes()
    if head[:1] == b'"':  # a string: the common case, once per row
        return head
    if not head or head == b"null":
        return ""
    from tui.core.results.describe import content_text

    try:
        return content_text(ANY_DECODER.decode(raw))
    except DECODE_ERRORS:
        return ""


def _fast_snippet(body: _Body) -> bytes | str:
    """The preview of a decoded success body (see :func:`answer_text`)."""
    if body.choices is not None:
        for choice in body.choices:
            message = choice.message
            if message is not None:
                found = _snippet(message.content) or message.refusal or ""
            else:
                found = _snippet(choice.text)
            if found:
                return found
        return ""
    if body.output is not None:
        for item in body.output:
            if item.type == "message" and item.content:
                for part in item.content:
                    if part.type == "output_text":
                        return _snippet(part.text)
        return ""
    from tui.core.results.describe import embedding_dims, moderation_text

    if body.results is not None:
        return moderation_text([(r.flagged, r.categories or {}) for r in body.results])
    if body.data is not None:
        if body.object == "list" or (body.data and b'"embedding"' in bytes(body.data[0])):
            dims = embedding_dims(bytes(body.data[0])) if body.data else 0
            return f"{len(body.data)} embedding(s) of {dims} dimensions"
        return f"{len(body.data)} image(s)" + (f", {body.size}" if body.size else "")
    if body.object == "video":
        return f"video {body.id or ''} {body.status or ''} {body.size or ''}".strip()
    return ""


def parse_result_line(raw: bytes | memoryview) -> ResultRow:
    """One line of an output or error file as a row (without its position)."""
    try:
        line = RESULT_DECODER.decode(raw)
    except msgspec.ValidationError:
        return _parse_result_slow(raw)
    except msgspec.DecodeError:
        return ResultRow("", Outcome.INVALID, note="not valid JSON")
    return row_from_struct(line)


_OK = Outcome.OK  # looked up once: reading an enum member costs ~70 ns in Python 3.11
_CUT_OFF = Outcome.CUT_OFF


Facts = tuple[str, Outcome, int, str, int, int, int, str]
"""What the index keeps of a result line: custom_id, outcome, status, error code,
input, output and total tokens, note (the answer's start is read again when shown)."""


def facts_of(line: _ResultLine | IndexLine) -> Facts:
    """The :data:`Facts` of a decoded line; once per line of a big output, so written
    out in one function (each call saved is ~5% of the index's time)."""
    custom_id = line.custom_id
    if custom_id is None:
        return "", Outcome.INVALID, 0, "", 0, 0, 0, "no custom_id"
    response = line.response
    if response is not None:
        body = response.body
        status = response.status_code
        usage = body.usage if body is not None else None
        if usage is not None:
            inp = usage.input_tokens or usage.prompt_tokens
            out = usage.output_tokens or usage.completion_tokens
            total = usage.total_tokens or inp + out
        else:
            inp = out = total = 0
        if 200 <= status < 300:
            # Cut off at the token limit: a choice with finish_reason "length", or a
            # response "incomplete" (max_output_tokens). A plain loop, not any(): 3x cheaper.
            outcome = _OK
            if body is not None:
                choices = body.choices
                if choices is not None:
                    for choice in choices:
                        if choice.finish_reason == "length":
                            outcome = _CUT_OFF
                            break
                elif body.output is not None and body.status == "incomplete":
                    outcome = _CUT_OFF
            return custom_id, outcome, status, "", inp, out, total, ""
        err = body.error if body is not None else None
        code = (err.code or err.type or "") if err else ""
        return custom_id, Outcome.HTTP_ERROR, status, code, 0, 0, total, ""
    if line.error is not None:
        error_code = line.error.code
        return custom_id, error_outcome(error_code), 0, error_code or "", 0, 0, 0, ""
    return custom_id, Outcome.INVALID, 0, "", 0, 0, 0, "neither response nor error"


def facts_of_row(row: ResultRow) -> Facts:
    """The :data:`Facts` of a row parsed on its own (an odd line)."""
    return (
        row.custom_id,
        row.outcome,
        row.status,
        row.error_code,
        row.input_tokens,
        row.output_tokens,
        row.tokens,
        row.note,
    )


def facts_or_blank(raw: bytes | int) -> Facts | None:
    """The facts of a result line read on its own (its length: a line too long to
    hold); None for a blank line."""
    if isinstance(raw, int):
        return "", Outcome.INVALID, 0, "", 0, 0, 0, f"line of {raw} bytes, too long"
    if not raw.strip():
        return None
    return facts_of_row(parse_result_line(raw))


def row_from_struct(line: _ResultLine) -> ResultRow:
    custom_id, outcome, status, code, inp, out, total, note = facts_of(line)
    snippet: bytes | str = ""
    response = line.response
    if outcome in ANSWERED and response is not None and response.body is not None:
        snippet = _fast_snippet(response.body)
    elif outcome is Outcome.HTTP_ERROR and response is not None and response.body is not None:
        err = response.body.error
        snippet = ((err.message or "") if err else "")[:SNIPPET_BYTES]
    elif outcome is not Outcome.INVALID and line.error is not None:
        snippet = (line.error.message or "")[:SNIPPET_BYTES]
    return ResultRow(custom_id, outcome, status, code, inp, out, total, snippet, note=note)


def _parse_result_slow(raw: bytes | memoryview) -> ResultRow:
    """A line whose shape the fast decoder refused: read it as plain JSON."""
    from tui.core.results.describe import describe_result

    try:
        value = ANY_DECODER.decode(raw)
    except DECODE_ERRORS:
        return ResultRow("", Outcome.INVALID, note="not valid JSON")
    if not isinstance(value, dict):
        return ResultRow("", Outcome.INVALID, note="not a JSON object")
    custom_id = value.get("custom_id")
    if not isinstance(custom_id, str):
        return ResultRow("", Outcome.INVALID, note="no custom_id")
    info = describe_result(value)
    return ResultRow(
        custom_id,
        info.outcome,
        status=info.status,
        error_code=info.error_code,
        input_tokens=info.input_tokens,
        output_tokens=info.output_tokens,
        tokens=info.tokens,
        snippet=(info.answer if info.outcome in ANSWERED else info.error_message)[:SNIPPET_BYTES],
        note=info.note,
    )
