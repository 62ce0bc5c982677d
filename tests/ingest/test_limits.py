"""The station's caps: the bandwidth cap on pulls, and how many cameras are offloaded at once."""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from blake3 import blake3

from custody.cli import build_parser
from custody.station_commands import agent_config
from ingest.agent import Agent, OffloadReport, Throttle
from ingest.sources import CameraFile, CameraSource, DirectorySource
from ingest.spool import Journal
from tests.ingest.conftest import Station

MIB = 1024 * 1024


class FakeTime:
    """A clock that only moves when the throttle sleeps: the bucket's arithmetic, without the wait."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)  # let another taker in, as a real sleep would


async def test_throttle_allows_a_one_second_burst_then_holds_the_cap() -> None:
    t = FakeTime()
    throttle = Throttle(2 * MIB, clock=t.clock, sleep=t.sleep)
    await throttle.take(2 * MIB)
    assert t.slept == []  # the bucket starts full: one second's worth goes at once
    for _ in range(10):
        await throttle.take(MIB)
    assert t.now - 1000.0 == pytest.approx(5.0)  # 10 MiB more at 2 MiB/s


async def test_throttle_is_shared_by_every_camera() -> None:
    t = FakeTime()
    throttle = Throttle(MIB, clock=t.clock, sleep=t.sleep)

    async def camera() -> None:
        for _ in range(4):
            await throttle.take(MIB // 2)

    await asyncio.gather(camera(), camera(), camera())
    assert t.now - 1000.0 == pytest.approx(5.0)  # 6 MiB in all through one 1 MiB/s link, less the burst


async def test_throttle_refills_while_idle_but_never_beyond_one_second() -> None:
    t = FakeTime()
    throttle = Throttle(MIB, clock=t.clock, sleep=t.sleep)
    await throttle.take(MIB)
    t.now += 60  # a minute with no camera docked
    await throttle.take(MIB)
    assert t.slept == []
    await throttle.take(MIB)
    assert t.slept == [pytest.approx(1.0)]


async def test_no_cap_never_waits() -> None:
    t = FakeTime()
    throttle = Throttle(None, clock=t.clock, sleep=t.sleep)
    for _ in range(100):
        await throttle.take(64 * MIB)
    assert t.slept == []


# -- through the agent, against a real server ---------------------------------------------------------------


@dataclass
class Transfers:
    """How many cameras are mid-transfer, and the most that ever were at once."""

    now: int = 0
    peak: int = 0

    def start(self) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)

    def end(self) -> None:
        self.now -= 1


class UsbCamera:
    """A docked camera read over a link (like a PTP camera), not mounted: the agent gets its bytes by ``read``.

    Its transfer runs from the first read until its last byte is read; ``transfers`` counts those
    under way across cameras.  ``read_delay_s`` stands for the link's latency.
    """

    def __init__(self, root: Path, serial: str, transfers: Transfers | None = None,
                 read_delay_s: float = 0.0) -> None:
        self.volume = DirectorySource(root, serial=serial, removable=True, all_files=True)
        self.serial = serial
        self.officer: str | None = None
        self.transfers = transfers or Transfers()
        self.read_delay_s = read_delay_s
        self._left = 0  # bytes listed and not yet read
        self._reading = False

    async def list_files(self) -> list[CameraFile]:
        files = await self.volume.list_files()
        self._left = sum(f.size for f in files)
        return files

    async def read(self, f: CameraFile, offset: int, length: int) -> bytes:
        if not self._reading:
            self._reading = True
            self.transfers.start()
        await asyncio.sleep(self.read_delay_s)
        data = await self.volume.read(f, offset, length)
        self._left -= len(data)
        if self._left == 0:
            self.transfers.end()
        return data

    async def stat(self, f: CameraFile) -> CameraFile | None:
        return await self.volume.stat(f)

    async def delete(self, f: CameraFile) -> None:
        await self.volume.delete(f)

    async def camera_time(self) -> str | None:
        return None

    async def close(self) -> None:
        return None


@dataclass
class Run:
    seconds: float
    reports: list[OffloadReport]


async def offload(station: Station, work: Path, sources: list[CameraSource], *flags: str) -> Run:
    """Every camera docked at once on one agent run with ``custody agent`` ``flags``; how long it took."""
    journal = Journal(work / "journal.sqlite")
    try:
        async with station.client() as client:
            # The recordings were written just now: no settling wait, which would blur the timings.
            args = build_parser().parse_args(["agent", "--case", "CASE-A", "--no-proxies", "--stable-seconds", "0",
                                              *flags])
            config = agent_config(args, work)  # the command line's own mapping, flags included
            agent = Agent(config, journal, client)
            start = time.perf_counter()
            reports = await asyncio.gather(*(agent.offload(s) for s in sources))
            return Run(time.perf_counter() - start, reports)
    finally:
        journal.close()


def recording(folder: Path, name: str, size: int) -> bytes:
    folder.mkdir(parents=True, exist_ok=True)
    data = os.urandom(size)
    (folder / name).write_bytes(data)
    return data


async def ingested(station: Station) -> set[str]:
    log = [json.loads(r.body) for r in await station.api.locker.log.entries("CASE-A")]
    return {e["blake3"] for e in log if e["kind"] == "evidence.ingested"}


@pytest.mark.parametrize("attached", ["mounted", "usb"])
async def test_bandwidth_cap_slows_the_pull_to_the_cap(station: Station, tmp_path: Path, attached: str) -> None:
    """5 MiB at 2 MiB/s: at least 1.5 s (one second's burst, then 3 MiB at the cap); uncapped, far less."""

    def camera(name: str) -> tuple[CameraSource, bytes]:
        data = recording(tmp_path / name, "CLIP.bin", 5 * MIB)
        if attached == "mounted":
            return DirectorySource(tmp_path / name, serial=name, all_files=True), data
        return UsbCamera(tmp_path / name, name), data

    free, free_data = camera("free")
    capped, capped_data = camera("capped")
    fast = await offload(station, tmp_path / "a", [free])
    slow = await offload(station, tmp_path / "b", [capped], "--bandwidth-mib", "2")
    assert all(r.ok for r in fast.reports + slow.reports)
    assert await ingested(station) == {blake3(free_data).hexdigest(), blake3(capped_data).hexdigest()}
    assert slow.seconds >= 1.3, f"5 MiB under a 2 MiB/s cap took only {slow.seconds:.2f} s"
    assert fast.seconds < slow.seconds / 2, f"uncapped {fast.seconds:.2f} s vs capped {slow.seconds:.2f} s"


async def test_at_most_max_cameras_are_offloaded_at_once(
    station: Station, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four cameras docked together, max_cameras=2: two transfers at a time, and every file arrives."""
    import ingest.agent

    monkeypatch.setattr(ingest.agent, "PULL_CHUNK_BYTES", 64 * 1024)  # several reads per file
    transfers = Transfers()
    expected = set()
    cameras: list[CameraSource] = []
    for i in range(4):
        folder = tmp_path / f"cam{i}"
        for j in range(2):
            expected.add(blake3(recording(folder, f"CLIP_{j}.bin", 256 * 1024)).hexdigest())
        cameras.append(UsbCamera(folder, f"CAM{i}", transfers, read_delay_s=0.01))  # a USB link: transfers take a while
    run = await offload(station, tmp_path / "agent", cameras, "--max-cameras", "2")
    assert transfers.peak == 2  # two transfers overlapped, never three
    assert all(r.ok and len(r.receipted) == 2 for r in run.reports)
    assert await ingested(station) == expected
    assert [p for i in range(4) for p in (tmp_path / f"cam{i}").iterdir()] == []  # wiped after receipts


@pytest.mark.parametrize("flags", [["--max-cameras", "0"], ["--max-cameras", "-1"], ["--max-cameras", "two"],
                                   ["--bandwidth-mib", "0"], ["--bandwidth-mib", "-3"]])
def test_a_cap_of_zero_or_less_is_refused_not_clamped(flags: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["agent", *flags])
    assert exit_.value.code == 2
    assert flags[0] in capsys.readouterr().err


def test_the_caps_default_to_two_cameras_and_no_bandwidth_cap(tmp_path: Path) -> None:
    config = agent_config(build_parser().parse_args(["agent"]), tmp_path)
    assert (config.max_cameras, config.bandwidth_bytes_s) == (2, None)
    config = agent_config(build_parser().parse_args(["agent", "--max-cameras", "3", "--bandwidth-mib", "1.5"]),
                          tmp_path)
    assert (config.max_cameras, config.bandwidth_bytes_s) == (3, int(1.5 * MIB))
