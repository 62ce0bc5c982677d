"""The agent on a USB bus: a PTP camera and a locked recorder docked on the emulated bus."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from blake3 import blake3

from ingest.agent import Agent, AgentConfig
from ingest.spool import Journal
from ingest.usb import load_drivers
from ingest.watch import watch_usb
from tests.ingest.conftest import Station, make_clip
from tests.ingest.emulated_camera import EmulatedBackend, LockedCameraModel, PtpCameraModel

NAMES = ("DCIM/100MEDIA/ZFY_0001.MP4", "DCIM/100MEDIA/ZFY_0002.MP4")


async def recordings(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for i, name in enumerate(NAMES):
        out[name] = await make_clip(tmp_path / Path(name).name, when=f"2026-11-20T08:0{i}:00.000000Z")
    return out


async def offload(station: Station, bus: EmulatedBackend, tmp_path: Path, drivers: list | None = None) -> int:
    journal = Journal(tmp_path / "journal.sqlite")
    try:
        async with station.client() as client:
            agent = Agent(AgentConfig(spool_dir=tmp_path / "spool", case="CASE-A", make_proxies=False), journal, client)
            return await asyncio.wait_for(watch_usb(agent, once=True, backend=bus, drivers=drivers, poll_s=0.05), 60)
    finally:
        journal.close()


async def test_docked_ptp_camera_is_offloaded_and_wiped_after_receipts(station: Station, tmp_path: Path) -> None:
    files = await recordings(tmp_path)
    camera = PtpCameraModel("ZFY-7", dict(files), {n: "20261120T080000" for n in files})
    bus = EmulatedBackend([camera])
    assert await offload(station, bus, tmp_path) == 0
    assert camera.names() == []  # wiped, each file after its verified receipt
    log = [json.loads(r.body) for r in await station.api.locker.log.entries("CASE-A")]
    ingested = [e for e in log if e["kind"] == "evidence.ingested"]
    assert sorted(e["blake3"] for e in ingested) == sorted(blake3(p.read_bytes()).hexdigest() for p in files.values())
    assert {e["camera"] for e in ingested} == {"ZFY-7"} and all("clock_drift_s" in e for e in ingested)


async def test_locked_recorder_is_unlocked_then_offloaded(station: Station, tmp_path: Path) -> None:
    files = await recordings(tmp_path)
    inner = PtpCameraModel("ZFY-42", dict(files), {n: "20261120T080000" for n in files})
    bus = EmulatedBackend([LockedCameraModel("ZFY-42", b"123456", then=inner)])
    drivers = load_drivers([{"name": "zfy", "vid": "0x1234", "pid": "0x9001", "password": b"123456".hex()}],
                           install=False)
    assert await offload(station, bus, tmp_path, drivers) == 0
    log = [json.loads(r.body) for r in await station.api.locker.log.entries("CASE-A")]
    assert len([e for e in log if e["kind"] == "evidence.ingested" and e["camera"] == "ZFY-42"]) == 2


async def test_wrong_password_offloads_nothing(station: Station, tmp_path: Path) -> None:
    files = await recordings(tmp_path)
    inner = PtpCameraModel("ZFY-43", dict(files), {n: "20261120T080000" for n in files})
    locked = LockedCameraModel("ZFY-43", b"123456", then=inner)
    bus = EmulatedBackend([locked])
    drivers = load_drivers([{"vid": "0x1234", "pid": "0x9001", "password": b"000000".hex()}], install=False)
    await offload(station, bus, tmp_path, drivers)
    assert locked.refused == 1
    log = [json.loads(r.body) for r in await station.api.locker.log.entries("CASE-A")]
    assert [e["kind"] for e in log] == ["case.opened"]


async def test_unplugged_mid_pull_resumes_at_its_offset_after_redocking(
    station: Station, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingest.agent

    monkeypatch.setattr(ingest.agent, "PULL_CHUNK_BYTES", 16 * 1024)
    monkeypatch.setattr(ingest.agent, "DURABLE_EVERY_BYTES", 32 * 1024)
    files = await recordings(tmp_path)
    camera = PtpCameraModel("ZFY-9", dict(files), {n: "20261120T080000" for n in files})
    camera.unplug_after_bytes = 100_000  # the officer pulls the camera out mid-transfer
    bus = EmulatedBackend([camera])
    assert await offload(station, bus, tmp_path) == 1
    journal = Journal(tmp_path / "journal.sqlite")
    try:
        [row] = [r for r in journal.pending() if r.state == "pulling"]
        assert 0 < row.pulled < row.size  # the durable offset survived the unplug
    finally:
        journal.close()
    assert len(camera.names()) == 2  # nothing left the camera without a receipt
    camera.unplug_after_bytes = None
    bus.plug(camera)
    assert await offload(station, bus, tmp_path) == 0
    assert camera.names() == []
    log = [json.loads(r.body) for r in await station.api.locker.log.entries("CASE-A")]
    ingested = sorted(e["blake3"] for e in log if e["kind"] == "evidence.ingested")
    assert ingested == sorted(blake3(p.read_bytes()).hexdigest() for p in files.values())
