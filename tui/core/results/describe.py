"""Describing one result or request from its decoded JSON.

:func:`describe_result` summarises a result line (outcome, status, tokens, the
answer as text through :func:`answer_text`) for export and for lines the fast
decoder refused; :func:`describe_request` and :func:`describe_response` give what
the detail pane shows of a request and of its answer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import msgspec

from tui.core.results.rows import (
    ANY_DECODER,
    DECODE_ERRORS,
    OUTCOME_LABELS,
    Outcome,
    error_outcome,
)
from tui.core.text import one_line


class ResultInfo(msgspec.Struct, frozen=True, gc=False):
    """Everything about one result line, read from its JSON."""

    outcome: Outcome
    status: int = 0
    error_code: str = ""
    error_message: str = ""
    answer: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    tokens: int = 0
    note: str = ""


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def answer_text(body: Any) -> str:
    """The answer in a success body of any batch endpoint, as text.

    Chat completions: every ``choices[].message.content``; completions:
    ``choices[].text``; responses: ``output[].content[].text`` of ``output_text``
    parts; embeddings: their count and dimensions; moderations: flagged or not and
    why; images: how many; videos: id, status and size.
    """
    if not isinstance(body, dict):
        return ""
    choices = body.get("choices")
    if isinstance(choices, list):
        texts = []
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            message = choice.get("message")
            if isinstance(message, dict):
                refusal = message.get("refusal")
                texts.append(
                    content_text(message.get("content"))
                    or (refusal if isinstance(refusal, str) else "")
                )
            elif isinstance(choice.get("text"), str):
                texts.append(choice["text"])
        return "\n".join(texts)
    output = body.get("output")
    if isinstance(output, list):
        return "\n".join(
            part["text"]
            for item in output
            if isinstance(item, dict) and item.get("type") == "message"
            for part in (item.get("content") or ())
            if isinstance(part, dict)
            and part.get("type") == "output_text"
            and isinstance(part.get("text"), str)
        )
    results = body.get("results")
    if isinstance(results, list):
        return moderation_text(
            [
                (bool(r.get("flagged")), r.get("categories") or {})
                for r in results
                if isinstance(r, dict)
            ]
        )
    data = body.get("data")
    if isinstance(data, list):
        if data and isinstance(data[0], dict) and "embedding" in data[0]:
            return f"{len(data)} embedding(s) of {embedding_dims(data[0])} dimensions"
        size = body.get("size")
        return f"{len(data)} image(s)" + (f", {size}" if isinstance(size, str) else "")
    if body.get("object") == "video":
        parts = [str(body.get(k) or "") for k in ("id", "status", "size")]
        return " ".join(["video", *parts]).strip()
    return ""


def describe_result(value: Any) -> ResultInfo:
    """A decoded output/error line, summarised."""
    if not isinstance(value, dict):
        return ResultInfo(Outcome.INVALID, note="not a JSON object")
    response = value.get("response")
    error = value.get("error")
    if isinstance(response, dict):
        status = _int(response.get("status_code"))
        body = response.get("body")
        usage = body.get("usage") if isinstance(body, dict) else None
        usage = usage if isinstance(usage, dict) else {}
        inp = _int(usage.get("input_tokens")) or _int(usage.get("prompt_tokens"))
        out = _int(usage.get("output_tokens")) or _int(usage.get("completion_tokens"))
        total = _int(usage.get("total_tokens")) or inp + out
        if 200 <= status < 300:
            return ResultInfo(
                Outcome.CUT_OFF if cut_off(body) else Outcome.OK,
                status,
                answer=answer_text(body),
                input_tokens=inp,
                output_tokens=out,
                tokens=total,
            )
        err = body.get("error") if isinstance(body, dict) else None
        err = err if isinstance(err, dict) else {}
        code = err.get("code") or err.get("type") or ""
        return ResultInfo(
            Outcome.HTTP_ERROR,
            status,
            error_code=str(code),
            error_message=str(err.get("message") or ""),
            tokens=total,
        )
    if isinstance(error, dict):
        code = str(error.get("code") or "")
        return ResultInfo(
            error_outcome(code),
            error_code=code,
            error_message=str(error.get("message") or ""),
        )
    return ResultInfo(Outcome.INVALID, note="neither response nor error")


def cut_off(body: Any) -> bool:
    """Whether a success body's answer stopped at the token limit (a choice with
    ``finish_reason`` ``length``, or a response ``incomplete``)."""
    if not isinstance(body, dict):
        return False
    choices = body.get("choices")
    if isinstance(choices, list):
        return any(isinstance(c, dict) and c.get("finish_reason") == "length" for c in choices)
    return isinstance(body.get("output"), list) and body.get("status") == "incomplete"


def content_text(content: Any) -> str:
    """Text of a chat message ``content``: a string or a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
        return "\n".join(parts)
    return ""


def embedding_dims(raw: Any) -> int:
    """Dimensions of one ``data[]`` item of an embeddings answer, from its raw JSON."""
    try:
        item = ANY_DECODER.decode(raw) if isinstance(raw, bytes | msgspec.Raw) else raw
    except DECODE_ERRORS:
        return 0
    vector = item.get("embedding") if isinstance(item, dict) else None
    if isinstance(vector, list):
        return len(vector)
    if isinstance(vector, str):  # base64 of little-endian float32s
        return len(vector) * 3 // 4 // 4
    return 0


def moderation_text(results: Sequence[tuple[bool, dict[str, Any]]]) -> str:
    out = []
    for flagged, categories in results:
        if flagged:
            hits = ", ".join(sorted(k for k, v in categories.items() if v))
            out.append(f"flagged: {hits}" if hits else "flagged")
        else:
            out.append("not flagged")
    return "; ".join(out)


class ResponseView(msgspec.Struct, frozen=True):
    """What the detail pane shows of a result.

    ``markdown`` is model text to render as Markdown (not yet made printable);
    ``lines`` are plain lines (embeddings, errors, images...). Both may be set.
    ``full_chars`` is set when the text was cut to a limit: how long it was.
    """

    title: str
    markdown: str = ""
    lines: tuple[str, ...] = ()
    full_chars: int = 0

    def within(self, limit: int) -> ResponseView:
        """This view with at most ``limit`` characters of text (markdown, then lines)."""
        texts, total = cut_texts((self.markdown, *self.lines), limit)
        if total <= limit:
            return self
        return ResponseView(self.title, texts[0], tuple(texts[1:]), full_chars=total)


def cut_texts(texts: Sequence[str], limit: int) -> tuple[list[str], int]:
    """The start of ``texts``: at most ``limit`` characters in all, the list ending
    with the text that was cut; and how many characters ``texts`` hold in all.

    A huge answer is shown by its start: the pane parses, escapes and renders only
    what it shows (a 10 MB answer would freeze it for seconds)."""
    total = sum(map(len, texts))
    if total <= limit:
        return list(texts), total
    out: list[str] = []
    budget = limit
    for text in texts:
        if budget <= 0:
            break
        out.append(text[:budget])
        budget -= len(out[-1])
    return out, total


def describe_request(request: Any) -> list[tuple[str, str]]:
    """A request line as (heading, text) pairs: each chat message by role, the
    responses ``input``, the prompt or input of other endpoints, then the other
    body fields as compact JSON."""
    if not isinstance(request, dict):
        return [("request", "(not available)")]
    body = request.get("body")
    if not isinstance(body, dict):
        return [("request", json.dumps(request, ensure_ascii=False, indent=2))]
    out: list[tuple[str, str]] = []
    shown = set()
    messages = body.get("messages")
    if isinstance(messages, list):
        shown.add("messages")
        for message in messages:
            if isinstance(message, dict):
                role = str(message.get("role") or "message")
                text = content_text(message.get("content")) or json.dumps(
                    message.get("content"), ensure_ascii=False
                )
                out.append((role, text))
    for name in ("instructions", "input", "prompt"):
        value = body.get(name)
        if value is None:
            continue
        shown.add(name)
        if isinstance(value, str):
            out.append((name, value))
        elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
            for item in value:
                role = str(item.get("role") or item.get("type") or name)
                text = content_text(item.get("content")) or json.dumps(item, ensure_ascii=False)
                out.append((role, text))
        else:
            out.append((name, json.dumps(value, ensure_ascii=False, indent=2)))
    rest = {k: v for k, v in body.items() if k not in shown}
    if rest:
        out.append(("parameters", json.dumps(rest, ensure_ascii=False, indent=2)))
    return out


def describe_response(
    result: Any, *, vector_preview: int = 8, limit: int | None = None
) -> ResponseView:
    """The answer of a result line for the detail pane (see :class:`ResponseView`),
    its text cut to ``limit`` characters if one is given."""
    view = _response_view(result, vector_preview)
    return view if limit is None else view.within(limit)


def _response_view(result: Any, vector_preview: int) -> ResponseView:
    if not isinstance(result, dict):
        return ResponseView("not a valid result line")
    info = describe_result(result)
    if info.outcome in (Outcome.NOT_RUN_CANCELLED, Outcome.NOT_RUN_EXPIRED):
        return ResponseView(
            OUTCOME_LABELS[info.outcome],
            lines=(f"code: {info.error_code}", f"message: {info.error_message}"),
        )
    if info.outcome is Outcome.REQUEST_ERROR:
        return ResponseView(
            f"request error: {info.error_code or 'unknown'}",
            lines=(f"code: {info.error_code}", f"message: {info.error_message}"),
        )
    body = (result.get("response") or {}).get("body")
    if info.outcome is Outcome.HTTP_ERROR:
        err = body.get("error") if isinstance(body, dict) else None
        err = err if isinstance(err, dict) else {}
        lines = [f"status: {info.status}"]
        for key in ("code", "type", "param", "message"):
            if err.get(key) is not None:
                lines.append(f"{key}: {err[key]}")
        return ResponseView(f"HTTP {info.status}: {info.error_code or 'error'}", lines=tuple(lines))
    if info.outcome is Outcome.INVALID:
        return ResponseView(info.note or "invalid result line")
    tokens = f"{info.input_tokens} in / {info.output_tokens} out / {info.tokens} tokens"
    if info.outcome is Outcome.CUT_OFF:
        tokens += " · cut off by the token limit"
    if not isinstance(body, dict):
        return ResponseView(f"ok {info.status}", lines=("(no body)",))
    data = body.get("data")
    if isinstance(data, list) and data and isinstance(data[0], dict) and "embedding" in data[0]:
        lines = []
        for item in data:
            vector = item.get("embedding") if isinstance(item, dict) else None
            dims = embedding_dims(item)
            if isinstance(vector, list):
                head = ", ".join(
                    f"{x:.4f}" if isinstance(x, float) else str(x) for x in vector[:vector_preview]
                )
                more = ", …" if len(vector) > vector_preview else ""
                lines.append(f"[{item.get('index', len(lines))}] {dims} dimensions: [{head}{more}]")
            else:
                lines.append(f"[{item.get('index', len(lines))}] {dims} dimensions (base64)")
        return ResponseView(f"ok · embeddings · {tokens}", lines=tuple(lines))
    if "choices" in body or "output" in body:
        return ResponseView(f"ok · {body.get('model') or ''} · {tokens}", markdown=info.answer)
    if isinstance(data, list):  # images
        lines = [info.answer]
        for n, item in enumerate(data):
            if not isinstance(item, dict):
                continue
            if isinstance(item.get("b64_json"), str):
                lines.append(f"image {n + 1}: base64, {len(item['b64_json']) * 3 // 4} bytes")
            elif isinstance(item.get("url"), str):
                lines.append(f"image {n + 1}: {one_line(item['url'], 100)}")
            if isinstance(item.get("revised_prompt"), str):
                lines.append(f"  revised prompt: {item['revised_prompt']}")
        return ResponseView(f"ok · images · {tokens}", lines=tuple(lines))
    if isinstance(body.get("results"), list):  # moderations
        lines = [info.answer]
        for result_item in body["results"]:
            scores = result_item.get("category_scores") if isinstance(result_item, dict) else None
            if isinstance(scores, dict):
                top = sorted(scores.items(), key=lambda kv: -float(kv[1] or 0))[:3]
                lines.append("top scores: " + ", ".join(f"{k} {v:.3f}" for k, v in top))
        return ResponseView("ok · moderation", lines=tuple(lines))
    return ResponseView(f"ok · {body.get('object') or 'result'}", lines=(info.answer,))
