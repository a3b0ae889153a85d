"""Ids: derived ids never change (data on disk and clients rely on them), seeded ids
stay reproducible, and new ids have OpenAI's shapes."""

from __future__ import annotations

import hashlib
import re

from tui.localapi.ids import ALNUM, HEX, IdFactory, derived_id


def reference_derived_id(prefix: str, *parts: str, length: int = 32, alphabet: str = HEX) -> str:
    """The original definition: base-``len(alphabet)`` digits of the SHA-256, least
    significant first."""
    number = int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest(), "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(alphabet))
        chars.append(alphabet[index])
    return prefix + "".join(chars)


def test_derived_ids_are_the_ones_always_made() -> None:
    assert derived_id("batch_req_", "batch_abc", "req-1") == (
        "batch_req_60b85adf9d126a0acc2aa88a01543fa2"
    )
    assert derived_id("x_", "a", length=10, alphabet=ALNUM) == "x_nRZjySbZpg"
    for n in range(2_000):
        parts = (f"batch_{n:032x}", f"custom-{n}", "é" * (n % 3))[: 1 + n % 3]
        for length in (1, 17, 32, 64, 70):
            assert derived_id("p_", *parts, length=length) == reference_derived_id(
                "p_", *parts, length=length
            )


def test_seeded_ids_are_reproducible() -> None:
    ids = IdFactory(7)
    assert [ids.file_id(), ids.batch_id(), ids.request_id()] == [
        "file-u8jzPde0IgxLd6GncfBAep",
        "batch_2d1371c17149d439536b3216fdaeeb97",
        "req_5729fae923d5a4fd12aabfe228f219e9",
    ]


def test_new_ids_have_openai_shapes() -> None:
    ids = IdFactory()
    batch_ids = {ids.batch_id() for _ in range(100)}
    assert len(batch_ids) == 100
    assert all(re.fullmatch(r"batch_[0-9a-f]{32}", b) for b in batch_ids)
    assert re.fullmatch(r"req_[0-9a-f]{32}", ids.request_id())
    assert re.fullmatch(r"file-[A-Za-z0-9]{22}", ids.file_id())
    assert re.fullmatch(r"x[0-9a-f]{7}", ids.make("x", 7, HEX))
