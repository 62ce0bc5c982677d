"""The object-store interface: write-once, content-addressed, streaming.

Storage contract: an object is never overwritten and never deleted while retention or a legal hold
applies; a write streams (hashed while stored, bounded memory); a failed or mismatched write leaves
nothing visible.  Two implementations: ``FileStore`` (embedded default) and ``S3Store`` (MinIO/S3
with Object Lock).  ``storage.stores.open_store(settings)`` picks one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import mmap
import os
import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Protocol, cast

from foundation.errors import CustodyError, Status
from integrity.hashing import KEY_PREFIX, ContentDigest, is_blake3_hex, object_key

#: Hashing/writing block: large enough that thread hand-offs are noise, small enough for bounded RSS.
BLOCK_BYTES = 8 * 1024 * 1024


class StoreError(CustodyError):
    """Base of object-store failures; ``status`` is the HTTP status the API maps it to."""

    status = Status.INTERNAL
    code = "store_error"


class BadKey(StoreError):
    status = Status.MALFORMED
    code = "bad_key"

    def __init__(self, key: str) -> None:
        super().__init__(f"invalid object key {key!r}: expected 'blake3/' followed by 64 lowercase hex digits")
        self.key = key


class HashMismatch(StoreError):
    status = Status.CONFLICT
    code = "hash_mismatch"

    def __init__(self, expected: str, actual: ContentDigest) -> None:
        super().__init__(
            f"content hash mismatch: declared blake3 {expected}, received {actual.blake3} "
            f"({actual.size} bytes); nothing was stored"
        )
        self.expected = expected
        self.actual = actual


class ObjectNotFound(StoreError):
    status = Status.NOT_FOUND
    code = "object_not_found"

    def __init__(self, key: str) -> None:
        super().__init__(f"no object {key}")
        self.key = key


class ObjectLocked(StoreError):
    """Delete refused: retention or legal hold applies."""

    status = Status.CONFLICT
    code = "object_locked"


class RetentionShortened(StoreError):
    status = Status.CONFLICT
    code = "retention_shortened"

    def __init__(self, key: str, current: dt.datetime, requested: dt.datetime) -> None:
        super().__init__(
            f"{key}: retention is until {current.isoformat()}; it can be extended, never shortened "
            f"(asked for {requested.isoformat()})"
        )


class StoreUnavailable(StoreError):
    status = Status.UNAVAILABLE
    code = "store_unavailable"


class StoreRefused(StoreUnavailable):
    """The object store refused our credentials or permissions, or the bucket is missing: nothing a
    retry fixes until the operator does (still 503: the station keeps its copy and tries later)."""

    code = "store_refused"


class LockNotApplied(StoreUnavailable):
    """The store accepted a retention or legal-hold request, yet the version does not carry it (a
    server that drops or ignores locks).  The bytes are stored but not protected, so the write is not
    finished: no receipt; a retry re-applies the lock and checks again."""

    code = "lock_not_applied"


def check_key(key: str) -> str:
    """Return ``key`` if it is ``blake3/<64 lowercase hex>``, else raise BadKey (no path tricks)."""
    if not isinstance(key, str) or not key.startswith(KEY_PREFIX) or not is_blake3_hex(key[len(KEY_PREFIX):]):
        raise BadKey(str(key))
    return key


def declared_key(blake3_hex: str) -> str:
    """The key for a hash a caller declared; BadKey if it is not 64 lowercase hex digits."""
    try:
        return object_key(blake3_hex)
    except ValueError:
        raise BadKey(KEY_PREFIX + str(blake3_hex)) from None


def key_hex(key: str) -> str:
    return check_key(key)[len(KEY_PREFIX):]


#: The first bytes of every ``lock_probe`` object (a locked object that is not evidence: scrub skips it).
LOCK_PROBE_PREFIX = b"custody store check: a locked probe, not evidence\n"

#: Named write-once records kept beside the objects: every signed checkpoint the log issued, as
#: ``checkpoints/<case id>/<tree size, 20 digits>``, so a database rolled back cannot take them along.
CHECKPOINTS_PREFIX = "checkpoints/"
_RECORD_KEY = re.compile(r"checkpoints/([A-Za-z0-9][A-Za-z0-9._-]{0,63})/([0-9]{20})\Z")
_RECORD_PREFIX = re.compile(r"checkpoints/[A-Za-z0-9][A-Za-z0-9._-]{0,63}/\Z")


class RecordConflict(StoreError):
    """A write-once record already holds other bytes."""

    status = Status.CONFLICT
    code = "record_conflict"


def checkpoint_key(case_id: str, size: int) -> str:
    """The record key of a case's checkpoint at ``size``; BadKey for an impossible case id."""
    return check_record_key(f"{CHECKPOINTS_PREFIX}{case_id}/{size:020d}")


def checkpoints_prefix(case_id: str) -> str:
    """The prefix under which a case's checkpoint records are listed."""
    return check_records_prefix(f"{CHECKPOINTS_PREFIX}{case_id}/")


def check_records_prefix(prefix: str) -> str:
    if not isinstance(prefix, str) or not _RECORD_PREFIX.match(prefix):
        raise BadKey(str(prefix))
    return prefix


def check_record_key(key: str) -> str:
    if not isinstance(key, str) or not _RECORD_KEY.match(key):
        raise BadKey(str(key))
    return key


def is_record_key(key: str) -> bool:
    return bool(_RECORD_KEY.match(key))


def record_size(key: str) -> int:
    """The tree size a checkpoint record's key names."""
    match = _RECORD_KEY.match(key)
    if match is None:
        raise BadKey(key)
    return int(match.group(2))


@dataclass(frozen=True, slots=True)
class StoredObject:
    """Result of ``put``: the digest, where it lives, and whether this call created it."""

    digest: ContentDigest
    key: str
    created: bool
    version_id: str | None = None


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    blake3: str
    retain_until: dt.datetime | None
    legal_hold: bool
    version_id: str | None = None

    def locked(self, now: dt.datetime | None = None) -> bool:
        now = now or dt.datetime.now(dt.UTC)
        return self.legal_hold or (self.retain_until is not None and self.retain_until > now)


@dataclass(frozen=True, slots=True)
class VerifyResult:
    key: str
    ok: bool
    digest: ContentDigest

    @property
    def expected_blake3(self) -> str:
        return key_hex(self.key)


@dataclass(frozen=True, slots=True)
class LockProbe:
    """What ``lock_probe`` proved on the store itself, past Custody's own checks."""

    server: str  # the server's name and version as far as it states them
    key: str
    version_id: str | None
    retain_until: dt.datetime
    delete_refused: bool  # the store itself refused to delete the locked version
    shorten_refused: bool  # ... and to shorten its retention
    how: str  # what was tried, in words

    @property
    def ok(self) -> bool:
        return self.delete_refused and self.shorten_refused


class ObjectStore(Protocol):
    """What Custody needs of an object store.  Keys are always ``blake3/<hex>``."""

    name: str

    async def put(
        self,
        source: AsyncIterable[bytes],
        *,
        expected_blake3: str | None = None,
        retain_until: dt.datetime | None = None,
        legal_hold: bool = False,
        block_bytes: int = BLOCK_BYTES,
    ) -> StoredObject: ...

    def get(self, key: str, *, start: int = 0, length: int | None = None) -> AsyncIterator[bytes]: ...

    async def head(self, key: str) -> ObjectInfo: ...

    async def exists(self, key: str) -> bool: ...

    async def verify(self, key: str) -> VerifyResult: ...

    # ``version_id``: the version the catalogue recorded (S3).  While racing writers settle, a key can
    # briefly have two versions; locking the recorded one keeps the loser's copy removable.
    async def extend_retention(self, key: str, until: dt.datetime, version_id: str | None = None) -> None: ...

    async def set_legal_hold(self, key: str, on: bool, version_id: str | None = None) -> None: ...

    async def delete(self, key: str, version_id: str | None = None) -> None:
        """Delete the object (on a versioned store: ``version_id``, else the current version);
        ObjectLocked while retention or a legal hold applies."""

    async def discard_version(self, key: str, version_id: str) -> None:
        """Remove one unlocked duplicate version this process wrote (versioned stores only)."""

    async def put_record(self, key: str, data: bytes) -> None:
        """Write a small named record once (``checkpoint_key``): the same bytes again change nothing,
        other bytes raise RecordConflict; the record can be neither overwritten nor deleted."""

    async def records(self, prefix: str) -> list[tuple[str, bytes]]:
        """Every record under ``prefix`` (``checkpoints_prefix``) with its bytes, sorted by key; a
        versioned store lists every version of a key."""
        ...

    async def object_keys(self, older_than: dt.timedelta) -> list[str]:
        """The key of every object stored more than ``older_than`` ago (scrub's search for orphans)."""
        ...

    async def check(self) -> None:
        """Raise StoreUnavailable unless the store is reachable and writable."""

    async def lock_probe(self, retain: dt.timedelta) -> LockProbe:
        """Write a small unique object locked for ``retain``, then try to delete that version and to
        shorten its retention *at the store itself*; report what it refused (the object stays)."""

    async def close(self) -> None: ...


# -- byte sources -------------------------------------------------------------------------------


async def rebuffer(source: AsyncIterable[bytes], block: int = BLOCK_BYTES) -> AsyncIterator[bytes]:
    """Re-chunk a byte stream into ``block``-sized pieces (the last may be shorter, never empty)."""
    buf = bytearray()
    async for chunk in source:
        if not buf and len(chunk) == block:
            yield bytes(chunk)
            continue
        buf += chunk
        while len(buf) >= block:
            yield bytes(buf[:block])
            del buf[:block]
    if buf:
        yield bytes(buf)


async def file_source(path: str | os.PathLike[str], block: int = BLOCK_BYTES) -> AsyncIterator[bytes]:
    """Stream a file in blocks, each read off the event loop, into two anonymous maps used in turn.

    A yielded block is valid until the block after next is read: every consumer (the stores'
    re-chunkers, the file store's block ring) copies it before asking for more.  Why: 8 MiB
    ``bytes`` from ``read`` raised glibc's dynamic mmap threshold and then fragmented the worker
    threads' heaps (a 1 GiB S3 put peaked at 139 MiB RSS); fresh maps per block cost page faults.
    """
    buffers = (mmap.mmap(-1, block), mmap.mmap(-1, block))
    turn = 0
    fh = await asyncio.to_thread(open, path, "rb", buffering=0)
    try:
        while n := await asyncio.to_thread(fh.readinto, buffers[turn]):
            yield cast(bytes, memoryview(buffers[turn])[:n])
            turn ^= 1
    finally:
        fh.close()


async def bytes_source(data: bytes, block: int = BLOCK_BYTES) -> AsyncIterator[bytes]:
    for i in range(0, len(data), block):
        yield data[i : i + block]
