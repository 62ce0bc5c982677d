"""Content digests in the contract's form: BLAKE3 hex is an object's identity and, as ``blake3/<hex>``, its key."""

from __future__ import annotations

import hashlib
import io
import re

import pytest
from blake3 import blake3

from integrity.hashing import BLAKE3_HEX_PATTERN, digest_bytes, hash_reader, is_blake3_hex, object_key

GOOD = blake3(b"evidence").hexdigest()


def test_digest_is_blake3_sha256_and_size() -> None:
    d = digest_bytes(b"evidence")
    assert (d.blake3, d.sha256, d.size) == (GOOD, hashlib.sha256(b"evidence").hexdigest(), 8)
    assert d.key == object_key(GOOD) == "blake3/" + GOOD


@pytest.mark.parametrize(
    "value",
    [GOOD.upper(), GOOD[:-1], GOOD + "0", GOOD + "\n", "\n" + GOOD, " " + GOOD, "g" * 64, "", None, 7,
     GOOD.encode(), "blake3/" + GOOD, "../" + GOOD[3:]],
)
def test_only_64_lowercase_hex_digits_are_a_blake3_digest(value: object) -> None:
    assert not is_blake3_hex(value)
    with pytest.raises(ValueError, match="64 lowercase hex"):
        object_key(value)  # type: ignore[arg-type]


def test_the_schema_pattern_says_the_same() -> None:
    assert is_blake3_hex(GOOD) and is_blake3_hex("0" * 64)
    assert re.fullmatch(BLAKE3_HEX_PATTERN, GOOD)
    assert BLAKE3_HEX_PATTERN == "^[0-9a-f]{64}$"  # published in the OpenAPI document as it is


@pytest.mark.parametrize("length", [0, 1, 1000, 4096, 4096 * 7 + 3])
def test_hash_reader_reads_once_and_agrees_with_one_pass(length: int) -> None:
    # Small blocks, so several of the rotating buffers are reused while SHA-256 runs behind.
    data = bytes(range(256)) * (length // 256 + 1)
    data = data[:length]
    reads: list[int] = []
    stream = io.BytesIO(data)

    def readinto(buffer: memoryview) -> int:
        n = stream.readinto(buffer)
        reads.append(n)
        return n

    d = hash_reader(readinto, block=1024)
    assert (d.blake3, d.sha256, d.size) == (blake3(data).hexdigest(), hashlib.sha256(data).hexdigest(), length)
    assert sum(reads) == length and reads[-1] == 0
