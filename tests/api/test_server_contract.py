"""Contract tests: every kind of object the server returns parses with the ``openai``
SDK's own types (strict pydantic validation, not the SDK's lenient construct) and
validates against the JSON schema extract of OpenAI's spec.

The extract is vendored at ``tui/localapi/contracts/openai-batch-schemas.json``; when
``../shared/contracts`` is beside the repo, the copy must be identical.

Null policy: like OpenAI's API, the server *sends* optional fields that have no value
as ``null`` (a batch's unset timestamps, ``errors``, ``output_file_id``,
``metadata``…), it does not omit them. The extract does not mark those properties
nullable, so validation uses it with every optional (non-required) property also
allowing ``null``; required properties must have their declared type. One exception,
as in OpenAI's API: ``ListFilesResponse.first_id``/``last_id`` (required) are null
when the list is empty. A batch list omits ``first_id``/``last_id`` when empty.
"""

from __future__ import annotations

import copy
import http.client
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import openai
import pytest
from openai.types import Batch, FileDeleted, FileObject
from openai.types.chat import ChatCompletion
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.api.conftest import API_KEY, chat_lines, jsonl, raw, upload
from tui.localapi.clock import Timing
from tui.localapi.server import LocalServer

ROOT = Path(__file__).resolve().parents[2]
VENDORED = ROOT / "tui" / "localapi" / "contracts" / "openai-batch-schemas.json"
SHARED = ROOT.parent / "shared" / "contracts" / "openai-batch-schemas.json"


def _nullable_optionals(node: Any) -> Any:
    """The schema with optional properties (and OpenAPI ``nullable``) allowing null."""
    if isinstance(node, list):
        return [_nullable_optionals(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable_optionals(v) for k, v in node.items()}
    if out.pop("nullable", False):
        out = {"anyOf": [out, {"type": "null"}]}
    props = out.get("properties")
    if isinstance(props, dict):
        required = set(out.get("required", ()))
        out["properties"] = {
            name: (sub if name in required else {"anyOf": [sub, {"type": "null"}]})
            for name, sub in props.items()
        }
    return out


_SPEC = json.loads(VENDORED.read_text())
_RELAXED = _nullable_optionals(copy.deepcopy(_SPEC))
_REGISTRY = Registry().with_resource(
    "urn:openai", Resource.from_contents(_RELAXED, default_specification=DRAFT202012)
)


def check(name: str, instance: Any) -> None:
    """Validate ``instance`` against ``#/components/schemas/<name>`` (relaxed as above)."""
    schema = {"$ref": f"urn:openai#/components/schemas/{name}"}
    jsonschema.Draft202012Validator(schema, registry=_REGISTRY).validate(instance)


def test_vendored_schema_matches_shared_copy() -> None:
    if not SHARED.exists():
        pytest.skip("no ../shared/contracts beside the repo")
    assert json.loads(SHARED.read_text()) == _SPEC


def test_relaxation_still_rejects_wrong_types() -> None:
    check("Batch", {**_minimal_batch(), "failed_at": None})
    with pytest.raises(jsonschema.ValidationError):
        check("Batch", {**_minimal_batch(), "status": "paused"})
    with pytest.raises(jsonschema.ValidationError):
        check("Batch", {**_minimal_batch(), "created_at": None})
    with pytest.raises(jsonschema.ValidationError):
        check("Batch", {**_minimal_batch(), "metadata": {"a": 1}})


def _minimal_batch() -> dict[str, Any]:
    return {
        "id": "batch_1",
        "object": "batch",
        "endpoint": "/v1/chat/completions",
        "input_file_id": "file-1",
        "completion_window": "24h",
        "status": "validating",
        "created_at": 1,
    }


# --- batches in every state -----------------------------------------------------------


def make_every_state(
    server: LocalServer, client: openai.OpenAI
) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """One batch in each of the eight states (on a ManualClock server).

    Returns status -> batch id, and status -> the batch's raw JSON while it was in
    that state (by the end, every batch but the expired one has completed).
    """
    good = upload(client, chat_lines(10, fail_every=4))
    bad = upload(client, ["{oops", *chat_lines(2)])
    ids: dict[str, str] = {}

    def create(status: str, timing: Timing, file_id: str = good) -> str:
        server.timing = timing
        batch = client.batches.create(
            input_file_id=file_id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
            metadata={"state": status},
        )
        ids[status] = batch.id
        return batch.id

    create("validating", Timing(validation=1000))
    create("in_progress", Timing(validation=10, per_request=20))
    create("finalizing", Timing(validation=10, per_request=1, finalizing=1000))
    create("completed", Timing(validation=10, per_request=1, finalizing=10))
    create("failed", Timing(validation=10), bad)
    cancelling = create("cancelling", Timing(validation=10, per_request=20, cancelling=1000))
    cancelled = create("cancelled", Timing(validation=10, per_request=20, cancelling=10))
    server.advance(50)
    client.batches.cancel(cancelling)
    client.batches.cancel(cancelled)
    server.advance(50)
    snapshots = {s: raw(server.url, "GET", f"/v1/batches/{i}")[2] for s, i in ids.items()}
    assert {s: b["status"] for s, b in snapshots.items()} == {s: s for s in ids}
    server.timing = Timing(validation=10, per_request=14_400)
    expired = create("expired", server.timing)
    server.advance(86_400)
    snapshots["expired"] = raw(server.url, "GET", f"/v1/batches/{expired}")[2]
    assert snapshots["expired"]["status"] == "expired"
    return ids, snapshots


def test_batches_in_every_state_match_the_contract(
    manual_server: LocalServer, manual_client: openai.OpenAI
) -> None:
    _, snapshots = make_every_state(manual_server, manual_client)
    assert len(snapshots) == 8
    for status, body in snapshots.items():
        check("Batch", body)
        batch = Batch.model_validate(body)
        assert batch.status == status
        assert batch.metadata == {"state": status}
        assert set(body) >= {"request_counts", "usage", "errors", "output_file_id"}
        assert body["object"] == "batch"
    assert snapshots["validating"]["request_counts"] == {"total": 0, "completed": 0, "failed": 0}
    assert snapshots["validating"]["model"] is None
    counts = snapshots["in_progress"]["request_counts"]
    assert counts["total"] == 10 and counts["completed"] + counts["failed"] == 4  # (100-10)//20
    assert snapshots["failed"]["errors"]["data"][0]["code"] == "invalid_json_line"
    assert snapshots["completed"]["usage"]["total_tokens"] > 0


def test_batch_list_matches_the_contract(
    manual_server: LocalServer, manual_client: openai.OpenAI
) -> None:
    make_every_state(manual_server, manual_client)
    code, _, page = raw(manual_server.url, "GET", "/v1/batches?limit=3")
    assert code == 200
    check("ListBatchesResponse", page)
    assert page["object"] == "list" and page["has_more"] is True
    assert page["first_id"] == page["data"][0]["id"] and page["last_id"] == page["data"][-1]["id"]
    for item in page["data"]:
        Batch.model_validate(item)
    code, _, rest = raw(manual_server.url, "GET", f"/v1/batches?limit=100&after={page['last_id']}")
    check("ListBatchesResponse", rest)
    assert rest["has_more"] is False and len(rest["data"]) == 5


def test_empty_lists_match_the_contract(server: LocalServer) -> None:
    _, _, batches = raw(server.url, "GET", "/v1/batches")
    check("ListBatchesResponse", batches)
    assert batches == {"object": "list", "data": [], "has_more": False}
    _, _, files = raw(server.url, "GET", "/v1/files")
    assert files == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }
    check("ListFilesResponse", {**files, "first_id": "", "last_id": ""})  # the one exception


def test_file_objects_match_the_contract(server: LocalServer, client: openai.OpenAI) -> None:
    file_id = upload(client, chat_lines(2))
    _, _, body = raw(server.url, "GET", f"/v1/files/{file_id}")
    check("OpenAIFile", body)
    FileObject.model_validate(body)
    assert body["status"] == "processed" and body["purpose"] == "batch"
    _, _, listing = raw(server.url, "GET", "/v1/files")
    check("ListFilesResponse", listing)
    for item in listing["data"]:
        FileObject.model_validate(item)
    code, _, deleted = raw(server.url, "DELETE", f"/v1/files/{file_id}")
    assert code == 200
    check("DeleteFileResponse", deleted)
    assert FileDeleted.model_validate(deleted).deleted is True


@pytest.mark.parametrize(
    ("method", "path", "body", "key", "status", "sdk_error"),
    [
        ("POST", "/v1/batches", {"input_file_id": "file-x"}, API_KEY, 400, openai.BadRequestError),
        ("GET", "/v1/batches", None, "wrong", 401, openai.AuthenticationError),
        ("GET", "/v1/batches/batch_nope", None, API_KEY, 404, openai.NotFoundError),
        ("GET", "/v1/nowhere", None, API_KEY, 404, openai.NotFoundError),
    ],
)
def test_error_bodies_match_the_contract(
    server: LocalServer,
    method: str,
    path: str,
    body: Any,
    key: str,
    status: int,
    sdk_error: type[openai.APIStatusError],
) -> None:
    code, headers, payload = raw(server.url, method, path, body, key=key)
    assert code == status
    check("ErrorResponse", payload)
    assert set(payload["error"]) == {"message", "type", "param", "code"}
    assert headers["x-request-id"].startswith("req_")
    sdk = openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0)
    with pytest.raises(sdk_error) as caught:
        sdk.get(path.removeprefix("/v1"), cast_to=object) if method == "GET" else sdk.post(
            path.removeprefix("/v1"), cast_to=object, body=body
        )
    assert caught.value.status_code == status


@pytest.mark.parametrize("kind", ["429", "500", "503"])
def test_fault_error_bodies_match_the_contract(server: LocalServer, kind: str) -> None:
    server.faults.add(kind, retry_after=2)
    code, headers, payload = raw(server.url, "GET", "/v1/batches")
    assert code == int(kind)
    check("ErrorResponse", payload)
    assert headers["retry-after"] == "2" and headers["retry-after-ms"] == "2000"
    if kind == "429":
        assert payload["error"]["code"] == "rate_limit_exceeded"
    else:
        assert payload["error"]["type"] == "server_error"


def test_conflict_error_matches_the_contract(server: LocalServer, client: openai.OpenAI) -> None:
    batch = client.batches.create(
        input_file_id=upload(client, ["nope"]),
        endpoint="/v1/chat/completions",
        completion_window="24h",
    )
    server.settle()
    assert client.batches.retrieve(batch.id).status == "failed"
    code, headers, payload = raw(server.url, "POST", f"/v1/batches/{batch.id}/cancel")
    assert code == 409
    check("ErrorResponse", payload)
    assert headers["x-should-retry"] == "false"


def test_output_and_error_lines_match_the_contract(
    manual_server: LocalServer, manual_client: openai.OpenAI
) -> None:
    ids, _ = make_every_state(manual_server, manual_client)
    completed = manual_client.batches.retrieve(ids["completed"])
    assert completed.output_file_id and completed.error_file_id
    outputs = _lines(manual_server, completed.output_file_id)
    errors = _lines(manual_server, completed.error_file_id)
    assert len(outputs) == 8 and len(errors) == 2
    for line in outputs:
        check("BatchRequestOutput", line)
        assert line["id"].startswith("batch_req_") and line["error"] is None
        assert line["response"]["status_code"] == 200
        assert line["response"]["request_id"].startswith("req_")
        ChatCompletion.model_validate(line["response"]["body"])
    for line in errors:
        check("BatchRequestOutput", line)
        assert line["response"]["status_code"] == 500
        check("ErrorResponse", line["response"]["body"])
    for status, code in (("expired", "batch_expired"), ("cancelled", "batch_cancelled")):
        batch = manual_client.batches.retrieve(ids[status])
        assert batch.error_file_id
        unfinished = [
            x for x in _lines(manual_server, batch.error_file_id) if x["response"] is None
        ]
        assert unfinished
        for line in unfinished:
            check("BatchRequestOutput", line)
            assert line["error"]["code"] == code and line["error"]["message"]


def _lines(server: LocalServer, file_id: str) -> list[dict[str, Any]]:
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port)
    conn.request(
        "GET", f"/v1/files/{file_id}/content", headers={"Authorization": f"Bearer {API_KEY}"}
    )
    data = conn.getresponse().read()
    conn.close()
    return [json.loads(x) for x in data.splitlines()]


def test_input_lines_written_by_helpers_match_the_request_schema() -> None:
    for line in chat_lines(3):
        check("BatchRequestInput", line)
    assert jsonl(chat_lines(1)).endswith(b"\n")
