"""The JSON name of a decoded value's type, shared by file checks and the server."""

from __future__ import annotations

from typing import Any

import pytest

from tui.core.requests import json_type_name
from tui.localapi.errors import ApiError
from tui.localapi.params import metadata_param


@pytest.mark.parametrize(
    ("value", "bare", "with_article"),
    [
        ({}, "object", "an object"),
        ([], "array", "an array"),
        ("x", "string", "a string"),
        (1, "number", "a number"),
        (1.5, "number", "a number"),
        (True, "boolean", "a boolean"),
        (None, "null", "null"),
    ],
)
def test_json_type_name(value: Any, bare: str, with_article: str) -> None:
    assert json_type_name(value) == bare
    assert json_type_name(value, article=True) == with_article


@pytest.mark.parametrize(
    ("value", "named"), [(3, "a number"), (False, "a boolean"), ([1], "an array"), (None, "null")]
)
def test_server_names_a_non_string_metadata_value_as_the_api_does(value: Any, named: str) -> None:
    with pytest.raises(ApiError) as info:
        metadata_param({"k": value})
    assert info.value.message == (
        f"Invalid type for 'metadata.k': expected a string, but got {named} instead."
    )
