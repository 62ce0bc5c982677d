"""Proxies made by real ffmpeg: format, size, faststart, metadata kept, original untouched; a file ffmpeg
cannot read fails with ffmpeg's words and leaves nothing; a cancelled or overdue encode kills ffmpeg."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import shlex
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ingest.probe import frame_rate, probe
from ingest.proxy import ORIGINAL, PROXY, ProxyFailed, ProxyResult, ProxySettings, make_proxy

CREATED = "2026-11-20T08:00:00.000000Z"
LOCATION = "+31.2304+121.4737/"


async def make_clip(path: Path, size: str = "1280x960", audio: bool = True) -> Path:
    args = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration=2"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", "aac"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
             "-metadata", f"creation_time={CREATED}", "-metadata", f"location={LOCATION}", str(path)]
    proc = await asyncio.create_subprocess_exec(*args)
    assert await proc.wait() == 0
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def top_level_boxes(path: Path) -> list[str]:
    """ISO BMFF top-level box types in file order (ISO/IEC 14496-12 §4.2: size, type, [largesize])."""
    data, pos, boxes = path.read_bytes(), 0, []
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        boxes.append(kind.decode("latin-1"))
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
        elif size == 0:  # runs to the end of the file
            break
        assert size >= 8, f"malformed box {kind!r} at {pos}"
        pos += size
    return boxes


def ffmpeg_children() -> list[int]:
    """ffmpeg processes (running or unreaped) whose parent is this test process."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # exited while we looked
            continue
        comm, rest = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
        if comm == "ffmpeg" and int(rest[1]) == os.getpid():
            found.append(int(stat.parent.name))
    return found


@pytest.fixture(scope="module")
async def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return await make_clip(tmp_path_factory.mktemp("source") / "CAM0001.MP4")


@pytest.fixture(scope="module")
async def proxied(source: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[ProxyResult, str]]:
    before = sha256(source)
    yield await make_proxy(source, tmp_path_factory.mktemp("proxy") / "CAM0001.proxy.mp4"), before


async def test_proxy_is_h264_aac_720p_with_even_width(proxied: tuple[ProxyResult, str]) -> None:
    facts = proxied[0].facts
    assert (facts.video_codec, facts.audio_codec) == ("h264", "aac")
    assert (facts.width, facts.height) == (960, 720)  # 1280x960 keeps its 4:3 aspect
    assert facts.duration_ms is not None and abs(facts.duration_ms - 2000) < 100
    # The frame rate the player steps by, as a fraction (canonical JSON has no floats); kept by the proxy.
    assert facts.frame_rate == "25/1" and facts.as_fields()["frame_rate"] == "25/1"


async def test_proxy_is_faststart(proxied: tuple[ProxyResult, str]) -> None:
    boxes = top_level_boxes(proxied[0].path)
    assert boxes.index("moov") < boxes.index("mdat")  # the index first: it plays while it downloads


async def test_proxy_keeps_creation_time_and_location(source: Path, proxied: tuple[ProxyResult, str]) -> None:
    assert (await probe(source)).location == LOCATION
    again = await probe(proxied[0].path)  # ffprobe of the file itself, not what make_proxy reported
    assert (again.creation_time, again.location) == (CREATED, LOCATION)
    assert proxied[0].facts.as_fields()["location"] == LOCATION


async def test_original_is_never_modified(source: Path, proxied: tuple[ProxyResult, str]) -> None:
    assert sha256(source) == proxied[1]


async def test_only_the_proxy_is_left_beside_it(proxied: tuple[ProxyResult, str]) -> None:
    result = proxied[0]
    assert [p.name for p in result.path.parent.iterdir()] == [result.path.name]  # no temp file


async def test_command_is_reproducible_and_names_no_local_path(
        source: Path, proxied: tuple[ProxyResult, str], tmp_path: Path) -> None:
    result = proxied[0]
    assert ORIGINAL in result.command and PROXY in result.command
    assert ".part" not in result.command and str(source.parent) not in result.command
    assert str(result.path.parent) not in result.command
    assert result.version.startswith("ffmpeg version")
    again = tmp_path / "again.mp4"
    argv = shlex.split(result.command.replace(ORIGINAL, shlex.quote(f"file:{source}"))
                       .replace(PROXY, shlex.quote(f"file:{again}")))
    proc = await asyncio.create_subprocess_exec(*argv)
    assert await proc.wait() == 0
    facts = await probe(again)
    assert (facts.video_codec, facts.audio_codec, facts.height) == ("h264", "aac", 720)


async def test_small_source_is_not_upscaled(tmp_path: Path) -> None:
    src = await make_clip(tmp_path / "small.mp4", size="320x240")
    result = await make_proxy(src, tmp_path / "small.proxy.mp4", ProxySettings(height=720))
    assert (result.facts.width, result.facts.height) == (320, 240)


async def test_video_only_source_gets_a_silent_proxy(tmp_path: Path) -> None:
    src = await make_clip(tmp_path / "silent.mp4", size="640x480", audio=False)
    result = await make_proxy(src, tmp_path / "silent.proxy.mp4")
    assert (result.facts.video_codec, result.facts.audio_codec, result.facts.height) == ("h264", None, 480)


@pytest.mark.parametrize("kind", ["truncated", "random", "text"])
async def test_unreadable_file_fails_with_ffmpegs_error_and_leaves_nothing(
        kind: str, source: Path, tmp_path: Path) -> None:
    bad = tmp_path / f"{kind}.mp4"  # named like a video: the agent only proxies video/* names
    if kind == "truncated":
        whole = source.read_bytes()
        bad.write_bytes(whole[: len(whole) * 3 // 10])
    elif kind == "random":
        bad.write_bytes(random.Random(7).randbytes(200_000))
    else:
        bad.write_text("Officer's notes, not a recording.\n" * 40)
    before = sha256(bad)
    with pytest.raises(ProxyFailed) as caught:
        await make_proxy(bad, tmp_path / "out.mp4")
    tail = caught.value.stderr_tail
    assert tail and tail in str(caught.value)  # ffmpeg's own words reach the no-proxy flag
    assert str(tmp_path) not in str(caught.value)  # paths appear as placeholders
    assert [p.name for p in tmp_path.iterdir()] == [bad.name]
    assert sha256(bad) == before


async def _wait_for_ffmpeg() -> None:
    for _ in range(200):
        if ffmpeg_children():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("ffmpeg never started")


async def test_cancellation_kills_ffmpeg_and_leaves_nothing(source: Path, tmp_path: Path) -> None:
    # veryslow on 1280x960 takes several seconds here: long enough to be caught mid-encode.
    task = asyncio.create_task(make_proxy(source, tmp_path / "out.mp4", ProxySettings(preset="veryslow")))
    await _wait_for_ffmpeg()
    await asyncio.sleep(0.3)
    assert ffmpeg_children() and not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert ffmpeg_children() == []  # killed and reaped
    assert list(tmp_path.iterdir()) == []


async def test_timeout_kills_ffmpeg_and_leaves_nothing(source: Path, tmp_path: Path) -> None:
    with pytest.raises(ProxyFailed, match="timed out"):
        await make_proxy(source, tmp_path / "out.mp4", ProxySettings(preset="veryslow", timeout_s=0.5))
    assert ffmpeg_children() == []
    assert list(tmp_path.iterdir()) == []


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="preset"):
        ProxySettings(preset="warp")
    with pytest.raises(ValueError, match="crf"):
        ProxySettings(crf=60)


def test_frame_rate_of_a_stream() -> None:
    assert frame_rate({"avg_frame_rate": "30000/1001", "r_frame_rate": "30/1"}) == "30000/1001"
    assert frame_rate({"avg_frame_rate": "0/0", "r_frame_rate": "25/1"}) == "25/1"  # variable or unknown average
    assert frame_rate({"avg_frame_rate": "0/0", "r_frame_rate": "0/0"}) is None  # a still image
    assert frame_rate({}) is None
