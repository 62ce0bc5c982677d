"""FileStore: the embedded write-once object store under ``$CUSTODY_HOME/objects``.

Layout: ``blake3/<hex[:2]>/<hex>`` holds the object (mode 0444), ``meta/<hex[:2]>/<hex>.json`` its
retention and legal hold, ``tmp/`` the uploads in flight.  A write goes to a private temp file, is
fsynced, then hard-linked into place (``link`` fails if the name exists: no overwrite, ever, even
between racing writers), and the directory is fsynced.  A killed writer leaves only a temp file,
never a visible object; ``sweep`` removes those.  A writer holds an exclusive ``flock`` on its temp
file until it is done with it, so a sweep knows a dead writer's file (its lock went with the process)
from a live one's at any age, in any of the processes sharing the store.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ctypes
import datetime as dt
import errno
import fcntl
import json
import mmap
import os
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

from foundation.durable import fsync_dir
from foundation.pipeline import pipelined, settle
from integrity.hashing import KEY_PREFIX, ContentDigest, ContentHasher
from storage.objects import (
    BLOCK_BYTES,
    LOCK_PROBE_PREFIX,
    HashMismatch,
    LockProbe,
    ObjectInfo,
    ObjectLocked,
    ObjectNotFound,
    RecordConflict,
    RetentionShortened,
    StoredObject,
    StoreUnavailable,
    VerifyResult,
    bytes_source,
    check_record_key,
    check_records_prefix,
    declared_key,
    is_record_key,
    key_hex,
)

#: O_DIRECT alignment of file offsets, lengths and memory: the largest logical block size in use.
DIRECT_ALIGN = 4096
#: Other temp files (probes) older than this belong to writers that died.
STALE_TMP_SECONDS = 6 * 3600
#: An object being written: ``tmp/<uuid>.part``, locked by its writer.
TMP_SUFFIX = ".part"
#: Blocks an object write keeps in flight: one filled on the event loop while the others are hashed
#: and written behind it.  With two, the filling waited for every O_DIRECT write, which takes longer
#: than hashing the block (issue 17 item 4); three let the writes trail by up to two blocks, and cost
#: 20 concurrent 1 MiB-block uploads 20 MiB more than two did (four cost 40: over the RSS budget).
RING_BLOCKS = 3
#: ... but no more memory than this per write: the 8 MiB blocks of a local import keep two.
RING_MAX_BYTES = 16 * 1024 * 1024
#: Disk reserved ahead of the writes (``fallocate``), at most this much at a time: an O_DIRECT write
#: that extends a file allocates its blocks as it goes, and 1 MiB writes then ran at ~800 MB/s
#: rather than ~1.3 GB/s on the reference ext4.  The file is cut to its length before the fsync.
RESERVE_AHEAD_BYTES = 64 * 1024 * 1024


class FileStore:
    name = "file"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._tmp = self.root / "tmp"

    # -- paths -------------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        hexd = key_hex(key)
        return self.root / "blake3" / hexd[:2] / hexd

    def _meta_path(self, key: str) -> Path:
        hexd = key_hex(key)
        return self.root / "meta" / hexd[:2] / f"{hexd}.json"

    def _ensure_dirs(self) -> None:
        for sub in ("blake3", "meta", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    # -- writing -----------------------------------------------------------------------------

    async def put(
        self,
        source: AsyncIterable[bytes],
        *,
        expected_blake3: str | None = None,
        retain_until: dt.datetime | None = None,
        legal_hold: bool = False,
        block_bytes: int = BLOCK_BYTES,
    ) -> StoredObject:
        if expected_blake3 is not None:
            declared_key(expected_blake3)
        await asyncio.to_thread(self._ensure_dirs)
        tmp, fd = await asyncio.to_thread(self._locked_temp)
        ring = _BlockRing(fd, block_bytes)
        try:
            async for chunk in source:
                await ring.feed(chunk)
            digest = await ring.finish()  # every block hashed, written and fsynced
            if expected_blake3 is not None and digest.blake3 != expected_blake3:
                raise HashMismatch(expected_blake3, digest)
            created = await asyncio.to_thread(self._publish, tmp, digest.key, retain_until, legal_hold)
            return StoredObject(digest=digest, key=digest.key, created=created)
        finally:
            try:
                # The ring's threads may still hold the file and its buffers: they stop first.
                await settle(asyncio.ensure_future(asyncio.to_thread(ring.close)))
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                os.close(fd)  # after the unlink: the lock covers the temp file for all of its life

    def _locked_temp(self) -> tuple[Path, int]:
        """A new temp file, locked by this writer before it takes the name a sweep looks at."""
        fresh = self._tmp / f"{uuid.uuid4().hex}.new"
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # held until the file is unlinked: a sweep leaves it alone
            tmp = fresh.with_suffix(TMP_SUFFIX)
            os.rename(fresh, tmp)
        except BaseException:
            os.close(fd)
            fresh.unlink(missing_ok=True)
            raise
        return tmp, fd

    def _publish(self, tmp: Path, key: str, retain_until: dt.datetime | None, legal_hold: bool) -> bool:
        final = self._path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        # Locks are written before the object appears, so a visible object is never unprotected.
        if retain_until is not None or legal_hold:
            self._update_meta(key, retain_until=retain_until, legal_hold=legal_hold or None, extend_only=True)
        os.chmod(tmp, 0o444)
        try:
            os.link(tmp, final)
        except FileExistsError:
            return False  # same bytes already stored (content address); nothing is overwritten
        fsync_dir(final.parent)
        return True

    # -- records -----------------------------------------------------------------------------

    async def put_record(self, key: str, data: bytes) -> None:
        final = self.root / check_record_key(key)

        def write() -> None:
            self._ensure_dirs()
            if not final.parent.is_dir():
                final.parent.mkdir(parents=True, exist_ok=True)
                fsync_dir(final.parent.parent)
            tmp = self._tmp / f"{uuid.uuid4().hex}.record"
            try:
                with open(tmp, "xb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.chmod(tmp, 0o444)
                try:
                    os.link(tmp, final)  # fails if the name exists: never an overwrite
                except FileExistsError:
                    if final.read_bytes() != data:
                        raise RecordConflict(f"{key} already holds other bytes") from None
                    return
                fsync_dir(final.parent)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()

        await asyncio.to_thread(write)

    async def records(self, prefix: str) -> list[tuple[str, bytes]]:
        folder = self.root / check_records_prefix(prefix)

        def read() -> list[tuple[str, bytes]]:
            if not folder.is_dir():
                return []
            return [(prefix + name, (folder / name).read_bytes()) for name in sorted(os.listdir(folder))
                    if is_record_key(prefix + name)]

        return await asyncio.to_thread(read)

    # -- locks -------------------------------------------------------------------------------

    def _read_meta(self, key: str) -> dict[str, object]:
        try:
            data: dict[str, object] = json.loads(self._meta_path(key).read_bytes())
            return data
        except FileNotFoundError:
            return {}

    def _update_meta(
        self,
        key: str,
        *,
        retain_until: dt.datetime | None = None,
        legal_hold: bool | None = None,
        extend_only: bool = False,
    ) -> None:
        meta = self._read_meta(key)
        if retain_until is not None:
            retain_until = _utc(retain_until)
            current = _parse_time(meta.get("retain_until"))
            if current is not None and retain_until < current:
                if not extend_only:
                    raise RetentionShortened(key, current, retain_until)
            else:
                meta["retain_until"] = retain_until.isoformat()
        if legal_hold is not None:
            meta["legal_hold"] = legal_hold
        path = self._meta_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(json.dumps(meta, sort_keys=True).encode())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)

    async def extend_retention(self, key: str, until: dt.datetime, version_id: str | None = None) -> None:
        await self._require(key)
        current = (await self.head(key)).retain_until
        if current is not None and until < current:
            raise RetentionShortened(key, current, until)  # as S3 COMPLIANCE mode: later only
        await asyncio.to_thread(self._update_meta, key, retain_until=until)

    async def set_legal_hold(self, key: str, on: bool, version_id: str | None = None) -> None:
        await self._require(key)
        await asyncio.to_thread(self._update_meta, key, legal_hold=on)

    async def discard_version(self, key: str, version_id: str) -> None:
        return None  # one file per key: there are never two versions

    async def delete(self, key: str, version_id: str | None = None) -> None:
        info = await self.head(key)
        if info.locked():
            why = "legal hold" if info.legal_hold else f"retention until {info.retain_until}"
            raise ObjectLocked(f"{key} cannot be deleted: {why}")

        def remove() -> None:
            self._path(key).unlink()
            with contextlib.suppress(FileNotFoundError):
                self._meta_path(key).unlink()
            fsync_dir(self._path(key).parent)

        await asyncio.to_thread(remove)

    # -- reading -----------------------------------------------------------------------------

    async def _require(self, key: str) -> os.stat_result:
        try:
            return await asyncio.to_thread(os.stat, self._path(key))
        except FileNotFoundError:
            raise ObjectNotFound(key) from None

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).exists)

    async def head(self, key: str) -> ObjectInfo:
        st = await self._require(key)
        meta = await asyncio.to_thread(self._read_meta, key)
        return ObjectInfo(
            key=key,
            size=st.st_size,
            blake3=key_hex(key),
            retain_until=_parse_time(meta.get("retain_until")),
            legal_hold=bool(meta.get("legal_hold", False)),
        )

    async def get(self, key: str, *, start: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            fh = await asyncio.to_thread(open, path, "rb")
        except FileNotFoundError:
            raise ObjectNotFound(key) from None
        try:
            if start:
                fh.seek(start)
            remaining = length
            while remaining is None or remaining > 0:
                want = BLOCK_BYTES if remaining is None else min(BLOCK_BYTES, remaining)
                chunk = await asyncio.to_thread(fh.read, want)
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            fh.close()

    async def verify(self, key: str) -> VerifyResult:
        hasher = ContentHasher()

        async def absorb(block: bytes) -> None:
            await asyncio.to_thread(hasher.update, block)

        await pipelined(self.get(key), absorb)
        digest = hasher.digest()
        return VerifyResult(key=key, ok=digest.blake3 == key_hex(key), digest=digest)

    # -- operations --------------------------------------------------------------------------

    async def lock_probe(self, retain: dt.timedelta) -> LockProbe:
        """The file store's locks are Custody's own (read-only files and this process's checks), not
        a server's: the probe shows they hold against this store's API, and says so."""
        until = dt.datetime.now(dt.UTC) + retain
        stored = await self.put(bytes_source(LOCK_PROBE_PREFIX + uuid.uuid4().hex.encode()),
                                retain_until=until)
        try:
            await self.delete(stored.key)
            delete_refused = False
        except ObjectLocked:
            delete_refused = True
        try:
            await self.extend_retention(stored.key, dt.datetime.now(dt.UTC))
            shorten_refused = False
        except RetentionShortened:
            shorten_refused = True
        return LockProbe(server=f"Custody FileStore at {self.root} (locks enforced by Custody, not by a server)",
                         key=stored.key, version_id=None, retain_until=until, delete_refused=delete_refused,
                         shorten_refused=shorten_refused, how="delete and a shorter retention through the store")

    async def check(self) -> None:
        def probe() -> None:
            self._ensure_dirs()
            probe = self._tmp / f"probe-{uuid.uuid4().hex}"
            probe.write_bytes(b"ok")
            probe.unlink()

        try:
            await asyncio.to_thread(probe)
        except OSError as exc:
            raise StoreUnavailable(f"file store at {self.root} is not writable: {exc}") from exc

    async def sweep(self, older_than_s: float = STALE_TMP_SECONDS) -> int:
        """Remove temp files left by writers that died; returns how many went.

        An object's temp file goes as soon as no writer holds its lock (a partial write, or a link to
        a stored object left by a writer killed between publishing and unlinking: the object keeps its
        own name); anything else in ``tmp/`` (a probe) once it is ``older_than_s`` old.
        """

        def run() -> int:
            if not self._tmp.is_dir():
                return 0
            cutoff = time.time() - older_than_s
            gone = 0
            for entry in os.scandir(self._tmp):
                try:
                    dead = _unlocked(entry.path) if entry.name.endswith(TMP_SUFFIX) else entry.stat().st_mtime < cutoff
                    if dead:
                        os.unlink(entry.path)
                        gone += 1
                except FileNotFoundError:
                    continue  # its writer finished meanwhile
            return gone

        return await asyncio.to_thread(run)

    async def object_keys(self, older_than: dt.timedelta) -> list[str]:
        def run() -> list[str]:
            cutoff = time.time() - older_than.total_seconds()
            found = []
            for path in sorted((self.root / "blake3").glob("??/*")):
                try:
                    if path.stat().st_mtime < cutoff:
                        found.append(KEY_PREFIX + path.name)
                except FileNotFoundError:
                    continue
            return found

        return await asyncio.to_thread(run)

    async def close(self) -> None:
        return None


def _unlocked(path: str) -> bool:
    """Whether no process holds the writer's lock on ``path`` (taking and dropping it to find out)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


class _BlockRing:
    """One object write in flight: a ring of page-aligned blocks (``RING_BLOCKS``, ``RING_MAX_BYTES``)
    filled in turn on the event loop, each then hashed (BLAKE3, SHA-256) and written by three threads
    of the write's own, one per job, each taking the blocks in order.

    Why so: filling is the event loop's work (it also receives the bytes); the two hashes and the
    write are not, and none of the three should wait for the others.  Both hashes and the write
    release the GIL, so they run side by side on two cores.  A block is filled again only once all
    three are done with it, so memory is the ring's whatever the object's size, and a failed write
    is reported no later than ``finish``: no digest, so no receipt, without every byte on disk.
    """

    def __init__(self, fd: int, block: int) -> None:
        self.block = block
        self.writer = _Writer(fd)
        self.hasher = ContentHasher()
        blocks = max(2, min(RING_BLOCKS, RING_MAX_BYTES // block))
        # One anonymous map: page-aligned (O_DIRECT), reused for the whole object (no heap churn).
        self.memory = mmap.mmap(-1, block * blocks)
        self.buffers = [memoryview(self.memory)[i * block:(i + 1) * block] for i in range(blocks)]
        self.busy: list[list[Future[None]]] = [[] for _ in range(blocks)]
        self.queued: collections.deque[memoryview] = collections.deque()  # handed on, not yet written
        self.stages = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"filestore-{job}")
                       for job in ("blake3", "sha256", "write")]
        self.slot = 0
        self.fill = 0

    async def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        """Copy ``chunk`` into the ring; the caller may reuse it as soon as this returns."""
        view = memoryview(chunk).cast("B")
        while view:
            if not self.fill:
                await self._wait(self.slot)
            take = min(self.block - self.fill, len(view))
            self.buffers[self.slot][self.fill:self.fill + take] = view[:take]
            self.fill += take
            view = view[take:]
            if self.fill == self.block:
                self._hand_on()

    async def finish(self) -> ContentDigest:
        """Hand on the last block, wait for every job, make the file durable; the digest."""
        if self.fill:
            self._hand_on()
        for _ in self.buffers:  # the ring in order, from the oldest block
            await self._wait(self.slot)
            self.slot = (self.slot + 1) % len(self.buffers)
        try:
            await asyncio.to_thread(self.writer.sync)
        except OSError as exc:
            raise _write_failed(exc) from exc
        return self.hasher.digest()

    def close(self) -> None:
        """Stop the threads, dropping queued blocks (blocking: run it off the loop)."""
        for stage in self.stages:
            stage.shutdown(wait=True, cancel_futures=True)

    def _hand_on(self) -> None:
        view = self.buffers[self.slot][:self.fill]
        self.queued.append(view)
        blake3, sha256, write = self.stages
        self.busy[self.slot] = [write.submit(self._write_queued), sha256.submit(self.hasher.update_sha256, view),
                                blake3.submit(self.hasher.update_blake3, view)]
        self.slot = (self.slot + 1) % len(self.buffers)
        self.fill = 0

    def _write_queued(self) -> None:
        """Write every block handed on so far (the write thread): blocks that queued up while the
        last write ran go out in one larger write, which this disk takes faster."""
        views: list[memoryview] = []
        while self.queued:
            views.append(self.queued.popleft())
        if views:
            self.writer.write_many(views)

    async def _wait(self, slot: int) -> None:
        """Until every job on the block in ``slot`` is done; a failed one raises here."""
        jobs, self.busy[slot] = self.busy[slot], []
        running = [job for job in jobs if not job.done()]
        if running:
            await asyncio.wait([asyncio.wrap_future(job) for job in running])
        for job in jobs:
            if (exc := job.exception()) is not None:
                raise _write_failed(exc) if isinstance(exc, OSError) else exc


def _write_failed(exc: OSError) -> StoreUnavailable:
    return StoreUnavailable(f"the file store could not write the object ({exc}); nothing was stored")


class _Writer:
    """Writes an object's blocks, bypassing the page cache (O_DIRECT) where the filesystem allows.

    Why: a buffered write costs a kernel copy of every byte (about 1 s of CPU per GiB on the
    reference 2-core machine), and that CPU is what the hashes need; the evidence is not read back
    soon, so caching it only evicts hotter pages.  O_DIRECT wants aligned offsets, lengths and
    memory: whole blocks of a ``_BlockRing`` (page-aligned maps) qualify; the tail of the last
    block, or any filesystem that refuses (tmpfs, some network filesystems: EINVAL), falls back to
    buffered writes.  Direct writes go into disk reserved ahead (``RESERVE_AHEAD_BYTES``), and
    ``sync`` cuts the file to what was written, then fsyncs: durability is unchanged.
    After a failed write the writer writes nothing more (the file is discarded).
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.direct = _set_direct(fd, True)
        self.written = 0
        self.reserved = 0  # the file's length as reserved; -1: this filesystem reserves nothing
        self.failed = False

    def write(self, data: bytes | memoryview) -> None:
        if self.failed:
            return  # an earlier block failed: that error is the one reported
        try:
            view = memoryview(data).cast("B")
            if self.direct:
                self._reserve(len(view))
            while view:
                part = view
                if self.direct:
                    aligned = len(view) - len(view) % DIRECT_ALIGN
                    if aligned:
                        part = view[:aligned]
                    else:
                        self._buffered()
                try:
                    written = os.write(self.fd, part)
                except OSError as exc:
                    if not (self.direct and exc.errno == errno.EINVAL):
                        raise
                    self._buffered()  # misaligned memory or a filesystem that only says so now
                    continue
                view = view[written:]
                self.written += written
        except BaseException:
            self.failed = True
            raise

    def write_many(self, views: list[memoryview]) -> None:
        """Write ``views`` in order: whole aligned blocks in one direct write (each is a full
        block), anything else one at a time through ``write``."""
        if self.failed:
            return
        if not self.direct or len(views) == 1 or any(len(v) % DIRECT_ALIGN for v in views):
            for view in views:
                self.write(view)
            return
        try:
            self._reserve(sum(len(v) for v in views))
            written = os.writev(self.fd, views)
        except BaseException:
            self.failed = True
            raise
        self.written += written
        for view in views:  # a short write (rare): the rest one by one
            if written < len(view):
                self.write(view[written:])
            written = max(0, written - len(view))

    def sync(self) -> None:
        """Cut what was reserved past the last byte written, then fsync."""
        if self.reserved > self.written:
            os.ftruncate(self.fd, self.written)
        os.fsync(self.fd)

    def _reserve(self, size: int) -> None:
        end = self.written + size
        if self.reserved < 0 or end <= self.reserved:
            return
        # Ahead by as much as is written so far (small objects reserve little), up to the cap.
        until = end + min(max(self.written, size), RESERVE_AHEAD_BYTES)
        if not _fallocate(self.fd, self.reserved, until - self.reserved):
            self.reserved = -1  # not here (tmpfs without it, network filesystems): write as it comes
            return
        self.reserved = until

    def _buffered(self) -> None:
        _set_direct(self.fd, False)
        self.direct = False


@cache
def _libc_fallocate() -> Any:
    """glibc's ``fallocate(2)`` wrapper, or None.  Not ``os.posix_fallocate``: where the filesystem
    has no fallocate, glibc emulates that one by writing into every block, which would cost more
    than it saves."""
    try:
        fallocate = ctypes.CDLL(None, use_errno=True).fallocate64
    except (OSError, AttributeError):
        return None
    fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    fallocate.restype = ctypes.c_int
    return fallocate


def _fallocate(fd: int, offset: int, length: int) -> bool:
    """Reserve ``length`` bytes of disk at ``offset`` (the file grows to cover them); False if not done."""
    fallocate = _libc_fallocate()
    return fallocate is not None and fallocate(fd, 0, offset, length) == 0


def _set_direct(fd: int, on: bool) -> bool:
    """Turn O_DIRECT on or off for ``fd``; False when this platform or filesystem has none."""
    flag = getattr(os, "O_DIRECT", 0)
    if not flag:
        return False
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, flags | flag if on else flags & ~flag)
    except OSError:
        return False
    return on


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError("retention times must be timezone-aware")
    return value.astimezone(dt.UTC)


def _parse_time(value: object) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else None
