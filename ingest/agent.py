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
import logging
import mimetypes
import os
import shutil
import sys
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from custody.durable import replace_durably
from custody.pipeline import pipelined
from ingest.client import ApiError, CustodyClient
from ingest.probe import ProbeError, probe
from ingest.ptp import DeviceGone
from ingest.sources import CameraFile, CameraSource
from ingest.spool import FileRow, Journal
from integrity.errors import IntegrityError
from integrity.hashing import ContentDigest, ContentHasher

logger = logging.getLogger("custody.agent")

#: Bytes asked of the camera per read: large enough for USB bulk efficiency, small for bounded memory.
PULL_CHUNK_BYTES = 4 * 1024 * 1024
#: How often the pull offset is made durable (fsync + journal) during a long transfer.
DURABLE_EVERY_BYTES = 64 * 1024 * 1024
#: Free space the spool keeps in reserve beyond the file being pulled.
SPOOL_RESERVE_BYTES = 512 * 1024 * 1024
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
    """A token bucket for the station's bandwidth cap, shared by every camera."""

    def __init__(self, bytes_per_s: int | None) -> None:
        self.rate = bytes_per_s
        self._allowance = float(bytes_per_s or 0)
        self._last = time.monotonic()
        self._lock = asyncio.Lock()

    async def take(self, n: int) -> None:
        if not self.rate:
            return
        async with self._lock:
            now = time.monotonic()
            self._allowance = min(self.rate, self._allowance + (now - self._last) * self.rate)
            self._last = now
            self._allowance -= n
            if self._allowance < 0:
                await asyncio.sleep(-self._allowance / self.rate)


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
                await asyncio.to_thread(_hash_prefix, fd, offset, hasher)
            row = await self._set(row, state="pulling", pulled=offset)
            durable = offset

            async def chunks() -> AsyncIterator[tuple[int, bytes]]:
                pos = offset
                while pos < f.size:
                    chunk = await source.read(f, pos, min(PULL_CHUNK_BYTES, f.size - pos))
                    if not chunk:
                        raise TruncatedTransfer(f"{f.name}: camera returned no data at {pos} of {f.size}")
                    await self.throttle.take(len(chunk))
                    yield pos, chunk
                    pos += len(chunk)

            progress = Progress(row.camera, f.name, f.size, offset)

            async def absorb(item: tuple[int, bytes]) -> None:
                # Runs while the next chunk is read from the camera: the USB link never waits on the disk.
                nonlocal durable, row
                pos, chunk = item
                await asyncio.to_thread(_write_and_hash, fd, pos, chunk, hasher)
                end = pos + len(chunk)
                progress.update(end)
                if end - durable >= DURABLE_EVERY_BYTES:
                    await asyncio.to_thread(os.fsync, fd)
                    row = await self._set(row, pulled=end)
                    durable = end

            try:
                await pipelined(chunks(), absorb)
            finally:
                progress.close()
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
        if meta["media_type"].startswith(("video/", "audio/")):
            with contextlib.suppress(ProbeError):
                facts = await probe(orig)
                meta.update(facts.as_fields())
                if facts.creation_time:  # what the camera wrote into the file beats the listing's time
                    meta["recorded_at"] = facts.creation_time
        entry = await self.client.upload(orig, {k: v for k, v in meta.items() if v is not None}, digest)
        # The client has verified the receipt (signature, inclusion proof, hash); keep it as proof.
        return await self._set(row, state="uploaded", receipt=entry, case_id=entry["case"], seq=entry["seq"])

    async def _proxy(self, row: FileRow) -> FileRow:
        if not self.config.make_proxies or not (mimetypes.guess_type(row.name)[0] or "").startswith("video/"):
            return await self._set(row, state="proxied")
        from ingest.proxy import ProxyFailed, ProxySettings, make_proxy

        orig, out = self._spool(row, ".orig"), self._spool(row, ".proxy.mp4")
        settings = ProxySettings(height=self.config.proxy_height, preset=self.config.proxy_preset)
        try:
            result = await make_proxy(orig, out, settings)
        except ProxyFailed as exc:
            logger.warning("no proxy for %s: %s", row.name, exc)
            from ingest.proxy import ffmpeg_version

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


class Progress:
    """Per-file pull progress: a bar on a terminal (tqdm), a log line every quarter otherwise."""

    def __init__(self, camera: str, name: str, size: int, start: int) -> None:
        self.camera, self.name, self.size = camera, name, size
        self._logged = start * 4 // max(size, 1)
        self._bar: Any = None
        if sys.stderr.isatty():
            from tqdm import tqdm

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


def _hash_prefix(fd: int, length: int, hasher: ContentHasher) -> None:
    done = 0
    while done < length:
        block = os.pread(fd, min(8 * 1024 * 1024, length - done), done)
        if not block:
            raise TruncatedTransfer("spool file shorter than its journaled offset")
        hasher.update(block)
        done += len(block)


def _write_and_hash(fd: int, offset: int, chunk: bytes, hasher: ContentHasher) -> None:
    view = memoryview(chunk)
    written = 0
    while written < len(view):
        written += os.pwrite(fd, view[written:], offset + written)
    hasher.update(view)
