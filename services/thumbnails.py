"""Stills and durations for evidence lists, made by ffmpeg from the proxy when it is ingested.

A proxy is the small, seekable H.264 copy a docking station makes of each recording; its still (the
most representative of the first frames, ffmpeg's ``thumbnail`` filter, scaled to
``WIDTH_PX`` wide, JPEG) and the recording's duration are made once, when the proxy is committed
(``services.intake``), or for items ingested earlier by ``custody thumbnails backfill``.  The still is
stored write-once in the object store like the proxy, and logged as ``evidence.thumbnail`` in the
case: the entry names the proxy (``of_blake3``) and its original, the duration, ffmpeg's version and
its arguments (paths as placeholders).  The ``thumbnails`` row is written in the append's
transaction, and scrub re-derives it from the entry.

The proxy is only read; a still that cannot be made is logged at WARNING and the list shows none.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shlex
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

from foundation.errors import NotFound
from integrity.hashing import object_key
from services.evidence import record_access
from services.locker import Locker
from services.permissions import authorize
from services.restriction import require_read
from storage import catalog
from storage import thumbnails as rows
from storage.log import Appended, Draft
from storage.principals import Principal

logger = logging.getLogger(__name__)

KIND = "evidence.thumbnail"
#: The still's width in pixels (the height keeps the aspect ratio, rounded to even).
WIDTH_PX = 320
#: How many of the first frames ffmpeg's ``thumbnail`` filter chooses the still from.
CANDIDATE_FRAMES = 50
#: Wall-clock limit of ffprobe plus ffmpeg on one proxy, in seconds.
TIMEOUT_S = 300
SOURCE, OUTPUT = "{proxy}", "{thumbnail}"
#: The actor of stills made at ingest: the server itself, not a person.
SERVER_ACTOR = "system:thumbnails"


class ThumbnailFailed(Exception):
    """ffprobe or ffmpeg could not read the proxy; the message carries their words."""


def command(src: Path, dst: Path) -> list[str]:
    return ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", f"file:{src}",
            "-vf", f"thumbnail={CANDIDATE_FRAMES},scale={WIDTH_PX}:-2", "-frames:v", "1", "-q:v", "4",
            "-f", "image2", "-c:v", "mjpeg", f"file:{dst}"]


async def _run(argv: list[str]) -> bytes:
    proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(TIMEOUT_S):
            out, err = await proc.communicate()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        raise ThumbnailFailed(f"{argv[0]} failed (exit status {proc.returncode}): "
                              f"{err.decode(errors='replace').strip()[-1000:]}")
    return out


async def probe(path: Path) -> tuple[int | None, bool]:
    """(duration in ms, has a video stream) of a recording, by ffprobe."""
    info = json.loads(await _run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format",
                                  "-show_streams", f"file:{path}"]))
    seconds = info.get("format", {}).get("duration")
    duration = round(float(seconds) * 1000) if seconds not in (None, "N/A") else None
    return duration, any(s.get("codec_type") == "video" for s in info.get("streams", []))


async def ffmpeg_version() -> str:
    return (await _run(["ffmpeg", "-version"])).decode(errors="replace").splitlines()[0].strip()


async def _chunks(path: Path, size: int = 1 << 20) -> AsyncIterator[bytes]:
    with path.open("rb") as f:
        while chunk := await asyncio.to_thread(f.read, size):
            yield chunk


async def make(locker: Locker, case_id: str, proxy_blake3: str, *, actor: str = SERVER_ACTOR) -> Appended | None:
    """Make, store and log the still and duration of a proxy of the case; None when it has no video.

    Idempotent: a proxy whose still is already logged in the case gives that entry back."""
    item = next((e for e in await catalog.case_evidence(locker.pool, case_id)
                 if e.blake3 == proxy_blake3 and e.kind == "evidence.derived"), None)
    if item is None:
        raise NotFound(f"case {case_id!r} holds no proxy {proxy_blake3}")
    with tempfile.TemporaryDirectory(prefix="custody-thumb-") as tmp:
        src, dst = Path(tmp) / "proxy", Path(tmp) / "still.jpg"
        with src.open("wb") as out:
            async for chunk in locker.store.get(object_key(proxy_blake3)):
                await asyncio.to_thread(out.write, chunk)
        duration, has_video = await probe(src)
        if not has_video:
            return None
        argv = command(src, dst)
        await _run(argv)
        stored = await locker.store.put(_chunks(dst))
    await catalog.record_object(locker.pool, stored, locker.store.name)
    d = stored.digest
    places = {f"file:{src}": SOURCE, f"file:{dst}": OUTPUT}
    fields = {"blake3": d.blake3, "sha256": d.sha256, "size": d.size, "media_type": "image/jpeg",
              "of_blake3": proxy_blake3, "width": WIDTH_PX, "ffmpeg_version": await ffmpeg_version(),
              "ffmpeg_command": " ".join(places.get(a) or shlex.quote(a) for a in argv),
              **({"original_blake3": item.original_blake3} if item.original_blake3 else {}),
              **({"duration_ms": duration} if duration is not None else {})}
    if stored.version_id:
        fields["version_id"] = stored.version_id

    async def write(conn: asyncpg.Connection, case: str, seq: int) -> None:
        await rows.insert(conn, case, seq, blake3=d.blake3, of_blake3=proxy_blake3,
                          original_blake3=item.original_blake3, duration_ms=duration)

    return await locker.log.append(case_id, Draft(KIND, actor, fields, blake3=d.blake3,
                                                  dedupe=f"thumbnail:{proxy_blake3}", rows=write))


async def made_at_ingest(locker: Locker, case_id: str, proxy_blake3: str) -> None:
    """The ingest path's call: a still that cannot be made is a warning, never a failed upload."""
    try:
        await make(locker, case_id, proxy_blake3)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        logger.warning("no still for proxy %s of case %s: %s", proxy_blake3, case_id, exc,
                       extra={"event": "thumbnail_failed", "case": case_id, "blake3": proxy_blake3})


async def backfill(locker: Locker, *, who: Principal, limit: int | None = None) -> tuple[int, list[str]]:
    """Make the stills of every video proxy that has none yet; returns (made, failures)."""
    authorize(who, "thumbnail.make")
    made, failed = 0, []
    for case_id, proxy in (await rows.proxies_without(locker.pool))[:limit]:
        try:
            if await make(locker, case_id, proxy, actor=who.actor) is not None:
                made += 1
        except (ThumbnailFailed, NotFound) as exc:
            failed.append(f"{case_id} {proxy}: {exc}")
    return made, failed


async def of_case(pool: asyncpg.Pool, case_id: str) -> dict[str, rows.Thumbnail]:
    """The stills of a case's recordings, by original and by proxy hash (for its evidence list)."""
    return await rows.of_case(pool, case_id)


#: The stated purpose of the reads that show a case's stills in its evidence list.
LIST_PURPOSE = "evidence list stills"


async def open_still(locker: Locker, case_id: str, blake3: str, *, who: Principal) -> bytes:
    """The still of a recording of the case (named by its original's or proxy's hash), for the evidence list.

    A still is evidence content (a frame): only those who may read evidence and this case see it, and the
    reads are logged as ``evidence.accessed`` with the purpose ``LIST_PURPOSE``, one entry per reader and
    window for the whole list (``services.evidence.record_access`` without an object), so a page of
    fifty stills is one entry, not fifty."""
    authorize(who, "evidence.read")
    await require_read(locker.pool, case_id, who)
    still = (await rows.of_case(locker.pool, case_id)).get(blake3)
    if still is None:
        raise NotFound(f"case {case_id!r} has no still for {blake3[:80]}")
    await record_access(locker, case_id, who, action="view", purpose=LIST_PURPOSE)
    return b"".join([chunk async for chunk in locker.store.get(object_key(still.blake3))])
