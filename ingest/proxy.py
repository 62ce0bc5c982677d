"""Proxies: a small H.264 + AAC MP4 of a recording for review, made by ffmpeg from the spool copy.

The original is the evidence and is only ever read (ffmpeg gets it as an input, nothing here opens it).
The proxy is derived, so it records how it was made: the ffmpeg command, with the two paths replaced by
the placeholders ``{original}`` and ``{proxy}`` (reproducible, and no station paths in the log), and
ffmpeg's version.  ``-map_metadata 0`` carries the container tags over, so the proxy keeps the camera's
``creation_time`` and location.  The proxy appears under its final name only once complete and on disk
(temp file beside it, fsync, rename); a timeout or cancellation kills ffmpeg and leaves nothing behind.

A file ffmpeg cannot turn into a playable proxy (corrupt, truncated, not video) raises
:class:`ProxyFailed` with ffmpeg's own words: the caller keeps the original as evidence, flagged "no proxy".
A failure of the station rather than of the recording — a full disk, no memory, ffmpeg killed by a
signal — raises :class:`ProxyDeferred` instead: the caller waits and tries again, and flags nothing.

ffmpeg dies with the process that started it: on Linux it asks the kernel (``PR_SET_PDEATHSIG``) for
SIGKILL when its parent dies, so a killed agent leaves no encoder writing into its spool.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import functools
import os
import shlex
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import ffmpeg

from foundation.durable import replace_durably
from ingest.probe import MediaFacts, ProbeError, probe

#: Placeholders for the two paths in the recorded command.
ORIGINAL = "{original}"
PROXY = "{proxy}"
#: libx264's presets, fastest first: the same quality (crf) costs less CPU and more bytes to the left.
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
                "placebo")
#: ffmpeg's stderr kept while it runs: a long corrupt recording can log an error per frame.
STDERR_KEEP_BYTES = 64 * 1024
#: How much of that goes into the error (the no-proxy flag keeps 4000 characters).
STDERR_TAIL_CHARS = 3000


#: What ffmpeg and the C library say when the station, not the recording, is at fault.
RESOURCE_WORDS = ("No space left on device", "Cannot allocate memory", "Out of memory", "Disk quota exceeded",
                  "Too many open files", "Resource temporarily unavailable", "File too large")
#: errno values of the same failures, raised by this module's own writes (rename, fsync).
RESOURCE_ERRNOS = frozenset({errno.ENOSPC, errno.ENOMEM, errno.EDQUOT, errno.EMFILE, errno.ENFILE, errno.EAGAIN,
                             errno.EFBIG})
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class ProxyFailed(Exception):
    """ffmpeg could not make a playable proxy; ``stderr_tail`` is what it said (paths as placeholders)."""

    def __init__(self, message: str, stderr_tail: str = "") -> None:
        super().__init__(f"{message}: {stderr_tail}" if stderr_tail else message)
        self.message = message
        self.stderr_tail = stderr_tail


class ProxyDeferred(ProxyFailed):
    """The station could not make the proxy now (disk full, no memory, ffmpeg killed): not the recording's
    fault, so it is tried again later and never flagged."""


@dataclass(frozen=True, slots=True)
class ProxySettings:
    #: Output height in pixels (width follows the aspect ratio, rounded to even); never upscaled.
    height: int = 720
    #: libx264 preset (see ``X264_PRESETS``): encoding speed against proxy size.
    preset: str = "veryfast"
    #: libx264 constant rate factor, 0 (lossless) to 51; 23 is x264's own default.
    crf: int = 23
    #: AAC bitrate, in ffmpeg's notation ("128k" = 128 kbit/s).
    audio_bitrate: str = "128k"
    #: Encoder threads; 0 lets ffmpeg choose (one per core).
    threads: int = 0
    #: Wall-clock limit for one proxy, in seconds; ffmpeg is killed past it.
    timeout_s: float = 3600

    def __post_init__(self) -> None:
        if self.height < 2:
            raise ValueError(f"proxy height must be at least 2 pixels, not {self.height}")
        if self.preset not in X264_PRESETS:
            raise ValueError(f"unknown x264 preset {self.preset!r}; one of {', '.join(X264_PRESETS)}")
        if not 0 <= self.crf <= 51:
            raise ValueError(f"crf must be 0..51, not {self.crf}")
        if self.threads < 0 or self.timeout_s <= 0:
            raise ValueError("threads must be >= 0 and timeout_s > 0")


DEFAULT_SETTINGS = ProxySettings()


@dataclass(frozen=True, slots=True)
class ProxyResult:
    path: Path
    #: Shell-quoted ffmpeg command with ``{original}`` and ``{proxy}`` in place of the paths.
    command: str
    #: First line of ``ffmpeg -version``.
    version: str
    #: What ffprobe says about the proxy itself.
    facts: MediaFacts


def _url(path: Path) -> str:
    # ffmpeg reads "name:rest" as a protocol and "-name" as an option; "file:" keeps a path a path.
    return f"file:{path}"


def build_command(src: Path, dst: Path, settings: ProxySettings = DEFAULT_SETTINGS) -> list[str]:
    """The ffmpeg argument list (argv[0] is ``ffmpeg``) that turns ``src`` into an MP4 proxy at ``dst``."""
    source = ffmpeg.input(_url(src))
    # min(ih, H): never upscale; trunc(../2)*2 and -2: both sides even, which yuv420p needs.  The comma
    # is escaped (not quoted) so it does not split the filter chain and the recorded command stays legible.
    scale = f"scale=-2:trunc(min(ih\\,{settings.height})/2)*2"
    out = ffmpeg.output(
        source["v:0"], source["a?"],  # -map 0:a? : an audio-less recording is not an error
        _url(dst),
        format="mp4", vf=scale, vcodec="libx264", preset=settings.preset, crf=settings.crf, pix_fmt="yuv420p",
        acodec="aac", audio_bitrate=settings.audio_bitrate, threads=settings.threads,
        map_metadata=0,  # the container's tags: creation_time, location
        movflags="+faststart",  # index first: the proxy plays while it downloads
    )
    args: list[str] = out.compile()
    # Global options first, where people expect them (ffmpeg-python would put them after the output).
    return [args[0], "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args[1:]]


@functools.cache
def ffmpeg_version() -> str:
    """First line of ``ffmpeg -version`` (cached: it is asked once per proxy)."""
    done = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=True, timeout=30)
    return done.stdout.splitlines()[0].strip()


def temp_name(dst: Path) -> str:
    """The glob of the names ffmpeg's output for ``dst`` has until it is complete (swept at start-up)."""
    return f".{dst.name}.*.part"


async def make_proxy(src: Path, dst: Path, settings: ProxySettings = DEFAULT_SETTINGS, *,
                     started: Callable[[], object] | None = None) -> ProxyResult:
    """Encode ``src`` into an MP4 proxy at ``dst``; ``src`` is only read.

    Raises :class:`ProxyFailed` when ffmpeg fails, times out, or its output has no video stream, and
    :class:`ProxyDeferred` when the station is short of a resource; a missing ffmpeg is an ``OSError``
    (a station problem, not a property of the recording).  ``started`` is called once ffmpeg runs.
    """
    if dst.resolve() == src.resolve():
        raise ValueError("the proxy cannot replace its original")
    version = await asyncio.to_thread(ffmpeg_version)
    tmp = dst.with_name(temp_name(dst).replace("*", uuid.uuid4().hex))
    argv = build_command(src, tmp, settings)
    placeholders = {_url(src): ORIGINAL, _url(tmp): PROXY, str(src): ORIGINAL, str(tmp): PROXY}
    try:
        facts = await _encode(argv, tmp, settings.timeout_s, placeholders, started)
        await asyncio.to_thread(replace_durably, tmp, dst)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if exc.errno in RESOURCE_ERRNOS:
            raise ProxyDeferred(f"the station could not write the proxy ({exc.strerror})") from exc
        raise
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    command = " ".join(placeholders.get(arg) or shlex.quote(arg) for arg in argv)
    return ProxyResult(dst, command, version, facts)


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the kernel SIGKILL the child when its parent dies (Linux), else None.

    libc is looked up here, in the parent: the hook itself only makes one system call.  If the parent
    died between the fork and the call, the child is already an orphan and exits at once.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return hook


async def _encode(argv: list[str], out: Path, timeout_s: float, placeholders: dict[str, str],
                  started: Callable[[], object] | None = None) -> MediaFacts:
    def redact(text: str) -> str:
        for path, placeholder in placeholders.items():  # URLs first: they contain the plain paths
            text = text.replace(path, placeholder)
        return text

    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        preexec_fn=_die_with_parent_hook(),
    )
    assert proc.stderr is not None
    if started is not None:
        started()
    try:
        async with asyncio.timeout(timeout_s):
            stderr = await _keep_tail(proc.stderr)
            code = await proc.wait()
    except BaseException as exc:  # timeout or cancellation: ffmpeg must not outlive the step
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        if isinstance(exc, TimeoutError):
            raise ProxyFailed(f"ffmpeg timed out after {timeout_s:g} s") from None
        raise
    tail = redact(stderr.decode(errors="replace").strip()[-STDERR_TAIL_CHARS:])
    if code < 0:  # killed by a signal: the OOM killer, an operator, a shutdown; not the recording
        raise ProxyDeferred(f"ffmpeg was killed by signal {-code}", tail)
    if any(words in tail for words in RESOURCE_WORDS):  # even with status 0: a failed trailer write exits 0
        raise ProxyDeferred(f"the station ran short making the proxy (exit status {code})", tail)
    if code != 0:
        raise ProxyFailed(f"ffmpeg could not make a proxy (exit status {code})", tail)
    try:
        facts = await probe(out)
    except ProbeError as exc:
        raise ProxyFailed("ffmpeg's output is unreadable", redact(str(exc))) from None
    if facts.video_codec is None:
        raise ProxyFailed("ffmpeg's output has no video stream", tail)
    return facts


async def _keep_tail(stream: asyncio.StreamReader) -> bytes:
    tail = bytearray()
    while chunk := await stream.read(STDERR_KEEP_BYTES):
        tail += chunk
        del tail[:-STDERR_KEEP_BYTES]
    return bytes(tail)
