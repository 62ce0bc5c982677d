"""The object-store contract, run against FileStore and S3Store (loopback S3 server) alike."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import io
import os
import resource
from collections.abc import AsyncIterator, Iterator

import pytest
from blake3 import blake3

from storage.filestore import FileStore
from storage.objects import (
    BadKey,
    HashMismatch,
    ObjectLocked,
    ObjectNotFound,
    ObjectStore,
    RecordConflict,
    RetentionShortened,
    StoreUnavailable,
    bytes_source,
    checkpoint_key,
    checkpoints_prefix,
)
from storage.s3store import S3Store
from tests.conftest import S3Server, s3_settings

MiB = 1024 * 1024


def b3(data: bytes) -> str:
    return blake3(data).hexdigest()


async def read_all(store: ObjectStore, key: str, **kw: int) -> bytes:
    return b"".join([chunk async for chunk in store.get(key, **kw)])


async def visible_keys(store: ObjectStore) -> list[str]:
    """Everything a reader could see in the store: objects, staging copies, temp files."""
    if isinstance(store, FileStore):
        return sorted(str(p.relative_to(store.root)) for p in store.root.rglob("*") if p.is_file())
    assert isinstance(store, S3Store)
    objs = await asyncio.to_thread(
        lambda: list(store.client.list_objects(store.bucket, recursive=True, include_version=True))
    )
    return sorted(o.object_name for o in objs)


def assert_budget_returned(store: ObjectStore) -> None:
    """Every S3 part buffer is back in the shared budget (a leak would starve later uploads)."""
    if isinstance(store, S3Store):
        assert store.budget.taken == 0


async def odd_chunks(data: bytes) -> AsyncIterator[bytes]:
    """Chunks of awkward sizes, as a network would deliver them."""
    i, step = 0, 1
    while i < len(data):
        yield data[i : i + step]
        i += step
        step = min(step * 7 + 3, 3 * MiB + 17)


@pytest.mark.parametrize("size", [0, 1, 1000, 12 * MiB + 5])
async def test_put_get_round_trip(store: ObjectStore, size: int) -> None:
    data = os.urandom(size)
    stored = await store.put(odd_chunks(data))
    assert stored.created
    assert stored.key == f"blake3/{b3(data)}"
    assert stored.digest.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.digest.size == size
    assert await read_all(store, stored.key) == data
    info = await store.head(stored.key)
    assert (info.size, info.blake3, info.legal_hold) == (size, b3(data), False)
    assert (await store.verify(stored.key)).ok


async def test_range_reads_return_exact_bytes(store: ObjectStore) -> None:
    data = os.urandom(9 * MiB + 3)
    stored = await store.put(bytes_source(data))
    for start, length in [(0, 1), (5, 100), (MiB - 1, 2 * MiB + 7), (len(data) - 4, 4)]:
        assert await read_all(store, stored.key, start=start, length=length) == data[start : start + length]
    assert await read_all(store, stored.key, start=len(data) - 10) == data[-10:]


@pytest.mark.parametrize("size", [10, 11 * MiB])
async def test_declared_hash_mismatch_stores_nothing(store: ObjectStore, size: int) -> None:
    data = os.urandom(size)
    wrong = b3(data + b"x")
    with pytest.raises(HashMismatch) as err:
        await store.put(bytes_source(data), expected_blake3=wrong)
    assert err.value.actual.blake3 == b3(data)
    assert "nothing was stored" in str(err.value)
    assert not await store.exists(f"blake3/{wrong}")
    assert not await store.exists(f"blake3/{b3(data)}")
    assert await visible_keys(store) == []
    assert_budget_returned(store)


async def test_declared_hash_match_is_stored(store: ObjectStore) -> None:
    data = os.urandom(11 * MiB)
    stored = await store.put(bytes_source(data), expected_blake3=b3(data))
    assert stored.created and await read_all(store, stored.key) == data


async def test_overwrite_refused_same_content_kept_once(store: ObjectStore) -> None:
    data = os.urandom(6 * MiB)
    first = await store.put(bytes_source(data))
    second = await store.put(bytes_source(data), expected_blake3=b3(data))
    assert first.created and not second.created
    assert second.key == first.key
    assert await visible_keys(store) in ([first.key], [_file_path(first.key)])


def _file_path(key: str) -> str:
    hexd = key.split("/")[1]
    return f"blake3/{hexd[:2]}/{hexd}"


async def test_delete_under_retention_refused(store: ObjectStore) -> None:
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    stored = await store.put(bytes_source(b"evidence under retention"), retain_until=until)
    info = await store.head(stored.key)
    assert info.retain_until is not None and abs((info.retain_until - until).total_seconds()) < 1
    with pytest.raises(ObjectLocked):
        await store.delete(stored.key)
    assert await read_all(store, stored.key) == b"evidence under retention"


async def test_delete_under_legal_hold_refused(store: ObjectStore) -> None:
    stored = await store.put(bytes_source(b"evidence under hold"), legal_hold=True)
    assert (await store.head(stored.key)).legal_hold
    with pytest.raises(ObjectLocked):
        await store.delete(stored.key)
    assert await store.exists(stored.key)
    await store.set_legal_hold(stored.key, False)
    await store.delete(stored.key)
    assert not await store.exists(stored.key)


async def test_s3_server_itself_refuses_delete_of_locked_version(s3_server: S3Server, tmp_path) -> None:
    """Not just our check: the S3 server enforces the lock (the bucket has Object Lock)."""
    store = S3Store.from_settings(s3_settings(s3_server, tmp_path))
    stored = await store.put(bytes_source(b"locked"), retain_until=dt.datetime.now(dt.UTC) + dt.timedelta(1))
    from minio.error import S3Error

    with pytest.raises(S3Error) as err:
        await asyncio.to_thread(store.client.remove_object, store.bucket, stored.key,
                                version_id=stored.version_id)
    assert err.value.code == "AccessDenied"


async def test_retention_extends_never_shortens(store: ObjectStore) -> None:
    now = dt.datetime.now(dt.UTC)
    stored = await store.put(bytes_source(b"x" * 100), retain_until=now + dt.timedelta(days=10))
    await store.extend_retention(stored.key, now + dt.timedelta(days=20))
    info = await store.head(stored.key)
    assert info.retain_until is not None and info.retain_until > now + dt.timedelta(days=19)
    with pytest.raises(RetentionShortened):
        await store.extend_retention(stored.key, now + dt.timedelta(days=5))
    # A later put of the same bytes with a shorter period does not shorten it either.
    await store.put(bytes_source(b"x" * 100), retain_until=now + dt.timedelta(days=1))
    after = await store.head(stored.key)
    assert after.retain_until == info.retain_until


async def test_unlocked_object_can_be_deleted(store: ObjectStore) -> None:
    stored = await store.put(bytes_source(b"scratch"))
    await store.delete(stored.key)
    assert not await store.exists(stored.key)
    with pytest.raises(ObjectNotFound):
        await store.head(stored.key)


async def test_writer_cancelled_mid_upload_leaves_nothing(store: ObjectStore) -> None:
    started = asyncio.Event()

    async def stalls() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield os.urandom(4 * MiB)
        started.set()
        await asyncio.sleep(3600)
        yield b""

    task = asyncio.create_task(store.put(stalls()))
    await asyncio.wait_for(started.wait(), 30)
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await visible_keys(store) == []
    assert_budget_returned(store)


async def test_failing_source_leaves_nothing(store: ObjectStore) -> None:
    async def breaks() -> AsyncIterator[bytes]:
        yield os.urandom(7 * MiB)
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await store.put(breaks())
    assert await visible_keys(store) == []
    assert_budget_returned(store)


@pytest.mark.parametrize(
    "key",
    [
        "../x", "blake3/zz", "blake3/../../etc/passwd", "blake3/" + "A" * 64, "blake3/" + "a" * 63, "",
        "sha256/" + "a" * 64, "blake3/" + "a" * 64 + "\n",
    ],
)
async def test_bad_keys_rejected(store: ObjectStore, key: str) -> None:
    with pytest.raises(BadKey, match="blake3/"):
        await store.head(key)
    with pytest.raises(BadKey):
        await store.delete(key)
    with pytest.raises(BadKey):
        await read_all(store, key)


async def test_bad_declared_hash_rejected(store: ObjectStore) -> None:
    with pytest.raises(BadKey):
        await store.put(bytes_source(b"x"), expected_blake3="../../etc")
    with pytest.raises(BadKey, match="blake3/"):
        await store.put(bytes_source(b"x"), expected_blake3="a" * 64 + "\n")


async def test_verify_detects_altered_bytes(store: ObjectStore) -> None:
    data = os.urandom(2000)
    stored = await store.put(bytes_source(data))
    tampered = bytearray(data)
    tampered[1000] ^= 0x01
    if isinstance(store, FileStore):
        path = store.root / _file_path(stored.key)
        path.chmod(0o644)
        path.write_bytes(bytes(tampered))
    else:
        assert isinstance(store, S3Store)
        # Someone with raw bucket access writes over the key: a new version appears.
        await asyncio.to_thread(store.client.put_object, store.bucket, stored.key,
                                io.BytesIO(bytes(tampered)), len(tampered))
    result = await store.verify(stored.key)
    assert not result.ok
    assert result.digest.blake3 == b3(bytes(tampered))


@pytest.mark.parametrize("block", [64 * 1024, 64 * 1024 + 512, 1000])
@pytest.mark.parametrize("size", [4095, 4096, 4097, 3 * 64 * 1024, 3 * 64 * 1024 + 1])
async def test_file_store_direct_and_buffered_writes_keep_every_byte(tmp_path, block: int, size: int) -> None:
    """Aligned blocks go around the page cache, tails and unaligned blocks through it: same bytes."""
    store = FileStore(tmp_path / "objects")
    data = os.urandom(size)
    stored = await store.put(odd_chunks(data), block_bytes=block)
    assert stored.digest.sha256 == hashlib.sha256(data).hexdigest()
    assert (store.root / _file_path(stored.key)).read_bytes() == data


@contextlib.contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """This process may not write past ``limit`` bytes of any file (RLIMIT_FSIZE): the kernel's own
    EFBIG, as a full disk would fail a write (Python ignores the SIGXFSZ that comes with it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


async def test_file_store_write_failing_behind_the_hashing_stores_nothing(tmp_path) -> None:
    """The disk writes trail the hashing by a few blocks: a write that fails there (the disk is full)
    still fails the put, as a clear store error, and leaves nothing, not even a temp file."""
    store = FileStore(tmp_path / "objects")
    data = os.urandom(12 * MiB)
    with file_size_limit(3 * MiB), pytest.raises(StoreUnavailable, match="could not write the object"):
        await store.put(odd_chunks(data), expected_blake3=b3(data), block_bytes=MiB)
    assert await visible_keys(store) == []
    stored = await store.put(odd_chunks(data), expected_blake3=b3(data), block_bytes=MiB)  # the disk has room again
    assert (store.root / _file_path(stored.key)).read_bytes() == data


async def test_file_store_object_is_exactly_its_bytes_on_disk(tmp_path) -> None:
    """Disk is reserved ahead of direct writes; the stored file is cut back to the object's length."""
    store = FileStore(tmp_path / "objects")
    data = os.urandom(5 * MiB + 4096)
    stored = await store.put(odd_chunks(data), block_bytes=MiB)
    path = store.root / _file_path(stored.key)
    assert path.stat().st_size == len(data) == stored.digest.size
    assert path.read_bytes() == data


def test_file_store_writer_bypasses_the_page_cache_and_falls_back(tmp_path) -> None:
    import fcntl
    import mmap

    from storage.filestore import DIRECT_ALIGN, _Writer

    path = tmp_path / "w.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        try:  # does this filesystem take O_DIRECT at all? (asked without the code under test)
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_DIRECT)
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_DIRECT)
        except OSError:
            pytest.skip(f"O_DIRECT NOT TESTED: the filesystem under {tmp_path} refuses it")
        writer = _Writer(fd)
        assert writer.direct
        aligned = mmap.mmap(-1, 2 * DIRECT_ALIGN)
        aligned.write(os.urandom(2 * DIRECT_ALIGN))
        writer.write(memoryview(aligned))
        assert writer.direct  # a whole aligned block stayed direct
        unaligned = memoryview(bytearray(os.urandom(DIRECT_ALIGN + 1)))[1:]  # misaligned memory
        writer.write(unaligned)
        assert not writer.direct  # refused by the kernel (EINVAL), written buffered instead
        writer.sync()  # cuts the disk reserved ahead of the direct write
    finally:
        os.close(fd)
    assert path.read_bytes() == bytes(aligned) + bytes(unaligned)


async def test_an_unreachable_s3_endpoint_is_store_unavailable_not_a_crash(tmp_path) -> None:
    import socket

    from foundation.settings import Settings
    from storage.objects import StoreUnavailable

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    settings = Settings.from_env({}, home=tmp_path, s3_endpoint=f"127.0.0.1:{port}", s3_access_key="a",
                                 s3_secret_key="b", s3_secure="false")
    store = S3Store.from_settings(settings)
    with pytest.raises(StoreUnavailable, match="unreachable"):
        await store.put(bytes_source(b"x" * 100))
    store._bucket_ready = True  # past the bucket check: the data calls themselves
    with pytest.raises(StoreUnavailable, match="unreachable"):
        await read_all(store, "blake3/" + "0" * 64)



async def test_s3_uploads_share_a_fixed_part_budget(s3_server: S3Server, tmp_path) -> None:
    """Eight uploads of several parts each through a budget of three part buffers: all land, at
    most three parts are ever held, and every buffer comes back."""
    from storage.s3store import PartBudget
    store = S3Store.from_settings(s3_settings(s3_server, tmp_path))
    store.budget = PartBudget(3)
    blobs = [os.urandom(store.part_size * 2 + 1000 * i) for i in range(8)]
    stored = await asyncio.wait_for(asyncio.gather(*(store.put(odd_chunks(b)) for b in blobs)), 120)
    assert [s.digest.blake3 for s in stored] == [b3(b) for b in blobs]
    for s, b in zip(stored, blobs, strict=True):
        assert await read_all(store, s.key) == b
    assert store.budget.peak == 3 and store.budget.taken == 0
    assert len(store.budget._spare) <= 3  # buffers are reused: never more than the budget exist


async def test_checkpoint_records_are_write_once_and_listed(store: ObjectStore) -> None:
    """The checkpoint archive: a record is written once (the same bytes again change nothing, other
    bytes are refused), listed under its case's prefix only, and cannot be deleted as an object."""
    key = checkpoint_key("C-7", 3)
    await store.put_record(key, b"note 3\n")
    await store.put_record(key, b"note 3\n")
    with pytest.raises(RecordConflict):
        await store.put_record(key, b"another note\n")
    await store.put_record(checkpoint_key("C-7", 12), b"note 12\n")
    await store.put_record(checkpoint_key("C-70", 1), b"other case\n")
    assert await store.records(checkpoints_prefix("C-7")) == [
        ("checkpoints/C-7/00000000000000000003", b"note 3\n"), ("checkpoints/C-7/00000000000000000012", b"note 12\n")]
    assert await store.records(checkpoints_prefix("C-8")) == []
    for bad in ("checkpoints/../x/00000000000000000001", "blake3/" + "0" * 64, "checkpoints/C-7/1"):
        with pytest.raises(BadKey):
            await store.put_record(bad, b"x")
