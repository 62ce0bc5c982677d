"""The docking-station agent: pull, hash, upload, verify the receipt, only then wipe; then proxy.

For each file of a docked camera the journal (``ingest/spool.py``) records every step before the
next one may happen.  Originals go first: pulled into the spool (hashed as they stream), uploaded
resumably, and the server's receipt is verified here against the pinned vkey.  Only a file in state
``uploaded`` — verified receipt on disk — is deleted from the camera, and only if the camera still
holds exactly the receipted bytes.  The proxy is made afterwards from the spool copy, so evidence is
safe before any transcoding; a file ffmpeg cannot read stays evidence and is flagged "no proxy" with
ffmpeg's error, while a station short of disk or memory waits and tries again.  A crash at any point
resumes from the last durable state; nothing is ever dropped, and nothing is removed from a camera on
an unverified receipt.

Recorders are docked while still writing.  A file is pulled only once it has been unchanged for
``stable_s``; after the pull its size, stamps and first and last bytes are compared with the camera's
again (a file that changed is pulled again as a new version), and once more before the wipe (a file
that changed since is left on the camera and pulled as a version of its own).
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
import re
import shutil
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tqdm import tqdm

from foundation.durable import replace_durably
from foundation.errors import Conflict, CustodyError, Status
from foundation.pipeline import pipelined
from ingest.client import CustodyClient
from ingest.probe import media_fields
from ingest.proxy import ProxyDeferred, ProxyFailed, ProxySettings, ffmpeg_version, make_proxy
from ingest.ptp import DeviceGone
from ingest.sources import CameraFile, CameraSource, MountedSource
from ingest.spool import CAMERA_STATES, FileRow, Journal
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
#: Tests: exit abruptly right after this point: a journal state just entered, ``deleted`` (the camera
#: file deleted, not yet journaled) or ``transcoding`` (ffmpeg just started).
CRASH_ENV = "CUSTODY_AGENT_CRASH_AFTER"
#: Bytes compared at each end of a file after its pull and before its wipe: a rewritten head or tail
#: is caught even where the size and the stamps stayed the same.
HEAD_TAIL_BYTES = 1024 * 1024
#: Versions of one file pulled in one pass at most; a file still changing after that waits for the next.
VERSION_TRIES = 3
#: Longest wait, in seconds, between tries of a proxy deferred for want of disk or memory.
RETRY_MAX_S = 600.0
#: Spool names: a pull in progress, a pulled original, a proxy; ffmpeg's temp output for a proxy.
SPOOL_NAME = re.compile(r"^(?P<id>\d{8})\.(?P<kind>part|orig|proxy\.mp4)$")
FFMPEG_TEMP = re.compile(r"^\.\d{8}\.proxy\.mp4\.[0-9a-f]+\.part$")
#: The states in which a spool file of each kind is still needed (any other is swept at start-up).
SPOOL_NEEDED = {"part": ("pulling",), "orig": ("pulled", "uploaded", "removed", "kept", "no_proxy"),
                "proxy.mp4": ()}
#: States whose original is receipted (verified) and the states after it.
RECEIPTED = ("uploaded", "removed", "kept", "proxied", "no_proxy", "done")


class SpoolFull(CustodyError):
    """Not enough space to pull: pulling stops (with an alarm), nothing unreceipted is deleted."""

    status = Status.UNAVAILABLE
    code = "spool_full"


class TruncatedTransfer(CustodyError):
    """The camera gave fewer bytes than it listed (a card dropping out); the pull resumes later."""

    status = Status.UNAVAILABLE
    code = "truncated_transfer"


class FileChanged(Conflict):
    """The camera's file changed while it was pulled: this version is dropped, the new one is pulled."""

    code = "file_changed"

    def __init__(self, message: str, now: CameraFile | None) -> None:
        super().__init__(message)
        self.now = now


class StillWriting(Conflict):
    """The camera is still writing the file: it stays there and is pulled once it has settled."""

    code = "still_writing"


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
    #: Seconds a file must be unchanged before it is pulled: a recorder may still be writing it.
    stable_s: float = 3.0
    #: Seconds to wait at most for a growing file to settle in one pass (it is left for the next).
    settle_max_s: float = 300.0
    #: Seconds before a proxy deferred for want of disk or memory is tried again (doubling each time).
    resource_retry_s: float = 30.0
    #: Seconds a flagged ("no proxy") file's spool copy is kept, so ``--retry-proxies`` can try again.
    flag_keep_s: float = 3 * 24 * 3600.0


@dataclass
class OffloadReport:
    camera: str
    receipted: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    proxies: int = 0
    no_proxy: list[str] = field(default_factory=list)
    #: Safe but not finished, and why: waiting for its camera, still being written, a deferred proxy.
    waiting: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def finished(self) -> bool:
        return not self.failed and not self.waiting

    def tally(self, row: FileRow) -> None:
        if row.state not in RECEIPTED:
            return
        self.receipted.append(row.name)
        if row.proxy_blake3:
            self.proxies += 1
        if row.proxy_error:
            self.no_proxy.append(row.name)
        if row.state in ("removed", "kept"):
            self.waiting[row.name] = f"proxy not made yet: {row.last_error or 'pending'}"
        elif row.state == "uploaded":
            self.waiting[row.name] = f"receipted; waits for camera {row.camera} to be docked"


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
        self.swept = self._sweep_spool()

    def _spool(self, row: FileRow, suffix: str) -> Path:
        return self.config.spool_dir / f"{row.id:08d}{suffix}"

    def _sweep_spool(self) -> int:
        """At start-up nothing of this agent is pulling or transcoding (the journal lock says no other
        agent is either): ffmpeg's temp outputs go, and every spool file its row no longer needs."""
        names = [e.name for e in os.scandir(self.config.spool_dir) if e.is_file(follow_symlinks=False)]
        ids = [int(m["id"]) for n in names if (m := SPOOL_NAME.match(n))]
        states = self.journal.states(ids)
        gone = 0
        for name in names:
            m = SPOOL_NAME.match(name)
            if m is None and not FFMPEG_TEMP.match(name):
                continue  # not a name the agent makes: not its to remove
            if m is not None and states.get(int(m["id"]), "") in SPOOL_NEEDED[m["kind"]]:
                continue
            with contextlib.suppress(FileNotFoundError):
                (self.config.spool_dir / name).unlink()
                gone += 1
        if gone:
            logger.info("spool: swept %d file(s) left by an earlier run", gone)
        return gone

    # -- one camera -------------------------------------------------------------------------

    async def offload(self, source: CameraSource) -> OffloadReport:
        """Everything on a docked camera, file by file; returns what was receipted and what was not."""
        report = OffloadReport(source.serial)
        async with self._cameras:
            drift = await self._clock_drift(source)
            files = await source.list_files()
            logger.info("camera %s: %d file(s) to offload", source.serial, len(files))
            meta = {k: v for k, v in {"camera": source.serial, "officer": source.officer or self.config.officer,
                                      "clock_drift_s": drift}.items() if v is not None}
            touched: set[int] = set()
            for f in files:
                try:
                    await self._offload_file(source, f, meta, touched, report)
                except SpoolFull as exc:
                    logger.error("ALARM spool disk full: %s; pulling stops, nothing is deleted", exc)
                    report.failed[f.name] = str(exc)
                    break
                except StillWriting as exc:
                    logger.warning("camera %s: %s", source.serial, exc)
                    report.waiting[f.name] = str(exc)
                except Exception as exc:  # one bad file must not stop the others; it stays in the journal
                    logger.error("camera %s file %s: %s", source.serial, f.name, exc)
                    report.failed[f.name] = str(exc)
                    if isinstance(exc, DeviceGone):
                        break  # undocked: the rest waits for the next docking, the journal remembers
                    if isinstance(exc, IntegrityError):
                        logger.error("ALARM receipt for %s did not verify (%s): it stays on the camera", f.name, exc)
            else:
                await self._reconcile(source, files, touched, report)
        logger.info("camera %s: %d receipted, %d failed", source.serial, len(report.receipted), len(report.failed))
        return report

    async def _offload_file(self, source: CameraSource, f: CameraFile, meta: dict[str, Any], touched: set[int],
                            report: OffloadReport) -> None:
        """One file of the camera, and the versions that replace it while it is being offloaded."""
        changed = False
        for _ in range(VERSION_TRIES):
            settled = await self._settled(source, f, changed=changed)
            if settled is None:
                return  # gone from the camera before it could be pulled
            f = settled
            row = await asyncio.to_thread(self.journal.discover, source.serial, f.name, f.size, f.recorded_at, meta,
                                          f.modified)
            touched.add(row.id)
            try:
                row = await self._advance(row, source, f)
            except FileChanged as exc:
                logger.warning("camera %s: %s; pulling it again as a new version", source.serial, exc)
                if exc.now is None:
                    return
                f, changed = exc.now, True
                continue
            except Exception as exc:
                await asyncio.to_thread(self.journal.update, row.id, attempts=row.attempts + 1,
                                        last_error=str(exc)[:1000])
                raise
            report.tally(row)
            if not row.camera_kept:
                return
            # The camera holds other bytes under this name than were receipted: they are a version of their own.
            now = await source.stat(f)
            if now is None:
                return
            f, changed = now, True
        raise StillWriting(f"{f.name} kept changing on the camera while it was offloaded; it is left there for now")

    async def _settled(self, source: CameraSource, f: CameraFile, *, changed: bool) -> CameraFile | None:
        """``f`` once it has been unchanged for ``stable_s`` (as the camera lists it then), None if it went.

        A source that knows when a file was written (a mounted volume) is asked its age; of a camera
        without that clock, only a file seen to change is watched for ``stable_s`` before it is pulled.
        """
        stable = self.config.stable_s
        deadline = time.monotonic() + self.config.settle_max_s
        while True:
            if f.mtime is not None:
                wait = min(stable, stable - (time.time() - f.mtime))
                if wait <= 0:
                    return f
            elif not changed or stable <= 0:
                return f
            else:
                wait = stable
            if time.monotonic() + wait > deadline:
                raise StillWriting(f"{f.name} is still being written (changed within the last {stable:g} s)")
            logger.info("%s is still being written; waiting %.1f s for it to settle", f.name, wait)
            await asyncio.sleep(wait)
            now = await source.stat(f)
            if now is None:
                return None
            if now.mtime is None and now.same_version(f):
                return now  # unchanged for stable_s
            f = now

    async def _clock_drift(self, source: CameraSource) -> int | None:
        camera = _rfc3339(await source.camera_time())
        if camera is None:
            return None
        return round((dt.datetime.fromisoformat(camera) - dt.datetime.now(dt.UTC)).total_seconds())

    async def _advance(self, row: FileRow, source: CameraSource, f: CameraFile) -> FileRow:
        """Drive one file from its journal state to ``done``; each step durable before the next."""
        if row.state in CAMERA_STATES:
            row = await self._pull(row, source, f)
        if row.state == "pulled":
            row = await self._upload_original(row)
        if row.state == "uploaded":
            row = await self._camera_step(row, source, f)
        return await self.finish(row)

    async def _camera_step(self, row: FileRow, source: CameraSource, f: CameraFile | None) -> FileRow:
        """A receipted file leaves the camera, but only if the camera still holds exactly the receipted
        bytes; one already gone has its receipt verified again before the row moves on."""
        now = await source.stat(f) if f is not None else None
        if now is None:
            # Deleted before its journal entry (a crash in between), or by hand: no wipe needed, but the
            # row moves on only on a receipt that still verifies.
            await self._reverify(row)
            logger.info("%s is already gone from camera %s; its receipt verified again", row.name, row.camera)
            return await self._set(row, state="removed")
        assert f is not None
        if not now.same_version(f) or not await self._ends_match(source, now, self._spool(row, ".orig")):
            logger.warning("%s changed on camera %s after it was pulled: it stays there and is pulled again as "
                           "a version of its own", row.name, row.camera)
            return await self._set(row, state="kept", camera_kept=1)
        await source.delete(now)  # verified receipt on disk, and the same bytes: the camera copy may go
        _crash_point("deleted")
        return await self._set(row, state="removed")

    async def _reverify(self, row: FileRow) -> None:
        assert row.blake3
        digest = ContentDigest(row.blake3, row.sha256 or "", row.size)
        if row.proof is not None:
            await self.client.check_receipt(row.proof, digest)
            return
        # A journal from before whole receipts were kept: declaring the upload again is answered at once
        # with the receipt of what is already logged (no bytes are sent), verified by the client.
        await self._upload_original(row)

    async def finish(self, row: FileRow) -> FileRow:
        """After the camera step: proxy, then drop the spool copy."""
        if row.state in ("removed", "kept"):
            row = await self._proxy(row)
        if row.state == "no_proxy" and row.wait_until is not None and time.time() < row.wait_until:
            return row  # the flagged copy is kept a while for a retry (custody agent --retry-proxies)
        if row.state in ("proxied", "no_proxy"):
            for suffix in (".orig", ".part", ".proxy.mp4"):
                with contextlib.suppress(FileNotFoundError):
                    self._spool(row, suffix).unlink()
            row = await self._set(row, state="done")
        return row

    async def retry_flagged(self) -> list[str]:
        """Flagged files whose spool copy is still kept go back to the proxy step; their names."""
        again = []
        for row in await asyncio.to_thread(self.journal.pending):
            if row.state == "no_proxy" and self._spool(row, ".orig").exists():
                await self._set(row, state="removed", wait_until=None, attempts=0)
                again.append(row.name)
        return again

    async def _set(self, row: FileRow, **fields: Any) -> FileRow:
        updated = await asyncio.to_thread(self.journal.update, row.id, **fields)
        if "state" in fields:
            _crash_point(fields["state"])
        return updated

    async def _supersede(self, row: FileRow, why: str) -> FileRow:
        """This version will never be pulled whole (it changed, or went): its row and partial copy go."""
        row = await self._set(row, state="superseded", last_error=why)
        for suffix in (".part", ".orig"):
            with contextlib.suppress(FileNotFoundError):
                self._spool(row, suffix).unlink()
        return row

    # -- steps ------------------------------------------------------------------------------

    async def _pull(self, row: FileRow, source: CameraSource, f: CameraFile) -> FileRow:
        part = self._spool(row, ".part")
        try:
            digest = await self._pull_bytes(row, source, f, part)
        except TruncatedTransfer:
            now = await source.stat(f)
            if now is not None and now.same_version(f):
                raise  # the camera still lists what it did: a dropped transfer, resumed from the offset
            await self._supersede(row, "changed on the camera during its pull")
            raise FileChanged(f"{f.name} changed on the camera during its pull", now) from None
        # The bytes are the camera's only if the camera still lists the same file and its two ends read
        # the same again: a file still being written, or rewritten in place, is pulled again.
        now = await source.stat(f)
        if now is None or not now.same_version(f) or not await self._ends_match(source, now, part):
            await self._supersede(row, "changed on the camera during its pull")
            raise FileChanged(f"{f.name} changed on the camera during its pull", now)
        orig = self._spool(row, ".orig")
        await asyncio.to_thread(replace_durably, part, orig, sync_file=False)  # fsynced in the pull
        logger.info("pulled %s from %s: %d bytes, blake3 %s", f.name, row.camera, digest.size, digest.blake3)
        return await self._set(row, state="pulled", pulled=f.size, blake3=digest.blake3)

    async def _pull_bytes(self, row: FileRow, source: CameraSource, f: CameraFile, part: Path) -> ContentDigest:
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
        return digest

    async def _ends_match(self, source: CameraSource, f: CameraFile, copy: Path) -> bool:
        """Whether the first and last ``HEAD_TAIL_BYTES`` of the camera's file read the same as ``copy``."""
        span = min(HEAD_TAIL_BYTES, f.size)
        for offset in sorted({0, f.size - span}):
            theirs = bytearray()
            while len(theirs) < span:
                chunk = await source.read(f, offset + len(theirs), span - len(theirs))
                if not chunk:
                    return False  # shorter than it says: not the same file
                theirs += chunk
            ours = await asyncio.to_thread(_read_range, copy, offset, span)
            if theirs != ours:
                return False
        return True

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

    async def _upload_original(self, row: FileRow) -> FileRow:
        orig = self._spool(row, ".orig")
        assert row.blake3
        digest = ContentDigest(row.blake3, row.sha256 or "", row.size)
        meta: dict[str, Any] = {**row.meta, "file_name": Path(row.name).name, "source_path": row.name,
                                "media_type": mimetypes.guess_type(row.name)[0] or "application/octet-stream"}
        if self.config.case:
            meta["case"] = self.config.case
        if (recorded := _rfc3339(row.recorded_at or None)) is not None:
            meta["recorded_at"] = recorded
        # What the camera wrote into the file beats the listing's time (an unreadable file has no facts).
        facts = await media_fields(orig, meta["media_type"])
        facts.pop("probe_error", None)
        meta.update(facts)
        receipt, entry = await self.client.upload_receipted(orig, {k: v for k, v in meta.items() if v is not None},
                                                            digest)
        # The client has verified the receipt (signature, inclusion proof, hash); keep it whole as proof.
        return await self._set(row, state="uploaded", receipt=entry, proof=receipt, case_id=entry["case"],
                               seq=entry["seq"])

    async def _proxy(self, row: FileRow) -> FileRow:
        if not self.config.make_proxies or not (mimetypes.guess_type(row.name)[0] or "").startswith("video/"):
            return await self._set(row, state="proxied")
        if row.wait_until is not None and time.time() < row.wait_until:
            return row  # deferred for want of a resource: not yet
        orig, out = self._spool(row, ".orig"), self._spool(row, ".proxy.mp4")
        settings = ProxySettings(height=self.config.proxy_height, preset=self.config.proxy_preset)
        try:
            result = await make_proxy(orig, out, settings, started=lambda: _crash_point("transcoding"))
        except ProxyDeferred as exc:
            # The station's fault, not the recording's: no flag; tried again later, backing off.
            delay = min(self.config.resource_retry_s * 2 ** min(row.attempts, 16), RETRY_MAX_S)
            logger.warning("proxy for %s deferred %.0f s: %s", row.name, delay, exc.message)
            return await self._set(row, attempts=row.attempts + 1, last_error=str(exc)[:1000],
                                   wait_until=time.time() + delay)
        except ProxyFailed as exc:
            logger.warning("no proxy for %s: %s", row.name, exc)
            error = " ".join(str(exc).split())[:4000]  # one line: ffmpeg's stderr has newlines
            await self.client.request("POST", f"/api/v1/evidence/{row.blake3}/no-proxy",
                                      json={"case": row.case_id, "error": error, "ffmpeg_version": ffmpeg_version()})
            return await self._set(row, state="no_proxy", proxy_error=error[:1000],
                                   wait_until=time.time() + self.config.flag_keep_s)
        meta: dict[str, Any] = {"kind": "proxy", "case": row.case_id, "original_blake3": row.blake3,
                                "file_name": Path(row.name).stem + ".proxy.mp4", "media_type": "video/mp4",
                                "ffmpeg": {"command": result.command, "version": result.version},
                                **{k: v for k, v in result.facts.as_fields().items()}}
        if row.meta.get("camera"):
            meta["camera"] = row.meta["camera"]
        entry = await self.client.upload(out, meta)
        return await self._set(row, state="proxied", proxy_blake3=entry["blake3"], proxy_error=None, wait_until=None)

    # -- after a restart --------------------------------------------------------------------

    async def resume(self, sources: Iterable[CameraSource] = ()) -> OffloadReport:
        """Finish what the journal says is unfinished, whatever state each file is in.

        Steps that need no camera (upload, proxy, clean-up) run for every file; the camera steps run
        for the cameras in ``sources``, against what each lists now (a file already gone from it has its
        receipt verified again, then moves on); the files of other cameras wait for their docking.
        """
        report = OffloadReport("journal")
        docked = list(sources)
        serials = {s.serial for s in docked}
        for row in await asyncio.to_thread(self.journal.pending):
            if row.camera in serials:
                continue  # below, with the camera's listing
            try:
                if row.state == "pulled":
                    row = await self._upload_original(row)
                row = await self.finish(row)
            except Exception as exc:
                logger.error("resuming %s: %s", row.name, exc)
                report.failed[row.name] = str(exc)
                await asyncio.to_thread(self.journal.update, row.id, attempts=row.attempts + 1,
                                        last_error=str(exc)[:1000])
                continue
            report.tally(row)
            if row.state in CAMERA_STATES:
                report.waiting[row.name] = f"pulled in part; waits for camera {row.camera} to be docked"
        for source in docked:
            try:
                files = await source.list_files()
            except Exception as exc:
                report.failed[source.serial] = f"camera {source.serial} could not be listed: {exc}"
                continue
            await self._reconcile(source, files, set(), report)
        return report

    async def _reconcile(self, source: CameraSource, files: list[CameraFile], touched: set[int],
                         report: OffloadReport) -> None:
        """The camera's unfinished rows that this pass did not drive: each goes on from its state.

        A version no longer on the camera was superseded (if not yet pulled whole) or goes on without
        a wipe (if pulled: its receipt is verified again first); one still there and receipted is wiped
        if it is still the receipted bytes; one still there and not yet pulled is left to ``offload``.
        """
        listed = {(f.name, f.size, f.recorded_at or "", f.modified or ""): f for f in files}
        for row in await asyncio.to_thread(self.journal.pending, source.serial):
            if row.id in touched:
                continue
            f = listed.get((row.name, row.size, row.recorded_at, row.modified))
            try:
                if row.state in CAMERA_STATES:
                    if f is None:
                        await self._supersede(row, "gone from the camera before it was pulled whole")
                        logger.info("%s: a partial pull of a version no longer on camera %s dropped", row.name,
                                    row.camera)
                    continue
                if row.state == "pulled":
                    row = await self._upload_original(row)
                if row.state == "uploaded":
                    row = await self._camera_step(row, source, f)
                row = await self.finish(row)
            except Exception as exc:
                logger.error("camera %s file %s: %s", row.camera, row.name, exc)
                report.failed[row.name] = str(exc)
                await asyncio.to_thread(self.journal.update, row.id, attempts=row.attempts + 1,
                                        last_error=str(exc)[:1000])
                continue
            report.tally(row)


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


def _read_range(path: Path, offset: int, length: int) -> bytes:
    with _opened(path, os.O_RDONLY) as fd:
        return os.pread(fd, length, offset)


def _fsync_path(path: Path) -> None:
    # Its own descriptor: fsync flushes the file whatever descriptor asks, and the pull's own may be
    # closed (a failed or cancelled pull) while this still runs in its worker thread.
    with _opened(path, os.O_RDONLY) as fd:
        os.fsync(fd)
