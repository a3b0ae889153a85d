"""Object ids shaped like OpenAI's: ``file-…``, ``batch_…``, ``batch_req_…``, ``req_…``.

New ids come from :class:`IdFactory` (random, or reproducible with a seed for tests
and screenshots). Ids that belong to a batch's results are *derived* from the batch
id with a hash, so re-running a step after a crash rewrites the same objects instead
of leaving orphans.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import string

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"


class IdFactory:
    """Makes new ids; with ``seed`` the sequence is the same on every run."""

    def __init__(self, seed: int | None = None) -> None:
        self._seeded = seed is not None
        self._rng: random.Random = (
            random.Random(seed) if seed is not None else random.SystemRandom()
        )

    def make(self, prefix: str, length: int, alphabet: str = ALNUM) -> str:
        if alphabet == HEX and not self._seeded:  # one system call, not one per digit
            return prefix + secrets.token_hex((length + 1) // 2)[:length]
        return prefix + "".join(self._rng.choice(alphabet) for _ in range(length))

    def file_id(self) -> str:
        return self.make("file-", 22)

    def batch_id(self) -> str:
        return self.make("batch_", 32, HEX)

    def request_id(self) -> str:
        """A new ``req_`` id: one for every response, so unseeded ones come from a fast
        generator (seeded once from the system's), not a system call each; a request
        id names a response in logs and is no secret."""
        if self._seeded:
            return self.make("req_", 32, HEX)
        return f"req_{random.getrandbits(128):032x}"


def derived_id(prefix: str, *parts: str, length: int = 32, alphabet: str = HEX) -> str:
    """A stable id computed from ``parts`` (the same parts always give the same id)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    if alphabet == HEX and length <= 2 * len(digest):
        # The digits below, least significant first, are the digest's last nibbles
        # in reverse: the same id without a divmod per character.
        return prefix + digest.hex()[::-1][:length]
    number = int.from_bytes(digest, "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(alphabet))
        chars.append(alphabet[index])
    return prefix + "".join(chars)
