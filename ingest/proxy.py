"""Playback proxies with ffmpeg: H.264 + AAC MP4, faststart, the original's metadata kept.

The command is built with ffmpeg-python and run as an asyncio subprocess.  The original is only
read; the proxy is written to a temp file beside its destination and renamed into place, so a
killed or failed encode leaves nothing half-written.  The command recorded in the log uses the
placeholders ``{original}`` and ``{proxy}``: reproducible, and it leaks no station paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import ffmpeg

from ingest.probe import MediaFacts, ProbeError, probe

STDERR_TAIL_BYTES = 2000


class ProxyFailed(Exception):
    """ffmpeg could not make a proxy (corrupt, truncated, not video); the original stays evidence."""

    def __init__(self, message: str, stderr_tail: str = "") -> None:
        super().__init__(f"{message}: {stderr_tail}" if stderr_tail else message)
        self.stderr_tail = stderr_tail


@dataclass(frozen=True)
class ProxySettings:
    height: int = 720
    preset: str = "veryfast"
    crf: int = 23
    audio_bitrate: str = "128k"
    threads: int = 0
    timeout_s: float = 3600


@dataclass(frozen=True)
class ProxyResult:
    path: Path
    command: str
    version: str
    facts: MediaFacts


def build_command(src: Path, dst: Path, settings: ProxySettings = ProxySettings()) -> list[str]:
    """The ffmpeg argument list: scaled to at most ``height`` (never up), even width, metadata kept."""
    stream = ffmpeg.input(str(src))
    video = stream["v:0"].filter("scale", -2, f"min(ih,{settings.height})")  # ffmpeg-python escapes the comma
    audio = stream["a:0?"]  # optional: a recording without sound still gets a proxy
    out = ffmpeg.output(
        video, audio, str(dst), format="mp4", vcodec="libx264", preset=settings.preset, crf=settings.crf,
        pix_fmt="yuv420p", acodec="aac", audio_bitrate=settings.audio_bitrate, threads=settings.threads,
        map_metadata=0, movflags="+faststart",
    )
    args: list[str] = out.compile()
    # Global options go first: ffmpeg ignores options that trail the last output file.
    return [args[0], "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args[1:]]


@cache
def ffmpeg_version() -> str:
    try:
        out = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.splitlines()[0] if out else "unknown"


def _recordable(args: list[str], src: Path, dst: Path) -> str:
    return shlex.join(["{original}" if a == str(src) else "{proxy}" if a == str(dst) else a for a in args])


async def make_proxy(src: Path, dst: Path, settings: ProxySettings = ProxySettings()) -> ProxyResult:
    """Encode ``src`` into ``dst``; raise ProxyFailed (leaving no output) if ffmpeg cannot."""
    tmp = dst.with_name(f".{dst.name}.part.mp4")
    args = build_command(src, tmp, settings)
    proc = await asyncio.create_subprocess_exec(*args, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        _, err = await asyncio.wait_for(proc.communicate(), settings.timeout_s)
    except BaseException:
        # Timeout or cancellation: stop ffmpeg and leave nothing behind.
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    tail = err.decode(errors="replace")[-STDERR_TAIL_BYTES:].strip()
    if proc.returncode != 0:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise ProxyFailed(f"ffmpeg exited with {proc.returncode}", tail)
    try:
        facts = await probe(tmp)
    except ProbeError as exc:
        tmp.unlink(missing_ok=True)
        raise ProxyFailed("the proxy ffmpeg wrote is unreadable", str(exc)) from None
    if facts.video_codec is None:
        tmp.unlink(missing_ok=True)
        raise ProxyFailed("the source has no video stream", tail)
    await asyncio.to_thread(_fsync_rename, tmp, dst)
    return ProxyResult(dst, _recordable(args, src, tmp), ffmpeg_version(), facts)


def _fsync_rename(tmp: Path, dst: Path) -> None:
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, dst)
