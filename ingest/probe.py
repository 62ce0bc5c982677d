"""ffprobe: what a recording says about itself (duration, codecs, creation time, location), never trusted blindly.

The values go into the entry as the recording's own claims beside the hash; a file ffprobe cannot
read is still evidence (it is stored and logged as it is), it just has no media facts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: ffprobe of a healthy file takes milliseconds; a hung one must not stall an offload.
PROBE_TIMEOUT_S = 30
#: Format tags (lower-cased) that carry an ISO 6709 position, in order of preference: ffmpeg's MP4/MOV
#: demuxer reports the 3GPP/udta ``©xyz`` box as ``location`` (and ``location-eng``); Apple devices
#: write the QuickTime metadata key.
LOCATION_TAGS = ("location", "location-eng", "com.apple.quicktime.location.iso6709")


#: A frame rate as the entry keeps it: a fraction of whole numbers (canonical JSON has no floats).
FRAME_RATE = re.compile(r"[1-9][0-9]{0,8}/[1-9][0-9]{0,8}")


class ProbeError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class MediaFacts:
    duration_ms: int | None
    video_codec: str | None
    audio_codec: str | None
    width: int | None
    height: int | None
    creation_time: str | None
    location: str | None = None  # ISO 6709 as the device wrote it, e.g. "+31.2304+121.4737/"
    #: Frames per second as a fraction, e.g. "30000/1001" (the player steps one frame by it).
    frame_rate: str | None = None

    def as_fields(self) -> dict[str, Any]:
        """Entry fields (integers and strings only: canonical JSON has no floats)."""
        out: dict[str, Any] = {}
        for key, value in (("duration_ms", self.duration_ms), ("video_codec", self.video_codec),
                           ("audio_codec", self.audio_codec), ("width", self.width),
                           ("height", self.height), ("location", self.location),
                           ("frame_rate", self.frame_rate)):
            if value is not None:
                out[key] = value
        return out


async def media_fields(path: Path, media_type: str) -> dict[str, Any]:
    """The entry fields a recording's own metadata gives (duration, codecs, size, place, ``recorded_at``).

    What the camera wrote into the file (``creation_time``) is the recording time.  A file ffprobe
    cannot read gives ``probe_error`` instead: it is still evidence, just without the facts.  Shared by
    the docking-station agent and ``custody ingest``, so both describe a recording the same way.
    """
    if not media_type.startswith(("video/", "audio/")):
        return {}
    try:
        facts = await probe(path)
    except ProbeError as exc:
        return {"probe_error": str(exc)[:300]}
    fields = facts.as_fields()
    if facts.creation_time:
        fields["recorded_at"] = facts.creation_time
    return fields


async def probe(path: Path) -> MediaFacts:
    exe = shutil.which("ffprobe")
    if exe is None:
        raise ProbeError("ffprobe is not installed (apt-get install ffmpeg)")
    # "file:" keeps a name with a colon (or one starting with "-") a plain path, never a protocol or option.
    proc = await asyncio.create_subprocess_exec(
        exe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", f"file:{path}",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), PROBE_TIMEOUT_S)
    except BaseException as exc:  # timeout or cancellation: ffprobe must not outlive the caller
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        if isinstance(exc, TimeoutError):
            raise ProbeError(f"ffprobe timed out on {path.name}") from None
        raise
    if proc.returncode != 0:
        raise ProbeError(f"ffprobe cannot read {path.name}: {err.decode(errors='replace').strip()[:300]}")
    return parse_probe(json.loads(out))


def parse_probe(data: dict[str, Any]) -> MediaFacts:
    fmt = data.get("format", {})
    streams = data.get("streams", [])
    video: dict[str, Any] = next((s for s in streams if s.get("codec_type") == "video"), {})
    audio: dict[str, Any] = next((s for s in streams if s.get("codec_type") == "audio"), {})
    duration = fmt.get("duration")
    tags = {k.lower(): v for k, v in (fmt.get("tags") or {}).items()}
    return MediaFacts(
        duration_ms=round(float(duration) * 1000) if duration not in (None, "N/A") else None,
        video_codec=video.get("codec_name"),
        audio_codec=audio.get("codec_name"),
        width=video.get("width"),
        height=video.get("height"),
        creation_time=tags.get("creation_time"),
        location=next((tags[k] for k in LOCATION_TAGS if tags.get(k)), None),
        frame_rate=frame_rate(video),
    )


def frame_rate(video: dict[str, Any]) -> str | None:
    """The stream's average frame rate as ffprobe gives it ("30000/1001"), else its base rate; None for
    a still image or an unknown rate ("0/0")."""
    for key in ("avg_frame_rate", "r_frame_rate"):
        value = video.get(key)
        if isinstance(value, str) and FRAME_RATE.fullmatch(value):
            return value
    return None
