"""ffprobe: what a recording says about itself (duration, codecs, creation time), never trusted blindly.

The values go into the entry as the recording's own claims beside the hash; a file ffprobe cannot
read is still evidence (it is stored and logged as it is), it just has no media facts.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: ffprobe of a healthy file takes milliseconds; a hung one must not stall an offload.
PROBE_TIMEOUT_S = 30


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

    def as_fields(self) -> dict[str, Any]:
        """Entry fields (integers and strings only: canonical JSON has no floats)."""
        out: dict[str, Any] = {}
        for key, value in (("duration_ms", self.duration_ms), ("video_codec", self.video_codec),
                           ("audio_codec", self.audio_codec), ("width", self.width),
                           ("height", self.height)):
            if value is not None:
                out[key] = value
        return out


async def probe(path: Path) -> MediaFacts:
    exe = shutil.which("ffprobe")
    if exe is None:
        raise ProbeError("ffprobe is not installed (apt-get install ffmpeg)")
    proc = await asyncio.create_subprocess_exec(
        exe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), PROBE_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise ProbeError(f"ffprobe timed out on {path.name}") from None
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
    )
