"""The synchronous endpoints through the SDK: every batch endpoint answers with a body
that parses with the SDK's own type, deterministically; failure markers fail."""

from __future__ import annotations

import base64
from typing import Any

import openai
import pytest
from openai.types import (
    Completion,
    CreateEmbeddingResponse,
    ImagesResponse,
    ModerationCreateResponse,
    Video,
)
from openai.types.chat import ChatCompletion
from openai.types.responses import Response
from pydantic import BaseModel

from tests.api.conftest import make_client
from tui.localapi.server import LocalServer

TIME_FIELDS = ("created", "created_at", "completed_at", "expires_at")
RESPONSE_TYPES: dict[str, type[BaseModel]] = {
    "/v1/chat/completions": ChatCompletion,
    "/v1/responses": Response,
    "/v1/embeddings": CreateEmbeddingResponse,
    "/v1/completions": Completion,
    "/v1/moderations": ModerationCreateResponse,
    "/v1/images/generations": ImagesResponse,
    "/v1/images/edits": ImagesResponse,
    "/v1/videos": Video,
}
BATCH_BODIES: dict[str, dict[str, Any]] = {
    "/v1/chat/completions": {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Summarise: the parcel is late."}],
    },
    "/v1/responses": {"model": "gpt-5-mini", "input": "Translate to French: a wool blanket"},
    "/v1/embeddings": {"model": "text-embedding-3-small", "input": ["a", "b"], "dimensions": 8},
    "/v1/completions": {"model": "gpt-3.5-turbo-instruct", "prompt": "Once upon a time"},
    "/v1/moderations": {"model": "omni-moderation-latest", "input": "I will kill the bug"},
    "/v1/images/generations": {"model": "gpt-image-1", "prompt": "a lamp", "n": 2},
    "/v1/images/edits": {"model": "gpt-image-1", "prompt": "make it blue"},
    "/v1/videos": {"model": "sora-2", "prompt": "waves at dusk", "seconds": "8"},
}


@pytest.mark.parametrize("endpoint", list(BATCH_BODIES))
def test_sync_endpoints_answer_like_the_api(
    server: LocalServer, client: openai.OpenAI, endpoint: str
) -> None:
    path = endpoint.removeprefix("/v1")
    body = client.post(path, cast_to=object, body=BATCH_BODIES[endpoint])
    assert isinstance(body, dict)
    RESPONSE_TYPES[endpoint].model_validate(body)
    second = client.post(path, cast_to=object, body=BATCH_BODIES[endpoint])
    assert isinstance(second, dict)
    assert _timeless(second) == _timeless(body)  # deterministic: same body, same answer


def _timeless(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in TIME_FIELDS}


@pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")
def test_the_sdk_methods_parse_echo_answers(client: openai.OpenAI) -> None:
    chat = client.chat.completions.create(
        model="o3-mini",
        messages=[{"role": "user", "content": "What is 2+2?"}],
        max_completion_tokens=50,
    )
    assert chat.choices[0].message.content == "Echo: What is 2+2?"
    assert chat.usage and chat.usage.completion_tokens_details
    assert chat.usage.completion_tokens_details.reasoning_tokens > 0
    response = client.responses.create(model="gpt-4.1", input="Hello there")
    assert response.output_text == "Echo: Hello there" and response.status == "completed"
    vectors = client.embeddings.create(model="text-embedding-3-large", input=["x", "y"])
    assert [len(d.embedding) for d in vectors.data] == [3072, 3072]
    assert abs(sum(v * v for v in vectors.data[0].embedding) - 1) < 1e-4
    short = client.embeddings.create(
        model="text-embedding-3-small", input="x", dimensions=4, encoding_format="base64"
    )
    assert len(base64.b64decode(str(short.data[0].embedding))) == 4 * 4  # four float32
    completion = client.completions.create(
        model="gpt-3.5-turbo-instruct", prompt="Hi", max_tokens=2
    )
    assert completion.choices[0].finish_reason == "length"
    moderation = client.moderations.create(input=["I will kill you", "lovely day"])
    assert [r.flagged for r in moderation.results] == [True, False]
    image = client.images.generate(model="gpt-image-1", prompt="a lamp")
    assert image.data and image.data[0].b64_json
    edit = client.images.edit(model="gpt-image-1", image=("in.png", b"\x89PNG"), prompt="blue")
    assert edit.data and edit.usage and edit.usage.input_tokens_details.image_tokens > 0
    video = client.videos.create(model="sora-2", prompt="waves")
    assert video.status == "completed" and video.progress == 100


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("hi [fail:400]", openai.BadRequestError),
        ("hi [fail:401]", openai.AuthenticationError),
        ("hi [fail:429]", openai.RateLimitError),
        ("hi [fail:500]", openai.InternalServerError),
    ],
)
def test_failure_markers(server: LocalServer, content: str, error: type[Exception]) -> None:
    with make_client(server, max_retries=0) as sdk, pytest.raises(error):
        sdk.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": content}]
        )


def test_invalid_bodies_are_refused(server: LocalServer) -> None:
    with make_client(server, max_retries=0) as sdk:
        with pytest.raises(openai.BadRequestError) as caught:
            sdk.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}], temperature=3
            )
        assert caught.value.param == "temperature"
        with pytest.raises(openai.NotFoundError):
            sdk.chat.completions.create(
                model="fail-404", messages=[{"role": "user", "content": "x"}]
            )
        with pytest.raises(openai.BadRequestError):
            sdk.embeddings.create(model="text-embedding-3-small", input="x", dimensions=9999)
