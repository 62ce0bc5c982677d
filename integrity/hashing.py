"""Content hashing: BLAKE3 (the object's identity) and SHA-256 (what courts know) in one pass.

Integrity contract v1: an object's key is ``blake3/<64 lowercase hex>``; SHA-256 and the byte length
are recorded beside it.  Both hashers release the GIL on large buffers, so the SHA-256 update of a
block runs on a helper thread while BLAKE3 hashes the same block on the caller's thread.  BLAKE3 is
used single-threaded: its own multithreading only pays on large whole buffers, not streamed blocks.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import TypeGuard

from blake3 import blake3

from integrity.errors import ObjectMismatch

#: Block size and count of ``hash_reader``'s rotating buffers: one being read and BLAKE3-hashed, up
#: to two queued for or in SHA-256 on the other core.
PIPELINE_BLOCK_BYTES = 4 * 1024 * 1024
PIPELINE_BUFFERS = 3
#: Below this a thread hand-off costs more than the hash it would overlap.
OVERLAP_MIN_BYTES = 256 * 1024
#: An object's store key is this prefix and its BLAKE3 hex digest; build it with ``object_key``.
KEY_PREFIX = "blake3/"
#: A BLAKE3 digest as the contract writes it, 64 lowercase hex digits; also the API schemas' pattern.
BLAKE3_HEX_PATTERN = "^[0-9a-f]{64}$"
_BLAKE3_HEX = re.compile(BLAKE3_HEX_PATTERN)


@dataclass(frozen=True, slots=True)
class ContentDigest:
    """What one pass over an object yields."""

    blake3: str
    sha256: str
    size: int

    @property
    def key(self) -> str:
        return object_key(self.blake3)

    def check(self, *, blake3: str | None = None, sha256: str | None = None, size: int | None = None,
              what: str = "object") -> None:
        """Raise ObjectMismatch naming the first field that differs from what was recorded."""
        for name, expected, actual in (("size", size, self.size), ("blake3", blake3, self.blake3),
                                       ("sha256", sha256, self.sha256)):
            if name == "sha256" and not actual:
                continue  # not computed (a BLAKE3-only pass): the content address already decides
            if expected is not None and expected != actual:
                raise ObjectMismatch(what, name, expected, actual)


@cache
def _sha_pool() -> ThreadPoolExecutor:
    # A few workers: enough for concurrent uploads to overlap, bounded so they cannot pile up.
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="sha256")


class ContentHasher:
    """Incremental BLAKE3 + SHA-256 + length.  Not thread-safe: one writer at a time."""

    __slots__ = ("_b3", "_sha", "size")

    def __init__(self, *, sha256: bool = True) -> None:
        self._b3 = blake3(max_threads=1)
        # SHA-256 is ~15x slower than BLAKE3 here; a pass that only needs the content address skips it.
        self._sha = hashlib.sha256() if sha256 else None
        self.size = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        if self._sha is None:
            self._b3.update(view)
        elif view.nbytes >= OVERLAP_MIN_BYTES:
            pending = _sha_pool().submit(self._sha.update, view)
            self._b3.update(view)
            pending.result()
        else:
            self._sha.update(view)
            self._b3.update(view)
        self.size += view.nbytes

    def update_blake3(self, data: bytes | bytearray | memoryview) -> None:
        """BLAKE3 and the length only: with ``update_sha256`` over the same bytes, the same as ``update``.

        For a caller that runs the two hashes on two threads of its own, each taking the blocks in
        order (``storage.filestore``): the halves share no state, so the threads need no lock.
        """
        view = memoryview(data)
        self._b3.update(view)
        self.size += view.nbytes

    def update_sha256(self, data: bytes | bytearray | memoryview) -> None:
        """SHA-256 only (nothing if the hasher was made without it); see ``update_blake3``."""
        if self._sha is not None:
            self._sha.update(data)

    def digest(self) -> ContentDigest:
        """The digest; ``sha256`` is "" when the hasher was made without it."""
        return ContentDigest(self._b3.hexdigest(), self._sha.hexdigest() if self._sha else "", self.size)


def hash_reader(readinto: Callable[[memoryview], int], *, block: int = PIPELINE_BLOCK_BYTES) -> ContentDigest:
    """BLAKE3 + SHA-256 + length of everything ``readinto`` yields, each byte read once.

    ``readinto(buffer)`` fills a memoryview as ``RawIOBase.readinto`` does and returns 0 at the end.
    SHA-256, the slower hash, runs behind on its own thread over a block while this thread reads the
    next block and BLAKE3-hashes it, so on two cores the pass costs about as long as SHA-256 alone
    rather than read + SHA-256 (``ContentHasher.update`` overlaps only the two hashes of one block).
    Memory: ``PIPELINE_BUFFERS`` blocks, whatever the size.
    """
    b3 = blake3(max_threads=1)
    sha = hashlib.sha256()
    size = 0
    buffers = [memoryview(bytearray(block)) for _ in range(PIPELINE_BUFFERS)]
    pending: list[Future[None] | None] = [None] * PIPELINE_BUFFERS
    # One worker, so the SHA-256 updates run in order; its own, so no other stream queues in front.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256-pipe") as sha_thread:
        slot = 0
        while True:
            waiting = pending[slot]
            if waiting is not None:
                waiting.result()  # SHA-256 is done with this buffer: it may be overwritten
            n = readinto(buffers[slot])
            if not n:
                break
            view = buffers[slot][:n]
            pending[slot] = sha_thread.submit(sha.update, view)
            b3.update(view)
            size += n
            slot = (slot + 1) % PIPELINE_BUFFERS
        for waiting in pending:
            if waiting is not None:
                waiting.result()
    return ContentDigest(b3.hexdigest(), sha.hexdigest(), size)


def digest_bytes(data: bytes | bytearray | memoryview) -> ContentDigest:
    hasher = ContentHasher()
    hasher.update(data)
    return hasher.digest()


def is_blake3_hex(value: object) -> TypeGuard[str]:
    """Is ``value`` a BLAKE3 digest in the contract's form: a str of exactly 64 lowercase hex digits?"""
    # fullmatch: with match, "$" would also accept a trailing newline.
    return isinstance(value, str) and _BLAKE3_HEX.fullmatch(value) is not None


def object_key(blake3_hex: str) -> str:
    """The store key for a BLAKE3 hex digest; refuses anything but 64 lowercase hex digits."""
    if not is_blake3_hex(blake3_hex):
        raise ValueError(f"not a BLAKE3 hex digest (64 lowercase hex digits): {blake3_hex!r}")
    return KEY_PREFIX + blake3_hex
