"""The agent end to end against a real server: receipts before wiping, proxies, faults, crashes."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from blake3 import blake3

from ingest.agent import CRASH_ENV, Agent, AgentConfig
from ingest.sources import DirectorySource
from ingest.spool import Journal
from storage.keys import KeyRing
from tests.ingest.conftest import Station, make_clip

REPO = Path(__file__).resolve().parents[2]


def clips(camera: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(camera.rglob("*.mp4"))}


async def run_agent(station: Station, camera: Path, spool: Path, *, vkeys: list[str] | None = None,
                    proxies: bool = True, case: str | None = "CASE-A") -> tuple[Agent, object]:
    journal = Journal(spool / "journal.sqlite")
    try:
        async with station.client(vkeys) as client:
            agent = Agent(AgentConfig(spool_dir=spool / "spool", case=case, make_proxies=proxies), journal, client)
            report = await agent.offload(DirectorySource(camera, serial="CAM7", officer="officer-7", removable=True))
            return agent, report
    finally:
        journal.close()


async def entries(station: Station, case: str = "CASE-A") -> list[dict]:
    return [json.loads(r.body) for r in await station.api.locker.log.entries(case)]


async def test_offload_receipts_then_wipes_and_links_proxies(
    station: Station, camera_dir: Path, tmp_path: Path
) -> None:
    originals = clips(camera_dir)
    _, report = await run_agent(station, camera_dir, tmp_path)
    assert report.ok and sorted(report.receipted) == sorted(f"DCIM/{n}" for n in originals)
    assert report.proxies == 3
    assert list(camera_dir.rglob("*.mp4")) == []  # wiped, each after its verified receipt
    assert (camera_dir / "SYSLOG.TXT").exists()  # not a recording: left alone
    log = await entries(station)
    ingested = {e["blake3"]: e for e in log if e["kind"] == "evidence.ingested"}
    assert set(ingested) == {blake3(d).hexdigest() for d in originals.values()}
    first = next(iter(ingested.values()))
    assert (first["camera"], first["officer"], first["station"]) == ("CAM7", "officer-7", "dock-1")
    assert first["video_codec"] == "h264" and first["duration_ms"] > 1000
    derived = [e for e in log if e["kind"] == "evidence.derived"]
    assert {d["original_blake3"] for d in derived} == set(ingested)
    assert all("{original}" in d["ffmpeg"]["command"] for d in derived)
    # The proxy plays and keeps the original's creation_time.
    from ingest.probe import probe

    proxy = derived[0]
    path = station.api.locker.store.root / "blake3" / proxy["blake3"][:2] / proxy["blake3"]  # type: ignore[attr-defined]
    facts = await probe(path)
    assert facts.video_codec == "h264" and facts.height == 480
    assert facts.creation_time == ingested[proxy["original_blake3"]]["recorded_at"]
    spool_left = [p for p in (tmp_path / "spool").iterdir()] if (tmp_path / "spool").exists() else []
    assert spool_left == []


async def test_forged_receipt_removes_nothing(station: Station, camera_dir: Path, tmp_path: Path) -> None:
    """A receipt that does not verify under the pinned key never gets a camera wiped."""
    other = KeyRing(tmp_path / "other-keys").signer("evidence.test").vkey
    before = clips(camera_dir)
    _, report = await run_agent(station, camera_dir, tmp_path, vkeys=[other])
    assert not report.ok and len(report.failed) == 3
    assert all("trusted key" in why or "signature" in why for why in report.failed.values())
    assert clips(camera_dir) == before
    journal = Journal(tmp_path / "journal.sqlite")
    try:
        assert journal.counts() == {"pulled": 3}
    finally:
        journal.close()


async def test_server_down_spool_holds_then_drains(station: Station, camera_dir: Path, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    try:
        from ingest.client import CustodyClient

        async with CustodyClient("http://127.0.0.1:9", station.token, vkeys=[station.vkey]) as dead:
            agent = Agent(AgentConfig(spool_dir=tmp_path / "spool", case="CASE-A", make_proxies=False), journal, dead)
            source = DirectorySource(camera_dir, serial="CAM7", removable=True)
            report = await agent.offload(source)
        assert not report.ok and len(clips(camera_dir)) == 3  # nothing receipted, nothing wiped
        assert journal.counts() == {"pulled": 3}  # but safely spooled
        async with station.client() as live:
            agent = Agent(AgentConfig(spool_dir=tmp_path / "spool", case="CASE-A", make_proxies=False), journal, live)
            resumed = await agent.resume([source])
        assert resumed.ok and clips(camera_dir) == {}
        assert journal.counts() == {"done": 3}
    finally:
        journal.close()


async def test_corrupt_video_is_kept_as_evidence_flagged_no_proxy(
    station: Station, tmp_path: Path
) -> None:
    camera = tmp_path / "cam"
    camera.mkdir()
    good = await make_clip(camera / "GOOD.mp4")
    data = good.read_bytes()
    (camera / "BROKEN.mp4").write_bytes(data[: len(data) // 3])
    _, report = await run_agent(station, camera, tmp_path)
    assert report.ok and report.no_proxy == ["BROKEN.mp4"]
    log = await entries(station)
    broken = blake3(data[: len(data) // 3]).hexdigest()
    assert any(e["kind"] == "evidence.ingested" and e["blake3"] == broken for e in log)
    flag = [e for e in log if e["kind"] == "evidence.proxy_failed"]
    assert len(flag) == 1 and flag[0]["original_blake3"] == broken and flag[0]["error"]


AGENT = """
import asyncio, sys
from pathlib import Path
from ingest.agent import Agent, AgentConfig
from ingest.client import CustodyClient
from ingest.sources import DirectorySource
from ingest.spool import Journal

async def main(server, token, vkey, camera, spool):
    journal = Journal(Path(spool) / "journal.sqlite")
    async with CustodyClient(server, token, vkeys=[vkey]) as client:
        agent = Agent(AgentConfig(spool_dir=Path(spool) / "spool", case="CASE-A"), journal, client)
        source = DirectorySource(Path(camera), serial="CAM7", removable=True)
        await agent.resume([source])
        report = await agent.offload(source)
    journal.close()
    sys.exit(0 if report.ok else 1)

asyncio.run(main(*sys.argv[1:]))
"""


@pytest.mark.parametrize("state", ["pulling", "pulled", "uploaded", "removed", "proxied", "done"])
async def test_killed_at_every_state_each_file_arrives_once(
    station: Station, camera_dir: Path, tmp_path: Path, state: str
) -> None:
    originals = clips(camera_dir)
    args = [sys.executable, "-c", AGENT, station.api.base, station.token, station.vkey, str(camera_dir),
            str(tmp_path / "agent")]
    env = {**os.environ, "PYTHONPATH": str(REPO), CRASH_ENV: state}
    crashed = await asyncio.create_subprocess_exec(*args, cwd=REPO, env=env)
    assert await crashed.wait() == 75  # died right after entering the state
    # Whatever is gone from the camera has a verified receipt on the server.
    log = await entries(station)
    logged = {e["blake3"] for e in log if e["kind"] == "evidence.ingested"}
    for name, data in originals.items():
        if not (camera_dir / "DCIM" / name).exists():
            assert blake3(data).hexdigest() in logged, f"{name} left the camera without a receipt"
    env.pop(CRASH_ENV)
    restarted = await asyncio.create_subprocess_exec(*args, cwd=REPO, env=env)
    assert await restarted.wait() == 0
    log = await entries(station)
    ingested = [e["blake3"] for e in log if e["kind"] == "evidence.ingested"]
    assert sorted(ingested) == sorted(blake3(d).hexdigest() for d in originals.values())  # exactly once
    assert clips(camera_dir) == {}
    assert len([e for e in log if e["kind"] == "evidence.derived"]) == 3


async def test_full_spool_stops_pulling_and_deletes_nothing(
    station: Station, camera_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingest.agent

    monkeypatch.setattr(ingest.agent, "SPOOL_RESERVE_BYTES", 10**18)  # no disk is that big: "full"
    before = clips(camera_dir)
    _, report = await run_agent(station, camera_dir, tmp_path)
    assert not report.ok and len(report.failed) == 1  # the first refusal stops the camera's pull
    assert "needs" in next(iter(report.failed.values()))
    assert clips(camera_dir) == before
    assert [e["kind"] for e in await entries(station)] == ["case.opened"]
