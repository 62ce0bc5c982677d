"""Pulling from a mounted volume (copied in the kernel): a short file is caught, a pull resumes, a
volume on another filesystem is copied, and one that cannot splice still works."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from blake3 import blake3

from ingest.agent import Agent, AgentConfig, OffloadReport
from ingest.sources import CameraFile, DirectorySource
from ingest.spool import Journal
from tests.ingest.conftest import Station


class ListedAhead(DirectorySource):
    """A camera volume that lists each recording at ``size`` bytes, whatever can be read of it yet
    (a card that drops out mid-copy)."""

    def __init__(self, root: Path, size: int) -> None:
        super().__init__(root, serial="CAM-V", all_files=True)
        self.size = size

    def _as_listed(self, f: CameraFile) -> CameraFile:
        return dataclasses.replace(f, size=self.size, recorded_at="2026-11-20T08:00:00Z", modified=None, mtime=None)

    async def list_files(self) -> list[CameraFile]:
        return [self._as_listed(f) for f in await super().list_files()]

    async def stat(self, f: CameraFile) -> CameraFile | None:
        now = await super().stat(f)
        return None if now is None else self._as_listed(now)


async def offload(station: Station, source: DirectorySource, spool: Path) -> OffloadReport:
    journal = Journal(spool / "journal.sqlite")
    try:
        async with station.client() as client:
            agent = Agent(AgentConfig(spool_dir=spool / "spool", case="CASE-A", make_proxies=False), journal, client)
            return await agent.offload(source)
    finally:
        journal.close()


async def ingested(station: Station) -> list[str]:
    log = [json.loads(r.body) for r in await station.api.locker.log.entries("CASE-A")]
    return [e["blake3"] for e in log if e["kind"] == "evidence.ingested"]


async def test_short_file_is_caught_then_resumes_from_its_durable_offset(
    station: Station, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingest.agent

    # Sizes off the page size on purpose: chunks and durable offsets fall mid-page.
    monkeypatch.setattr(ingest.agent, "COPY_CHUNK_BYTES", 100_000)
    monkeypatch.setattr(ingest.agent, "DURABLE_EVERY_BYTES", 150_000)
    data = os.urandom(1_000_000)
    camera = tmp_path / "camera"
    camera.mkdir()
    (camera / "CLIP.bin").write_bytes(data[:450_000])
    source = ListedAhead(camera, len(data))

    report = await offload(station, source, tmp_path)
    assert not report.ok and "ends at 450000" in report.failed["CLIP.bin"]
    journal = Journal(tmp_path / "journal.sqlite")
    try:
        [row] = journal.pending()
        assert row.state == "pulling" and 0 < row.pulled <= 450_000  # a durable offset, never past the data
    finally:
        journal.close()
    assert await ingested(station) == []

    (camera / "CLIP.bin").write_bytes(data)  # the rest can be read now
    report = await offload(station, source, tmp_path)
    assert report.ok and report.receipted == ["CLIP.bin"]
    assert await ingested(station) == [blake3(data).hexdigest()]  # the resumed pull re-hashed its prefix


async def test_volume_that_cannot_splice_is_copied_through_user_space(
    station: Station, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_splice(*args: object) -> int:
        raise OSError(errno.EINVAL, "sendfile not supported here")

    monkeypatch.setattr(os, "sendfile", no_splice)
    camera = tmp_path / "camera"
    camera.mkdir()
    data = os.urandom(3 * 1024 * 1024 + 5)
    (camera / "CLIP.bin").write_bytes(data)
    report = await offload(station, DirectorySource(camera, serial="CAM-F", all_files=True), tmp_path)
    assert report.ok
    assert await ingested(station) == [blake3(data).hexdigest()]


async def test_camera_on_another_filesystem_is_copied(station: Station, tmp_path: Path) -> None:
    """A camera's own volume (FAT, exFAT) is never the spool's filesystem: the kernel copy must cross."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second filesystem to put the camera on")
    camera = Path(tempfile.mkdtemp(prefix="custody-camera-", dir=shm))
    try:
        data = os.urandom(2 * 1024 * 1024 + 3)
        (camera / "CLIP.bin").write_bytes(data)
        report = await offload(station, DirectorySource(camera, serial="CAM-X", all_files=True), tmp_path)
        assert report.ok
        assert await ingested(station) == [blake3(data).hexdigest()]
    finally:
        shutil.rmtree(camera)
