"""The HTTP surface: files routes and their parameters, auth, refusals with the real
API's status codes, unknown routes, and the content route streaming bytes as stored."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.api.conftest import API_KEY, MakeServer, chat_lines, jsonl, make_client, raw, upload
from tui.localapi.server import LocalServer, is_loopback


def _create(server: LocalServer, **body: Any) -> tuple[int, dict[str, Any]]:
    code, _, payload = raw(server.url, "POST", "/v1/batches", body)
    return code, payload


@pytest.fixture
def input_id(client: openai.OpenAI) -> str:
    return upload(client, chat_lines(2))


GOOD = {"endpoint": "/v1/chat/completions", "completion_window": "24h"}


@pytest.mark.parametrize(
    ("change", "status", "param"),
    [
        ({"completion_window": "48h"}, 400, "completion_window"),
        ({"endpoint": "/v1/audio/speech"}, 400, "endpoint"),
        ({"endpoint": None}, 400, "endpoint"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, 400, "metadata"),
        ({"metadata": {"k" * 65: "v"}}, 400, "metadata"),
        ({"metadata": {"k": "v" * 513}}, 400, "metadata.k"),
        ({"metadata": {"k": 1}}, 400, "metadata.k"),
        ({"metadata": ["k"]}, 400, "metadata"),
        ({"output_expires_after": {"anchor": "created_at", "seconds": 3599}}, 400, None),
        ({"output_expires_after": {"anchor": "created_at", "seconds": 2_592_001}}, 400, None),
        ({"output_expires_after": {"anchor": "completed_at", "seconds": 3600}}, 400, None),
        ({"priority": "high"}, 400, "priority"),
    ],
)
def test_batch_create_refuses_what_the_api_refuses(
    server: LocalServer, input_id: str, change: dict[str, Any], status: int, param: str | None
) -> None:
    code, payload = _create(server, **{**GOOD, "input_file_id": input_id, **change})
    assert code == status, payload
    assert payload["error"]["type"] == "invalid_request_error"
    if param is not None:
        assert payload["error"]["param"] == param
    else:
        assert payload["error"]["param"].startswith("output_expires_after")
    _, _, listing = raw(server.url, "GET", "/v1/batches")
    assert listing["data"] == []


def test_batch_create_accepts_the_limits(server: LocalServer, input_id: str) -> None:
    metadata = {f"{i:02d}" + "k" * 62: "v" * 512 for i in range(16)}
    code, payload = _create(
        server,
        **GOOD,
        input_file_id=input_id,
        metadata=metadata,
        output_expires_after={"anchor": "created_at", "seconds": 3600},
    )
    assert code == 200, payload
    assert payload["metadata"] == metadata


def test_batch_create_needs_a_known_batch_file(server: LocalServer, client: openai.OpenAI) -> None:
    code, payload = _create(server, **GOOD, input_file_id="file-missing")
    assert code == 404 and payload["error"]["param"] == "input_file_id"
    other = client.files.create(file=("notes.jsonl", jsonl(chat_lines(1))), purpose="user_data")
    code, payload = _create(server, **GOOD, input_file_id=other.id)
    assert code == 400 and "purpose 'batch'" in payload["error"]["message"]
    code, payload = _create(server, endpoint="/v1/chat/completions", input_file_id=other.id)
    assert code == 400 and payload["error"]["code"] == "missing_required_parameter"
    code, _, payload = raw(server.url, "POST", "/v1/batches", b"{broken", key=API_KEY)
    assert code == 400 and "JSON body" in payload["error"]["message"]


def test_the_sdk_raises_bad_request_for_refusals(client: openai.OpenAI, input_id: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.batches.create(
            input_file_id=input_id,
            endpoint="/v1/chat/completions",
            completion_window="48h",  # type: ignore[arg-type]
        )
    assert caught.value.param == "completion_window" and caught.value.code == "invalid_value"
    with pytest.raises(openai.NotFoundError):
        client.batches.create(
            input_file_id="file-nope", endpoint="/v1/embeddings", completion_window="24h"
        )


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=x", "limit"),
        ("after=batch_no", "after"),
    ],
)
def test_batch_list_refuses_bad_parameters(server: LocalServer, query: str, param: str) -> None:
    code, _, payload = raw(server.url, "GET", f"/v1/batches?{query}")
    assert code == 400 and payload["error"]["param"] == param


def test_file_list_parameters(server: LocalServer, client: openai.OpenAI) -> None:
    ids = [upload(client, chat_lines(1), name=f"f{i}.jsonl") for i in range(5)]
    notes = client.files.create(file=("notes.txt", b"hello"), purpose="user_data")
    assert notes.expires_at is None
    newest_first = [f.id for f in client.files.list()]
    assert newest_first == [notes.id, *reversed(ids)]
    assert [f.id for f in client.files.list(order="asc")] == [*ids, notes.id]
    assert [f.id for f in client.files.list(purpose="batch")] == list(reversed(ids))
    page = client.files.list(limit=2, order="asc")
    assert [f.id for f in page.data] == ids[:2] and page.has_more
    assert [f.id for f in page.iter_pages().__next__().data] == ids[:2]
    assert [f.id for f in client.files.list(limit=2, order="asc")] == [*ids, notes.id]
    code, _, payload = raw(server.url, "GET", "/v1/files?limit=10001")
    assert code == 400 and payload["error"]["param"] == "limit"
    code, _, payload = raw(server.url, "GET", "/v1/files?order=up")
    assert code == 400 and payload["error"]["param"] == "order"


def test_upload_refusals(server: LocalServer, client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.files.create(file=("x.jsonl", b"{}"), purpose="batch_output")  # type: ignore[arg-type]
    assert caught.value.param == "purpose"
    code, _, _ = raw(server.url, "POST", "/v1/files", {"purpose": "batch"}, key=API_KEY)
    assert code == 400
    bad_form = b'--x\r\nContent-Disposition: form-data; name="file"; filename="\x1b"\r\n\r\n'
    code, _, payload = raw(
        server.url,
        "POST",
        "/v1/files",
        bad_form,
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert code == 400 and payload["error"]["code"] == "invalid_form"
    with pytest.raises(openai.BadRequestError) as caught:
        client.files.create(
            file=("x.jsonl", b"{}"),
            purpose="batch",
            expires_after={"anchor": "created_at", "seconds": 60},
        )
    assert caught.value.param == "expires_after.seconds"
    made = client.files.create(
        file=("x.jsonl", b"{}"),
        purpose="user_data",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    assert made.expires_at == made.created_at + 3600


def test_file_retrieve_delete_and_content(server: LocalServer, client: openai.OpenAI) -> None:
    data = jsonl(chat_lines(300))
    made = client.files.create(file=("input.jsonl", data), purpose="batch")
    assert made.bytes == len(data) and made.filename == "input.jsonl"
    assert client.files.retrieve(made.id) == made
    assert client.files.content(made.id).content == data
    with client.files.with_streaming_response.content(made.id) as response:
        assert b"".join(response.iter_bytes(4096)) == data
    deleted = client.files.delete(made.id)
    assert deleted.deleted and deleted.id == made.id
    for call in (client.files.retrieve, client.files.delete, client.files.content):
        with pytest.raises(openai.NotFoundError):
            call(made.id)


def test_content_supports_ranges(server: LocalServer, client: openai.OpenAI) -> None:
    file_id = upload(client, chat_lines(5))
    code, headers, body = raw(
        server.url, "GET", f"/v1/files/{file_id}/content", headers={"Range": "bytes=0-9"}
    )
    assert code == 206 and headers["content-range"].startswith("bytes 0-9/")
    assert body == b'{"custom_i'


def test_a_key_is_required_when_set(server: LocalServer) -> None:
    for key in (None, "wrong", ""):
        code, _, payload = raw(server.url, "GET", "/v1/batches", key=key)
        assert code == 401 and payload["error"]["code"] == "invalid_api_key"
    code, _, _ = raw(
        server.url, "GET", "/v1/batches", key=None, headers={"Authorization": "Basic x"}
    )
    assert code == 401
    with make_client(server, api_key="nope") as wrong, pytest.raises(openai.AuthenticationError):
        wrong.batches.list()


def test_the_key_is_read_as_http_allows_it_spelt(server: LocalServer) -> None:
    for spelt in (f"bearer {API_KEY}", f"BEARER {API_KEY}", f"Bearer  {API_KEY} "):
        code, _, payload = raw(
            server.url, "GET", "/v1/batches", key=None, headers={"Authorization": spelt}
        )
        assert code == 200 and payload["object"] == "list", spelt
    code, _, _ = raw(
        server.url, "GET", "/v1/batches", key=None, headers={"Authorization": f"Bearer {API_KEY}x"}
    )
    assert code == 401


def test_no_key_means_any_key(make_server: MakeServer) -> None:
    open_server = make_server(api_key=None)
    code, _, payload = raw(open_server.url, "GET", "/v1/batches", key=None)
    assert code == 200 and payload["object"] == "list"


def test_unknown_routes_are_openai_404s(server: LocalServer) -> None:
    for method, path in (("GET", "/v1/models/x"), ("PUT", "/v1/batches"), ("GET", "/")):
        code, headers, payload = raw(server.url, method, path)
        assert code == 404 and payload["error"]["message"] == f"Invalid URL ({method} {path})"
        assert payload["error"]["code"] == "unknown_url" and headers["x-request-id"].startswith(
            "req_"
        )
    code, _, payload = raw(server.url, "GET", "/v1/models/x", key="wrong")
    assert code == 401  # the key is checked first, as for any URL


def test_binds_loopback_by_default(server: LocalServer) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")


def test_untrusted_text_is_just_data(server: LocalServer, client: openai.OpenAI) -> None:
    name = "../../etc/passwd; rm -rf ~ [bold]ünï[/]"
    made = client.files.create(file=(name, b"{}\n"), purpose="batch")
    assert client.files.retrieve(made.id).filename == name
    assert (server.data_dir / "files" / f"{made.id}.bin").read_bytes() == b"{}\n"
    assert sorted(p.name for p in server.data_dir.rglob("*passwd*")) == []
    batch = client.batches.create(
        input_file_id=made.id,
        endpoint="/v1/embeddings",
        completion_window="24h",
        metadata={"note": "\x1b[31mred\x1b[0m [link=x]y[/link]"},
    )
    assert client.batches.retrieve(batch.id).metadata == {
        "note": "\x1b[31mred\x1b[0m [link=x]y[/link]"
    }
    code, _, payload = raw(server.url, "GET", "/v1/batches/%1b%5b31m")
    assert code == 404 and json.dumps(payload)
