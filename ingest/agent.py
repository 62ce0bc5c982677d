"""The docking-station agent: pull, hash, upload, verify the receipt, only then wipe; then proxy.

For each file of a docked camera the journal (``ingest/spool.py``) records every step before the
next one may happen.  Originals go first: pulled into the spool (hashed as they stream), uploaded
resumably, and the server's receipt is verified here against the pinned vkey.  Only a file in state
``uploaded`` — verified receipt on disk — is deleted from the camera.  The proxy is made afterwards
from the spool copy, so evidence is safe before any transcoding; a file ffmpeg cannot read stays
evidence and is flagged "no proxy" with ffmpeg's error.  A crash at any point resumes from the last
durable state; nothing is ever dropped, and nothing is removed from a camera on an unverified receipt.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import errno
import logging
import mimetypes
import mmap
import os
import shutil
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from tqdm import tqdm

from foundation.durable import replace_durably
from foundation.pipeline import pipelined
from ingest.client import ApiError, CustodyClient
from ingest.probe import media_fields
from ingest.proxy import ProxyFailed, ProxySettings, ffmpeg_version, make_proxy
from ingest.ptp import DeviceGone
from ingest.sources import CameraFile, CameraSource, MountedSource
from ingest.spool import FileRow, Journal
from integrity.errors import IntegrityError
from integrity.hashing import ContentDigest, ContentHasher

logger = logging.getLogger("custody.agent")
Block = TypeVar("Block")  # what a camera hands the spool: bytes, or where the kernel copied them

#: Bytes asked of the camera per read: large enough for USB bulk efficiency, small for bounded memory.
PULL_CHUNK_BYTES = 4 * 1024 * 1024
#: Bytes copied per step from a mounted volume: never held in memory (the kernel copies them and
#: they are hashed mapped), so larger than a camera read; measured best on the bench (4 to 64 MiB).
COPY_CHUNK_BYTES = 16 * 1024 * 1024
#: How often the pull offset is made durable (fsync + journal) during a long transfer.
DURABLE_EVERY_BYTES = 64 * 1024 * 1024
#: Free space the spool keeps in reserve beyond the file being pulled.
SPOOL_RESERVE_BYTES = 512 * 1024 * 1024
#: Mounted volumes are copied in the kernel with sendfile(2), which takes a regular file as its
#: destination only on Linux; elsewhere they are read like any camera.
KERNEL_COPY = sys.platform == "linux"
CRASH_ENV = "CUSTODY_AGENT_CRASH_AFTER"  # tests: exit abruptly right after entering this state


class SpoolFull(Exception):
    """Not enough space to pull: pulling stops (with an alarm), nothing unreceipted is deleted."""


class TruncatedTransfer(Exception):
    pass


@dataclass(frozen=True)
class AgentConfig:
    spool_dir: Path
    case: str | None = None
    officer: str | None = None
    make_proxies: bool = True
    proxy_height: int = 720
    proxy_preset: str = "veryfast"
    bandwidth_bytes_s: int | None = None  # None: as fast as the camera and link allow
    max_cameras: int = 2


@dataclass
class OffloadReport:
    camera: str
    receipted: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    proxies: int = 0
    no_proxy: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


class Throttle:
    """A token bucket for the station's bandwidth cap, shared by every camera.

    The bucket holds one second of bytes: a pull may start with a one-second burst, and over any
    longer stretch the average stays at the cap.  ``clock`` (seconds) and ``sleep`` are the time it
    runs on; tests pass a fake pair to check the arithmetic without waiting for it.
    """

    def __init__(self, bytes_per_s: int | None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.rate = bytes_per_s
        self._clock, self._sleep = clock, sleep
        self._allowance = float(bytes_per_s or 0)
        self._last = clock()
        self._lock = asyncio.Lock()

    async def take(self, n: int) -> None:
        """Wait until ``n`` more bytes fit under the cap (at once when there is no cap)."""
        if not self.rate:
            return
        async with self._lock:  # held while waiting: the cameras queue for the one link
            now = self._clock()
            self._allowance = min(self.rate, self._allowance + (now - self._last) * self.rate)
            self._last = now
            self._allowance -= n
            if self._allowance < 0:
                await self._sleep(-self._allowance / self.rate)


def _crash_point(state: str) -> None:
    if os.environ.get(CRASH_ENV) == state:
        logger.warning("test hook: exiting abruptly after entering %s", state)
        os._exit(75)


def _rfc3339(value: str | None) -> str | None:
    """Camera times as RFC 3339: PTP's 'YYYYMMDDThhmmss' is local time on the camera, taken as the station's."""
    if not value:
        return None
    for fmt in ("%Y%m%dT%H%M%S", "%Y%m%dT%H%M%S.%f"):
        try:
            local = dt.datetime.strptime(value.rstrip("Z"), fmt)
        except ValueError:
            continue
        return local.astimezone().isoformat(timespec="seconds")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.astimezone()).isoformat(timespec="seconds")


class Agent:
    def __init__(self, config: AgentConfig, journal: Journal, client: CustodyClient) -> None:
        self.config = config
        self.journal = journal
        self.client = client
        self.throttle = Throttle(config.bandwidth_bytes_s)
        self._cameras = asyncio.Semaphore(config.max_cameras)
        config.spool_dir.mkdir(parents=True, exist_ok=True)

    def _spool(self, row: FileRow, suffix: str) -> Path:
        return self.config.spool_dir / f"{row.id:08d}{suffix}"

    # -- one camera -------------------------------------------------------------------------

    async def offload(self, source: CameraSource) -> OffloadReport:
        """Everything on a docked camera, file by file; returns what was receipted and what was not."""
        report = OffloadReport(source.serial)
        async with self._cameras:
            drift = await self._clock_drift(source)
            files = await source.list_files()
            logger.info("camera %s: %d file(s) to offload", source.serial, len(files))
            for f in files:
                meta = {"camera": source.serial, "officer": source.officer or self.config.officer,
                        "clock_drift_s": drift}
                row = await asyncio.to_thread(self.journal.discover, source.serial, f.name, f.size, f.recorded_at,
                                              {k: v for k, v in meta.items() if v is not None})
                try:
                    row = await self._advance(row, source, f)
                except SpoolFull as exc:
                    logger.error("ALARM spool disk full: %s; pulling stops, nothing is deleted", exc)
                    report.failed[f.name] = str(exc)
                    break
                except Exception as exc:  # one bad file must not stop the others; it stays in the journal
                    logger.error("camera %s file %s: %s", source.serial, f.name, exc)
                    await asyncio.to_thread(self.journal.update, row.id, attempts=row.attempts + 1,
                                            last_error=str(exc)[:1000])
                    report.failed[f.name] = str(exc)
                    if isinstance(exc, DeviceGone):
                        break  # undocked: the rest waits for the next docking, the journal remembers
                    if isinstance(exc, IntegrityError):
                        logger.error("ALARM receipt for %s did not verify (%s): it stays on the camera", f.name, exc)
                    continue
                report.receipted.append(f.name)
                if row.proxy_blake3:
                    report.proxies += 1
                if row.proxy_error:
                    report.no_proxy.append(f.name)
        logger.info("camera %s: %d receipted, %d failed", source.serial, len(report.receipted), len(report.failed))
        return report

    async def _clock_drift(self, source: CameraSource) -> int | None:
        camera = _rfc3339(await source.camera_time())
        if camera is None:
            return None
        return round((dt.datetime.fromisoformat(camera) - dt.datetime.now(dt.UTC)).total_seconds())

    async def _advance(self, row: FileRow, source: CameraSource, f: CameraFile) -> FileRow:
        """Drive one file from its journal state to ``done``; each step durable before the next."""
        if row.state in ("discovered", "pulling"):
            row = await self._pull(row, source, f)
        if row.state == "pulled":
            row = await self._upload_original(row, f)
        if row.state == "uploaded":
            await source.delete(f)  # verified receipt on disk: the camera copy may go
            row = await self._set(row, state="removed")
        return await self.finish(row)

    async def finish(self, row: FileRow) -> FileRow:
        """After the camera copy is gone: proxy, then drop the spool copy."""
        if row.state == "removed":
            row = await self._proxy(row)
        if row.state in ("proxied", "no_proxy"):
            for suffix in (".orig", ".part", ".proxy.mp4"):
                with contextlib.suppress(FileNotFoundError):
                    self._spool(row, suffix).unlink()
            row = await self._set(row, state="done")
        return row

    async def _set(self, row: FileRow, **fields: Any) -> FileRow:
        updated = await asyncio.to_thread(self.journal.update, row.id, **fields)
        if "state" in fields:
            _crash_point(fields["state"])
        return updated

    # -- steps ------------------------------------------------------------------------------

    async def _pull(self, row: FileRow, source: CameraSource, f: CameraFile) -> FileRow:
        part = self._spool(row, ".part")
        offset = row.pulled if row.state == "pulling" and part.exists() and part.stat().st_size >= row.pulled else 0
        free = shutil.disk_usage(self.config.spool_dir).free
        if free < (f.size - offset) + SPOOL_RESERVE_BYTES:
            raise SpoolFull(f"{self.config.spool_dir} has {free} bytes free; {f.name} needs {f.size - offset}")
        # BLAKE3 only: it is the content address the upload declares and the receipt is checked
        # against; the server computes SHA-256 in its own pass, so the pull runs at copy speed.
        hasher = ContentHasher(sha256=False)
        fd = await asyncio.to_thread(os.open, part, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            await asyncio.to_thread(os.ftruncate, fd, offset)  # bytes past the durable offset are not trusted
            if offset:
                await asyncio.to_thread(_hash_spooled, fd, 0, offset, hasher)
            row = await self._set(row, state="pulling", pulled=offset)
            if KERNEL_COPY and isinstance(source, MountedSource):
                # A mounted volume: the kernel copies each chunk into the spool file, as cp does, and the
                # chunk is hashed from the spool file, so the hash is of exactly the bytes that landed there.
                copied = self._copied(source.local_path(f), part, f, offset)
                await self._spool_in(row, f, part, offset, copied, lambda block: _hash_spooled(fd, *block, hasher))
            else:
                read = self._read(source, f, offset)
                await self._spool_in(row, f, part, offset, read, lambda block: _write_and_hash(fd, *block, hasher))
            await asyncio.to_thread(os.fsync, fd)
        finally:
            os.close(fd)
        digest = hasher.digest()
        if digest.size != f.size:
            raise TruncatedTransfer(f"{f.name}: pulled {digest.size} bytes, the camera lists {f.size}")
        orig = self._spool(row, ".orig")
        await asyncio.to_thread(replace_durably, part, orig, sync_file=False)  # fsynced above
        logger.info("pulled %s from %s: %d bytes, blake3 %s", f.name, row.camera, digest.size, digest.blake3)
        return await self._set(row, state="pulled", pulled=f.size, blake3=digest.blake3)

    async def _spool_in(self, row: FileRow, f: CameraFile, part: Path, offset: int, blocks: AsyncIterator[Block],
                        land: Callable[[Block], int]) -> None:
        """Land each block in the spool file (``land`` returns the offset it reached) while the next one
        is on its way: the camera never waits on the disk.  The offset is made durable every so often."""
        progress = Progress(row.camera, f.name, f.size, offset)
        durable = DurableOffset(part, offset, lambda end: self._set(row, pulled=end))

        async def absorb(block: Block) -> None:
            end = await asyncio.to_thread(land, block)
            progress.update(end)
            durable.advance(end)

        try:
            await pipelined(blocks, absorb)
        finally:
            progress.close()
            failed = await durable.wait()
        if failed is not None:
            raise failed

    async def _read(self, source: CameraSource, f: CameraFile, offset: int) -> AsyncIterator[tuple[int, bytes]]:
        """``(position, bytes)`` read from the camera, ``offset`` to the end, under the bandwidth cap."""
        pos = offset
        while pos < f.size:
            chunk = await source.read(f, pos, min(PULL_CHUNK_BYTES, f.size - pos))
            if not chunk:
                raise TruncatedTransfer(f"{f.name}: camera returned no data at {pos} of {f.size}")
            await self.throttle.take(len(chunk))
            yield pos, chunk
            pos += len(chunk)

    async def _copied(self, path: Path, part: Path, f: CameraFile, offset: int) -> AsyncIterator[tuple[int, int]]:
        """``(position, length)`` of each chunk once the kernel has copied it from ``path`` into ``part``."""
        pos = offset
        while pos < f.size:
            length = min(COPY_CHUNK_BYTES, f.size - pos)
            await self.throttle.take(length)
            copied = await asyncio.to_thread(_copy_range, path, part, pos, length)
            if not copied:
                raise TruncatedTransfer(f"{f.name}: the file ends at {pos}, the camera lists {f.size}")
            yield pos, copied
            pos += copied

    async def _upload_original(self, row: FileRow, f: CameraFile) -> FileRow:
        orig = self._spool(row, ".orig")
        assert row.blake3
        digest = ContentDigest(row.blake3, row.sha256 or "", row.size)
        meta: dict[str, Any] = {**row.meta, "file_name": Path(f.name).name, "source_path": f.name,
                                "media_type": mimetypes.guess_type(f.name)[0] or "application/octet-stream"}
        if self.config.case:
            meta["case"] = self.config.case
        if (recorded := _rfc3339(f.recorded_at)) is not None:
            meta["recorded_at"] = recorded
        # What the camera wrote into the file beats the listing's time (an unreadable file has no facts).
        facts = await media_fields(orig, meta["media_type"])
        facts.pop("probe_error", None)
        meta.update(facts)
        entry = await self.client.upload(orig, {k: v for k, v in meta.items() if v is not None}, digest)
        # The client has verified the receipt (signature, inclusion proof, hash); keep it as proof.
        return await self._set(row, state="uploaded", receipt=entry, case_id=entry["case"], seq=entry["seq"])

    async def _proxy(self, row: FileRow) -> FileRow:
        if not self.config.make_proxies or not (mimetypes.guess_type(row.name)[0] or "").startswith("video/"):
            return await self._set(row, state="proxied")
        orig, out = self._spool(row, ".orig"), self._spool(row, ".proxy.mp4")
        settings = ProxySettings(height=self.config.proxy_height, preset=self.config.proxy_preset)
        try:
            result = await make_proxy(orig, out, settings)
        except ProxyFailed as exc:
            logger.warning("no proxy for %s: %s", row.name, exc)
            error = " ".join(str(exc).split())[:4000]  # one line: ffmpeg's stderr has newlines
            await self.client.request("POST", f"/api/v1/evidence/{row.blake3}/no-proxy",
                                      json={"case": row.case_id, "error": error, "ffmpeg_version": ffmpeg_version()})
            return await self._set(row, state="no_proxy", proxy_error=error[:1000])
        meta: dict[str, Any] = {"kind": "proxy", "case": row.case_id, "original_blake3": row.blake3,
                                "file_name": Path(row.name).stem + ".proxy.mp4", "media_type": "video/mp4",
                                "ffmpeg": {"command": result.command, "version": result.version},
                                **{k: v for k, v in result.facts.as_fields().items()}}
        if row.meta.get("camera"):
            meta["camera"] = row.meta["camera"]
        entry = await self.client.upload(out, meta)
        return await self._set(row, state="proxied", proxy_blake3=entry["blake3"])

    # -- after a restart --------------------------------------------------------------------

    async def resume(self, sources: Iterable[CameraSource] = ()) -> OffloadReport:
        """Finish what the journal says is unfinished; camera-side steps need the camera docked."""
        report = OffloadReport("journal")
        by_serial = {s.serial: s for s in sources}
        for row in await asyncio.to_thread(self.journal.pending):
            try:
                if row.state in ("removed", "proxied", "no_proxy"):
                    await self.finish(row)
                elif row.state == "pulled":
                    f = CameraFile(row.name, row.size, row.recorded_at or None, row.name)
                    row = await self._upload_original(row, f)
                    if row.camera in by_serial:
                        await self._advance(row, by_serial[row.camera], f)
                report.receipted.append(row.name)
            except (aiohttp.ClientError, ApiError, IntegrityError, TimeoutError, OSError) as exc:
                report.failed[row.name] = str(exc)
        return report


class DurableOffset:
    """How far a pull is on disk: every ``DURABLE_EVERY_BYTES`` the spool file is fsynced, then the
    offset is journaled, so a crash resumes there.

    This runs in the background, one at a time: the disk writes out what was copied while the next
    chunks are copied and hashed, instead of stalling them.  The fsync covers every byte up to the
    offset it journals, since those were written before it began: the journal never runs ahead of
    the disk.
    """

    def __init__(self, part: Path, start: int, journal: Callable[[int], Awaitable[object]]) -> None:
        self.part = part
        self.offset = start  # the last offset handed to the background (durable once it is done)
        self._journal = journal
        self._task: asyncio.Task[None] | None = None

    def advance(self, end: int) -> None:
        """Bytes up to ``end`` are in the spool file: start making them durable if it is time."""
        if self._task is not None and self._task.done():
            self._task.result()  # a failed fsync or journal write fails the pull
        if end - self.offset < DURABLE_EVERY_BYTES or (self._task is not None and not self._task.done()):
            return
        self.offset = end
        self._task = asyncio.create_task(self._make_durable(end))

    async def _make_durable(self, end: int) -> None:
        await asyncio.to_thread(_fsync_path, self.part)
        await self._journal(end)

    async def wait(self) -> BaseException | None:
        """Let the one in flight finish (it is never cancelled halfway); its error, if it failed."""
        if self._task is None:
            return None
        await asyncio.wait({self._task})
        return None if self._task.cancelled() else self._task.exception()


class Progress:
    """Per-file pull progress: a bar on a terminal (tqdm), a log line every quarter otherwise."""

    def __init__(self, camera: str, name: str, size: int, start: int) -> None:
        self.camera, self.name, self.size = camera, name, size
        self._logged = start * 4 // max(size, 1)
        self._bar: Any = None
        if sys.stderr.isatty():
            self._bar = tqdm(total=size, initial=start, unit="B", unit_scale=True, unit_divisor=1024,
                             desc=f"{camera} {Path(name).name}", leave=False)
        self._done = start

    def update(self, done: int) -> None:
        if self._bar is not None:
            self._bar.update(done - self._done)
        self._done = done
        quarter = done * 4 // max(self.size, 1)
        if quarter > self._logged and self.size >= 64 * 1024 * 1024:
            self._logged = quarter
            logger.info("camera %s: %s %d%% (%d of %d MiB)", self.camera, self.name, quarter * 25,
                        done >> 20, self.size >> 20)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _hash_spooled(fd: int, start: int, length: int, hasher: ContentHasher) -> int:
    """Hash ``length`` bytes of the spool file from ``start``; returns the end.

    Mapped, not read: BLAKE3 reads the page cache in place, a copy fewer per byte.  The spool file
    only shrinks when a pull starts (to its durable offset), never while it is mapped.
    """
    pos, end = start, start + length
    while pos < end:
        base = pos - pos % mmap.ALLOCATIONGRANULARITY  # a mapping starts on a page boundary
        size = min(end - base, COPY_CHUNK_BYTES)
        with (mmap.mmap(fd, size, offset=base, access=mmap.ACCESS_READ) as mapped,
              memoryview(mapped) as view, view[pos - base:] as span):
            hasher.update(span)
        pos = base + size
    return end


def _copy_range(src: Path, dst: Path, pos: int, length: int) -> int:
    """Copy up to ``length`` bytes at ``pos`` of ``src`` to the same place in ``dst``; 0 at the end of ``src``.

    sendfile(2) moves the bytes page cache to page cache, never through this process, which is why
    the pull keeps up with ``cp``; unlike copy_file_range(2) it also works across filesystems (a
    camera's FAT volume into the spool).  Each call opens its own descriptors: a cancelled pull may
    close the spool file while this still runs in its worker thread.
    """
    with _opened(src, os.O_RDONLY) as src_fd, _opened(dst, os.O_WRONLY) as dst_fd:
        os.lseek(dst_fd, pos, os.SEEK_SET)  # sendfile writes at the destination's file position
        try:
            return os.sendfile(dst_fd, src_fd, pos, length)
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                raise
        chunk = os.pread(src_fd, length, pos)  # a filesystem that cannot splice: through user space
        _pwrite_all(dst_fd, pos, chunk)
        return len(chunk)


@contextlib.contextmanager
def _opened(path: Path, flags: int) -> Iterator[int]:
    fd = os.open(path, flags)
    try:
        yield fd
    finally:
        os.close(fd)


def _pwrite_all(fd: int, offset: int, chunk: bytes) -> None:
    view = memoryview(chunk)
    written = 0
    while written < len(view):
        written += os.pwrite(fd, view[written:], offset + written)


def _write_and_hash(fd: int, offset: int, chunk: bytes, hasher: ContentHasher) -> int:
    _pwrite_all(fd, offset, chunk)
    hasher.update(chunk)
    return offset + len(chunk)


def _fsync_path(path: Path) -> None:
    # Its own descriptor: fsync flushes the file whatever descriptor asks, and the pull's own may be
    # closed (a failed or cancelled pull) while this still runs in its worker thread.
    with _opened(path, os.O_RDONLY) as fd:
        os.fsync(fd)
