"""The results of an Anthropic message batch, in the local results store.

A message batch has one results JSONL (``{"custom_id", "result": {"type": ...}}``) and
no files. :func:`fetch_anthropic_results` downloads it once and lays it out the way
the results store keeps an OpenAI batch's files, so the results screen, ``batchdeck
results``, export and retry read it unchanged (:mod:`tui.core.results.store`):

- ``anthropic.jsonl``: the results as Anthropic sent them (kept, for fidelity);
- ``output.jsonl``: each ``succeeded`` result as an output line whose body is the
  answer in chat-completions form (text in ``choices[0].message.content``, tool uses
  as ``tool_calls``, ``stop_reason`` as ``finish_reason``, usage as
  ``prompt_tokens``/``completion_tokens``), the message's ``id`` and ``model`` kept;
- ``error.jsonl``: each ``errored`` result with the HTTP status its error type means
  and its ``{"error": {"message", "type"}}`` body; ``canceled`` and ``expired`` ones
  as ``response: null`` with ``batch_cancelled`` / ``batch_expired``, like OpenAI's;
- ``input.jsonl``: the registry job's local request file (``{custom_id, params}``
  lines), when there is one, as ``{custom_id, method, url: "/v1/messages", body}``.

The snapshot in the manifest carries what Anthropic's batch object lacks: the model
and the usage added up from the results, so the inspector can price the batch.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import msgspec

from tui.core import jsonsafe
from tui.core.fsutil import atomic_file, atomic_write
from tui.core.models import Usage

if TYPE_CHECKING:
    from tui.core.anthropic_client import AnthropicBatchClient
    from tui.core.registry import Registry
    from tui.core.results.store import LocalResults

RAW_NAME = "anthropic.jsonl"
ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
}
UNFINISHED = {
    "canceled": ("batch_cancelled", "This request was not run because the batch was canceled."),
    "expired": ("batch_expired", "This request was not run before the batch expired."),
}
_encode = msgspec.json.Encoder()


def chat_body(message: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic ``Message`` as a chat-completions answer body."""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in message.get("content") or ():
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif block.get("type") == "tool_use":
            arguments = json.dumps(block.get("input"), ensure_ascii=False)
            function = {"name": block.get("name"), "arguments": arguments}
            calls.append({"id": block.get("id"), "type": "function", "function": function})
    usage = message.get("usage") if isinstance(message.get("usage"), dict) else {}
    assert isinstance(usage, dict)
    prompt = _int(usage.get("input_tokens")) + _int(usage.get("cache_read_input_tokens"))
    prompt += _int(usage.get("cache_creation_input_tokens"))
    completion = _int(usage.get("output_tokens"))
    reply: dict[str, Any] = {"role": "assistant", "content": "\n".join(texts) if texts else None}
    if calls:
        reply["tool_calls"] = calls
    return {
        "id": message.get("id"),
        "object": "chat.completion",
        "model": message.get("model"),
        "choices": [
            {
                "index": 0,
                "message": reply,
                "finish_reason": FINISH.get(str(message.get("stop_reason")), "stop"),
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": _int(usage.get("cache_read_input_tokens"))},
        },
    }


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def output_line(batch_id: str, line: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``("output" | "error", line)``: one Anthropic result as an OpenAI batch result line."""
    custom_id = str(line.get("custom_id"))
    result = line.get("result") if isinstance(line.get("result"), dict) else {}
    assert isinstance(result, dict)
    kind = result.get("type")
    out: dict[str, Any] = {"id": f"{batch_id}:{custom_id}", "custom_id": custom_id}
    if kind == "succeeded" and isinstance(result.get("message"), dict):
        body = chat_body(result["message"])
        out.update(response={"status_code": 200, "request_id": None, "body": body}, error=None)
        return "output", out
    if kind == "errored":
        outer = result.get("error") if isinstance(result.get("error"), dict) else {}
        assert isinstance(outer, dict)
        inner = outer.get("error") if isinstance(outer.get("error"), dict) else outer
        assert isinstance(inner, dict)
        error_type = str(inner.get("type") or "api_error")
        error = {"message": inner.get("message"), "type": error_type, "param": None, "code": None}
        response = {
            "status_code": ERROR_STATUS.get(error_type, 500),
            "request_id": outer.get("request_id"),
            "body": {"error": error},
        }
        out.update(response=response, error=None)
        return "error", out
    code, message = UNFINISHED.get(str(kind), ("unknown_result", f"Result type {kind!r}."))
    out.update(response=None, error={"code": code, "message": message})
    return "error", out


def split_results(
    raw: Path, output: IO[bytes], error: IO[bytes], batch_id: str
) -> tuple[str | None, Usage]:
    """Write ``raw``'s results as output and error lines; returns the model and usage."""
    model: str | None = None
    tokens = [0, 0, 0]
    with raw.open("rb") as handle:
        for data in handle:
            if not data.strip():
                continue
            line = jsonsafe.loads(data)
            if not isinstance(line, dict):
                continue
            kind, converted = output_line(batch_id, line)
            (output if kind == "output" else error).write(_encode.encode(converted) + b"\n")
            if kind == "output":
                body = converted["response"]["body"]
                model = model or body.get("model")
                usage = body["usage"]
                tokens[0] += usage["prompt_tokens"]
                tokens[1] += usage["completion_tokens"]
                tokens[2] += usage["prompt_tokens_details"]["cached_tokens"]
    usage = Usage(
        input_tokens=tokens[0],
        cached_tokens=tokens[2],
        output_tokens=tokens[1],
        total_tokens=tokens[0] + tokens[1],
    )
    return model, usage


def write_input(source: Path, target: Path) -> bool:
    """The job's ``{custom_id, params}`` file as input lines the index joins (False
    when it is not there or not such a file)."""
    try:
        with source.open("rb") as handle, atomic_file(target, sync=False) as out:
            for data in handle:
                if not data.strip():
                    continue
                line = jsonsafe.loads(data)
                if not isinstance(line, dict) or "params" not in line:
                    raise ValueError("not an Anthropic request line")
                converted = {
                    "custom_id": line.get("custom_id"),
                    "method": "POST",
                    "url": "/v1/messages",
                    "body": line.get("params"),
                }
                out.write(_encode.encode(converted) + b"\n")
    except (OSError, ValueError):
        return False
    return True


async def fetch_anthropic_results(
    client: AnthropicBatchClient, batch_id: str, *, registry: Registry | None = None
) -> LocalResults:
    """Download an ended message batch's results once (see the module docstring)."""
    from dataclasses import replace

    from tui.core import paths
    from tui.core.results.rows import NoResultsError
    from tui.core.results.store import MANIFEST, load_local, results_dir

    local = load_local(batch_id)
    if local is not None:
        return local
    batch = await client.retrieve_batch(batch_id)
    if not batch.is_final:
        raise NoResultsError(f"batch {batch_id} is {batch.status}: its results are not ready yet")
    directory = paths.ensure_private_dir(results_dir(batch_id))
    raw = await client.download_results(batch_id, directory / RAW_NAME)
    job = await asyncio.to_thread(registry.find_by_batch, batch_id) if registry else None
    files: dict[str, dict[str, Any]] = {}
    with (
        atomic_file(directory / "output.jsonl", sync=False) as output,
        atomic_file(directory / "error.jsonl", sync=False) as error,
    ):
        model, usage = await asyncio.to_thread(split_results, raw, output, error, batch_id)
    for kind in ("output", "error"):
        path = directory / f"{kind}.jsonl"
        files[kind] = {"id": None, "path": str(path), "bytes": path.stat().st_size}
    if job is not None and job.input_path:
        target = directory / "input.jsonl"
        if await asyncio.to_thread(write_input, Path(job.input_path), target):
            files["input"] = {"id": None, "path": str(target), "bytes": target.stat().st_size}
    batch = replace(batch, model=model, usage=usage)
    manifest = {"batch": batch.to_dict(), "files": files, "downloaded_at": int(time.time())}
    atomic_write(directory / MANIFEST, json.dumps(manifest, indent=2).encode())
    if registry is not None and job is not None:
        downloads = {**job.downloads, **{kind: entry["path"] for kind, entry in files.items()}}
        await asyncio.to_thread(registry.update, job.job_id, downloads=downloads)
        await asyncio.to_thread(registry.record_snapshot, batch)
    result = load_local(batch_id)
    if result is None:  # pragma: no cover - a file changed under us
        raise NoResultsError(f"the downloaded files of {batch_id} changed while being written")
    return result
