"""Redaction of video and audio for release: projects saved and versioned, rendered by ffmpeg in one pass.

A project belongs to one case item (an original or its proxy: the **source**).  Each save is a new
version: its canonical JSON (source, name, tracks, audio ranges) is hashed with BLAKE3 and logged as
``redaction.saved`` with the whole body, so the case log alone says what every version masked.

A render reads the source, runs one ffmpeg pass (``policy.redaction`` builds the filter graph) into
an H.264 + AAC MP4 with the index first (``+faststart``, like the proxies), and stores the result
write-once as a new object logged ``evidence.redacted``: the entry names the source's BLAKE3 (as
``original_blake3``, the link proxies use too), the version's hash, ffmpeg's version and its
arguments (paths as placeholders).  Renders run in a bounded pool of background tasks
(:class:`RenderPool`), so a render never holds up an upload; the progress is a row the API polls.

The source is only read; nothing here changes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import re
import shlex
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import blake3

from foundation.errors import Conflict, Invalid, NotFound
from integrity.canonical import canonical_bytes
from integrity.hashing import object_key
from policy.redaction import Project, ProjectInvalid, audio_graph, parse_project, video_graph
from services import faces, plates
from services.evidence import open_object
from services.locker import Locker
from services.permissions import authorize
from services.restriction import require_read
from storage import catalog
from storage import redaction as rows
from storage.log import Draft
from storage.principals import Principal

logger = logging.getLogger(__name__)

SAVED = "redaction.saved"
REDACTED = "evidence.redacted"
#: Placeholders for the two paths in the recorded command.
SOURCE = "{source}"
OUTPUT = "{redacted}"
#: Kinds of entry a project may take as its source.
SOURCE_KINDS = ("evidence.ingested", "evidence.derived")
NAME_MAX_CHARS = 200
PROJECT_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
#: libx264 settings of the redacted copy (as the proxies': veryfast, crf 23, yuv420p).
X264_PRESET = "veryfast"
X264_CRF = 23
#: Wall-clock limit of one render, in seconds.
RENDER_TIMEOUT_S = 4 * 3600
STDERR_TAIL_CHARS = 3000


class RenderFailed(Exception):
    """ffmpeg could not render the project; the message carries its words (paths as placeholders)."""


@dataclass(frozen=True, slots=True)
class Saved:
    project_id: str
    version: int
    hash: str
    seq: int


def version_hash(source_blake3: str, name: str, project: Project) -> str:
    """BLAKE3 (hex) of a version's canonical JSON: what the version masks, and in what."""
    return blake3.blake3(canonical_bytes({"source": source_blake3, "name": name, **project.as_json()})).hexdigest()


async def _require_source(locker: Locker, case_id: str, blake3_hex: str) -> None:
    items = [e for e in await catalog.case_evidence(locker.pool, case_id)
             if e.blake3 == blake3_hex and e.kind in SOURCE_KINDS]
    if not items:
        raise NotFound(f"case {case_id!r} holds no recording {blake3_hex} (an original or its proxy) to redact")


async def save(locker: Locker, case_id: str, *, who: Principal, source_blake3: str, body: object, name: str = "",
               project_id: str | None = None, base_version: int | None = None) -> Saved:
    """Save a new version of a project (a new project when ``project_id`` is None); logged ``redaction.saved``.

    ``base_version`` is the version the editor started from: a save over someone else's newer version
    is refused (409) rather than silently replacing it.
    """
    authorize(who, "redaction.edit")
    await require_read(locker.pool, case_id, who)
    if not isinstance(name, str) or len(name) > NAME_MAX_CHARS:
        raise Invalid(f"name: text of at most {NAME_MAX_CHARS} characters")
    try:
        project = parse_project(body)
    except ProjectInvalid as exc:
        raise Invalid(str(exc)) from None
    if project_id is None:
        project_id = uuid.uuid4().hex[:16]
        latest = None
    else:
        if not PROJECT_ID.match(project_id):
            raise Invalid("project id: 1-64 letters, digits, '.', '_' or '-'")
        latest = await rows.latest_version(locker.pool, project_id)
        if latest is None or latest.case_id != case_id:
            raise NotFound(f"case {case_id!r} has no redaction project {project_id!r}")
        if latest.source_blake3 != source_blake3:
            raise Invalid("a project keeps its source; start a new project for another recording")
        if base_version is not None and base_version != latest.version:
            raise Conflict(f"project {project_id} is at version {latest.version}, not {base_version}; "
                           "reload it before saving")
    await _require_source(locker, case_id, source_blake3)
    version = 1 if latest is None else latest.version + 1
    digest = version_hash(source_blake3, name, project)
    fields = {"project": project_id, "version": version, "hash": digest, "source": source_blake3, "name": name,
              **project.as_json()}

    async def version_row(conn: Any, case: str, seq: int) -> None:  # commits with its entry (scrub folds it)
        await rows.add_version(conn, rows.VersionRow(project_id, version, case, source_blake3, name, digest,
                                                     project.as_json(), who.actor, seq))

    draft = Draft(SAVED, who.actor, fields, dedupe=f"redaction:{project_id}:{version}", rows=version_row)
    entry = await locker.log.append(case_id, draft)
    if not entry.created:
        raise Conflict(f"version {version} of project {project_id} was saved meanwhile; reload it before saving")
    return Saved(project_id, version, digest, entry.seq)


async def projects(locker: Locker, case_id: str, *, who: Principal) -> list[rows.VersionRow]:
    """Every saved version of the case's projects (need to know: only for readers of the case)."""
    authorize(who, "redaction.view")
    await require_read(locker.pool, case_id, who)
    return await rows.case_versions(locker.pool, case_id)


async def renders(locker: Locker, case_id: str, *, who: Principal) -> list[rows.RenderRow]:
    authorize(who, "redaction.view")
    await require_read(locker.pool, case_id, who)
    return await rows.case_renders(locker.pool, case_id)


async def render_status(locker: Locker, case_id: str, render_id: uuid.UUID, *, who: Principal) -> rows.RenderRow:
    authorize(who, "redaction.view")
    await require_read(locker.pool, case_id, who)
    found = await rows.get_render(locker.pool, render_id)
    if found is None or found.case_id != case_id:
        raise NotFound(f"case {case_id!r} has no render {render_id}")
    return found


# -- rendering -------------------------------------------------------------------------------------------


@functools.cache
def ffmpeg_version() -> str:
    """First line of ``ffmpeg -version``."""
    done = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=True, timeout=30)
    return done.stdout.splitlines()[0].strip()


@dataclass(frozen=True, slots=True)
class Media:
    width: int
    height: int
    duration_ms: int
    sample_rate: int | None  # None: no audio stream


async def media_of(path: Path) -> Media:
    """The frame size, duration and audio sample rate of a recording (ffprobe)."""
    proc = await asyncio.create_subprocess_exec(
        "ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", f"file:{path}",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RenderFailed(f"ffprobe cannot read the source: {err.decode(errors='replace')[-500:]}")
    info = json.loads(out)
    video = next((s for s in info.get("streams", []) if s.get("codec_type") == "video"), None)
    audio = next((s for s in info.get("streams", []) if s.get("codec_type") == "audio"), None)
    if video is None:
        raise RenderFailed("the source has no video stream")
    duration = float(info.get("format", {}).get("duration") or 0)
    return Media(int(video["width"]), int(video["height"]), int(duration * 1000),
                 int(audio["sample_rate"]) if audio else None)


def build_command(src: Path, dst: Path, project: Project, media: Media, *, threads: int = 0) -> list[str]:
    """The one ffmpeg pass that renders ``project`` over ``src`` into an MP4 at ``dst``."""
    graph, vout = video_graph(project, media.width, media.height)
    maps = ["-map", vout]
    if media.sample_rate is not None:
        audio = audio_graph(project, media.sample_rate)
        if audio is None:
            maps += ["-map", "0:a:0"]
        else:
            graph += ";" + audio[0]
            maps += ["-map", audio[1]]
    return ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-progress", "pipe:1", "-nostats",
            "-i", f"file:{src}", "-filter_complex", graph, *maps,
            "-c:v", "libx264", "-preset", X264_PRESET, "-crf", str(X264_CRF), "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "128k", "-threads", str(threads), "-map_metadata", "0",
            "-movflags", "+faststart", "-f", "mp4", f"file:{dst}"]


def recorded_command(argv: list[str], src: Path, dst: Path) -> str:
    """The command as logged: shell-quoted, with placeholders for the two paths."""
    places = {f"file:{src}": SOURCE, f"file:{dst}": OUTPUT}
    return " ".join(places.get(arg) or shlex.quote(arg) for arg in argv)


async def run_ffmpeg(argv: list[str], duration_ms: int, progress: Any = None,
                     timeout_s: float = RENDER_TIMEOUT_S) -> None:
    """Run ffmpeg; ``progress(pct)`` is awaited as ``-progress`` reports output time.  Killed on timeout
    or cancellation."""
    proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None

    async def read_progress(stream: asyncio.StreamReader) -> None:
        last = -1
        while line := await stream.readline():
            key, _, value = line.decode(errors="replace").strip().partition("=")
            if key == "out_time_us" and value.isdigit() and duration_ms > 0 and progress is not None:
                pct = min(99, int(int(value) / 1000 * 100 / duration_ms))
                if pct != last:
                    last = pct
                    await progress(pct)

    try:
        async with asyncio.timeout(timeout_s):
            _, stderr, code = await asyncio.gather(read_progress(proc.stdout), proc.stderr.read(), proc.wait())
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise
    if code != 0:
        raise RenderFailed(f"ffmpeg could not render (exit status {code}): "
                           f"{stderr.decode(errors='replace').strip()[-STDERR_TAIL_CHARS:]}")


async def _write_object(locker: Locker, blake3_hex: str, path: Path) -> None:
    with path.open("wb") as out:
        async for chunk in locker.store.get(object_key(blake3_hex)):
            await asyncio.to_thread(out.write, chunk)


async def _file_chunks(path: Path, size: int = 1 << 20) -> AsyncIterator[bytes]:
    with path.open("rb") as f:
        while chunk := await asyncio.to_thread(f.read, size):
            yield chunk


async def request_render(locker: Locker, case_id: str, project_id: str, version: int | None, *,
                         who: Principal) -> tuple[uuid.UUID, rows.VersionRow]:
    """Check and queue a render of a project version (the latest when None); returns the render's id."""
    authorize(who, "redaction.render")
    await require_read(locker.pool, case_id, who)
    found = (await rows.latest_version(locker.pool, project_id) if version is None
             else await rows.get_version(locker.pool, project_id, version))
    if found is None or found.case_id != case_id:
        raise NotFound(f"case {case_id!r} has no redaction project {project_id!r}"
                       + (f" version {version}" if version is not None else ""))
    render_id = uuid.uuid4()
    await rows.add_render(locker.pool, render_id, project_id, found.version, case_id, who.actor)
    return render_id, found


async def render(locker: Locker, case_id: str, render_id: uuid.UUID, version: rows.VersionRow, *,
                 who: Principal, work_dir: Path | None = None, threads: int = 0) -> str:
    """Render a queued version: read the source (a logged read), one ffmpeg pass, store the result and
    log ``evidence.redacted``.  Returns the redacted object's BLAKE3; the render row says how it went."""
    pool = locker.pool

    async def progress(pct: int) -> None:
        await rows.update_render(pool, render_id, state="running", progress_pct=pct)

    try:
        item = await open_object(locker, case_id, version.source_blake3, who=who, purpose="redaction",
                                 action="redaction.render")
        project = parse_project(version.body)
        await progress(0)
        with tempfile.TemporaryDirectory(prefix="custody-redact-", dir=work_dir) as tmp:
            src, dst = Path(tmp) / "source", Path(tmp) / "redacted.mp4"
            await _write_object(locker, version.source_blake3, src)
            media = await media_of(src)
            try:
                parse_project(version.body, width=media.width, height=media.height)
            except ProjectInvalid as exc:
                raise RenderFailed(f"the project does not fit the recording: {exc}") from None
            argv = build_command(src, dst, project, media, threads=threads)
            await run_ffmpeg(argv, media.duration_ms, progress)
            fields = {
                "file_name": f"{Path(item.file_name or 'recording').stem}.redacted.mp4"[:255],
                "media_type": "video/mp4", "original_blake3": version.source_blake3,
                "project": version.project_id, "project_version": version.version,
                "project_hash": version.hash, "ffmpeg_version": await asyncio.to_thread(ffmpeg_version),
                "ffmpeg_command": recorded_command(argv, src, dst), "render": str(render_id),
            }
            entry = await locker.add_object(case_id, _file_chunks(dst), kind=REDACTED, actor=who.actor,
                                            fields=fields)
        out = str(json.loads(entry.body)["blake3"])
        await rows.update_render(pool, render_id, state="done", progress_pct=100, output_blake3=out)
        return out
    except BaseException as exc:
        message = str(exc) or type(exc).__name__
        with contextlib.suppress(Exception):
            await asyncio.shield(rows.update_render(pool, render_id, state="failed", progress_pct=0,
                                                    error=message[:4000]))
        raise


#: What suggestions can be asked for, and the detector of each (``services.faces``, ``services.plates``).
DETECTORS: dict[str, faces.Detector] = {"face": faces.detect_faces, "plate": plates.detect_plates}
#: How the API names them.
DETECTOR_NAMES = {"face": f"opencv {faces.CASCADE}", "plate": f"opencv {plates.CASCADE}"}


async def suggest(locker: Locker, case_id: str, source_blake3: str, *, who: Principal,
                  every_ms: int = faces.DEFAULT_EVERY_MS, work_dir: Path | None = None,
                  detect: tuple[str, ...] = ("face", "plate")) -> list[dict[str, Any]]:
    """Suggested tracks of faces and licence plates (``detect``) for a recording of the case, each labelled
    ``face`` or ``plate``; the read is logged."""
    authorize(who, "redaction.suggest")
    if not 40 <= every_ms <= 10_000:
        raise Invalid("every_ms: a sampling interval from 40 to 10000 ms")
    if not detect or any(d not in DETECTORS for d in detect):
        raise Invalid(f"detect: one or more of {', '.join(DETECTORS)}")
    await require_read(locker.pool, case_id, who)
    await _require_source(locker, case_id, source_blake3)
    await open_object(locker, case_id, source_blake3, who=who, purpose="redaction", action="redaction.suggest")
    with tempfile.TemporaryDirectory(prefix="custody-faces-", dir=work_dir) as tmp:
        src = Path(tmp) / "source"
        await _write_object(locker, source_blake3, src)
        try:
            return await faces.suggest_tracks(src, every_ms, detectors={d: DETECTORS[d] for d in dict.fromkeys(detect)})
        except faces.Unreadable as exc:
            raise Invalid(f"object {source_blake3}: {exc}") from None


class RenderPool:
    """At most ``size`` renders at once, each a background task; the rest wait their turn (queued).

    Uploads never wait on it: renders are tasks of their own, and ffmpeg runs as a subprocess.
    """

    def __init__(self, locker: Locker, size: int = 1, *, work_dir: Path | None = None, threads: int = 0) -> None:
        if size < 1:
            raise ValueError("a render pool needs room for at least one render")
        self.locker = locker
        self.work_dir = work_dir
        self.threads = threads
        self._slots = asyncio.Semaphore(size)
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Mark failed the renders a stopped server left queued or running (they can be asked again)."""
        left = await rows.fail_unfinished(self.locker.pool)
        if left:
            logger.warning("%d redaction render(s) left unfinished by a stopped server marked failed", left)

    async def submit(self, case_id: str, project_id: str, version: int | None, *, who: Principal) -> uuid.UUID:
        render_id, found = await request_render(self.locker, case_id, project_id, version, who=who)
        task = asyncio.create_task(self._run(case_id, render_id, found, who), name=f"render {render_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return render_id

    async def _run(self, case_id: str, render_id: uuid.UUID, found: rows.VersionRow, who: Principal) -> None:
        async with self._slots:
            try:
                await render(self.locker, case_id, render_id, found, who=who, work_dir=self.work_dir,
                             threads=self.threads)
            except Exception:
                logger.exception("render %s of case %s failed", render_id, case_id)

    async def wait(self) -> None:
        """Until every submitted render has finished (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.wait()


def have_ffmpeg() -> bool:
    return shutil.which("ffmpeg") is not None
