"""The agent killed at every point of its journal, through a mounted camera and the emulated PTP camera,
then run again: every file arrives once, nothing is left behind, nothing left the camera unreceipted."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from blake3 import blake3

from ingest.agent import CRASH_ENV
from ingest.spool import Journal
from tests.ingest.conftest import Station, make_clip

REPO = Path(__file__).resolve().parents[2]
CRASH_POINTS = ["pulling", "pulled", "uploaded", "deleted", "removed", "transcoding", "proxied", "done"]


def ffmpeg_using(path: Path) -> list[int]:
    """Live ffmpeg processes whose command line names something under ``path`` (zombies are dead)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            cmdline = Path(entry.path, "cmdline").read_bytes().split(b"\0")
            state = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        named = any(str(path).encode() in arg for arg in cmdline)
        if state != "Z" and cmdline[0].endswith(b"ffmpeg") and named:
            found.append(int(entry.name))
    return found


async def agent_run(station: Station, camera: Path, work: Path, mode: str, crash: str | None = None) -> int:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop(CRASH_ENV, None)
    if crash:
        env[CRASH_ENV] = crash
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.ingest.crash_agent", station.api.base, station.token, station.vkey,
        str(camera), str(work), mode, cwd=REPO, env=env)
    return await asyncio.wait_for(proc.wait(), 240)


async def log_of(station: Station) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in await station.api.locker.log.entries("CASE-A")]


async def camera_with_clips(root: Path, count: int, seconds: int = 2) -> dict[str, bytes]:
    (root / "DCIM").mkdir(parents=True)
    await asyncio.gather(*(make_clip(root / "DCIM" / f"CAM7_{i:04d}.mp4", seconds,
                                     when=f"2026-11-20T08:0{i}:00.000000Z") for i in range(count)))
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.mp4"))}


def assert_all_done(work: Path) -> None:
    journal = Journal(work / "journal.sqlite")
    try:
        assert set(journal.counts()) <= {"done", "superseded"}, journal.counts()
    finally:
        journal.close()
    assert sorted(p.name for p in (work / "spool").iterdir()) == []  # no copy, no temp name left


@pytest.mark.parametrize("mode", ["source", "ptp"])
@pytest.mark.parametrize("crash", CRASH_POINTS)
async def test_killed_at_each_point_then_a_clean_run_finishes_everything(
    station: Station, tmp_path: Path, crash: str, mode: str
) -> None:
    camera, work = tmp_path / "camera", tmp_path / "agent"
    originals = await camera_with_clips(camera, 2)
    assert await agent_run(station, camera, work, mode, crash) == 75  # died right at the point
    await asyncio.sleep(0.5)  # the kernel's SIGKILL to an orphaned ffmpeg is immediate; allow the scheduler
    assert ffmpeg_using(tmp_path) == []
    logged = {e["blake3"] for e in await log_of(station) if e["kind"] == "evidence.ingested"}
    for name, data in originals.items():
        if not (camera / name).exists():
            assert blake3(data).hexdigest() in logged, f"{name} left the camera without a receipt"

    assert await agent_run(station, camera, work, mode) == 0
    log = await log_of(station)
    ingested = sorted(e["blake3"] for e in log if e["kind"] == "evidence.ingested")
    assert ingested == sorted(blake3(d).hexdigest() for d in originals.values())  # each exactly once
    derived = [e["original_blake3"] for e in log if e["kind"] == "evidence.derived"]
    flagged = [e["original_blake3"] for e in log if e["kind"] == "evidence.proxy_failed"]
    assert sorted(derived + flagged) == ingested  # one proxy or one flag per file
    assert sorted(p.name for p in camera.rglob("*") if p.is_file()) == []  # wiped, every file receipted
    assert ffmpeg_using(tmp_path) == []
    assert_all_done(work)
    # And a run on the now empty camera has nothing left to do.
    assert await agent_run(station, camera, work, mode) == 0


async def test_ffmpeg_dies_with_a_killed_agent(station: Station, tmp_path: Path) -> None:
    """A long clip: without the death signal ffmpeg would go on encoding (and writing) after the kill."""
    camera, work = tmp_path / "camera", tmp_path / "agent"
    await camera_with_clips(camera, 1, seconds=30)
    assert await agent_run(station, camera, work, "source", "transcoding") == 75
    deadline = time.monotonic() + 1.0
    while ffmpeg_using(tmp_path) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert ffmpeg_using(tmp_path) == []
    temps = [p for p in (work / "spool").iterdir() if p.name.startswith(".")]
    sizes = {p: p.stat().st_size for p in temps}
    await asyncio.sleep(1.0)
    assert {p: p.stat().st_size for p in temps if p.exists()} == sizes  # nobody writes into the spool
    assert await agent_run(station, camera, work, "source") == 0
    assert_all_done(work)  # the temp output swept at start-up, the proxy made again
    assert [e["kind"] for e in await log_of(station)].count("evidence.derived") == 1
