"""Proxies made by real ffmpeg: format, size, faststart, metadata kept; bad input never half-written."""

from __future__ import annotations

import asyncio
import hashlib
import os
import struct
from pathlib import Path

import pytest

from ingest.probe import probe
from ingest.proxy import ProxyFailed, ProxySettings, make_proxy


async def clip(path: Path, size: str = "1280x960", seconds: int = 2, audio: bool = True) -> Path:
    args = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
            "-i", f"testsrc2=size={size}:rate=25:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
             "-metadata", "creation_time=2026-11-20T08:00:00.000000Z", "-metadata", "location=+31.2304+121.4737/",
             str(path)]
    proc = await asyncio.create_subprocess_exec(*args)
    assert await proc.wait() == 0
    return path


def top_level_boxes(path: Path) -> list[str]:
    boxes, data, pos = [], path.read_bytes(), 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        boxes.append(kind.decode())
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
        if size < 8:
            break
        pos += size
    return boxes


async def test_proxy_is_h264_aac_720p_faststart_with_metadata(tmp_path: Path) -> None:
    src = await clip(tmp_path / "in.mp4")
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    result = await make_proxy(src, tmp_path / "out.mp4")
    facts = result.facts
    assert (facts.video_codec, facts.audio_codec, facts.height, facts.width) == ("h264", "aac", 720, 960)
    assert facts.creation_time == "2026-11-20T08:00:00.000000Z"
    boxes = top_level_boxes(result.path)
    assert boxes.index("moov") < boxes.index("mdat")  # faststart: playable while it downloads
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before  # the original is never modified
    assert "{original}" in result.command and "{proxy}" in result.command and str(tmp_path) not in result.command
    assert result.version.startswith("ffmpeg version")
    assert (await probe(src)).location == "+31.2304+121.4737/"


async def test_small_and_silent_sources(tmp_path: Path) -> None:
    src = await clip(tmp_path / "small.mp4", size="320x240", audio=False)
    result = await make_proxy(src, tmp_path / "small.proxy.mp4", ProxySettings(height=720))
    assert (result.facts.height, result.facts.audio_codec) == (240, None)  # never upscaled


@pytest.mark.parametrize("kind", ["truncated", "random", "text"])
async def test_unreadable_input_fails_cleanly(tmp_path: Path, kind: str) -> None:
    bad = tmp_path / f"{kind}.mp4"
    if kind == "truncated":
        good = (await clip(tmp_path / "good.mp4")).read_bytes()
        bad.write_bytes(good[: len(good) * 3 // 10])
    elif kind == "random":
        bad.write_bytes(os.urandom(200_000))
    else:
        bad.write_text("not a video at all\n")
    with pytest.raises(ProxyFailed) as err:
        await make_proxy(bad, tmp_path / "out.mp4")
    assert err.value.stderr_tail
    assert sorted(p.name for p in tmp_path.iterdir() if "out" in p.name) == []


async def test_cancellation_kills_ffmpeg_and_leaves_nothing(tmp_path: Path) -> None:
    src = await clip(tmp_path / "long.mp4", size="1920x1080", seconds=20)
    task = asyncio.create_task(make_proxy(src, tmp_path / "out.mp4", ProxySettings(preset="slow")))
    await asyncio.sleep(1.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [p.name for p in tmp_path.iterdir() if "out" in p.name] == []
