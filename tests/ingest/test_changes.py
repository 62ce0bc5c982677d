"""Files that change on the camera while they are offloaded, and a station disk that fills mid-transcode.

A recorder docked while still writing is normal.  A file appended to, rewritten or truncated during its
pull is pulled again as it is now (the torn version is dropped, its partial copy too); a file that
changes after its receipt stays on the camera until it is receipted as a version of its own; a file
still growing is pulled only once it has settled.  A full disk during a transcode is the station's
fault, not the recording's: no flag, and the proxy is made once space returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from blake3 import blake3

from ingest.agent import Agent, AgentConfig, OffloadReport
from ingest.sources import CameraFile, CameraSource, DirectorySource
from ingest.spool import Journal
from tests.ingest.conftest import Station, make_clip

MIB = 1024 * 1024
CHUNK = 512 * 1024


class LinkCamera:
    """A camera read over a link (as over PTP), not mounted: its bytes come through ``read``."""

    def __init__(self, volume: DirectorySource) -> None:
        self.volume = volume
        self.serial = volume.serial
        self.officer: str | None = None
        self.after_read: Callable[[int], None] = lambda pos: None

    async def list_files(self) -> list[CameraFile]:
        return await self.volume.list_files()

    async def read(self, f: CameraFile, offset: int, length: int) -> bytes:
        data = await self.volume.read(f, offset, length)
        self.after_read(offset + len(data))
        return data

    async def stat(self, f: CameraFile) -> CameraFile | None:
        return await self.volume.stat(f)

    async def delete(self, f: CameraFile) -> None:
        await self.volume.delete(f)

    async def camera_time(self) -> str | None:
        return None

    async def close(self) -> None:
        return None


@contextlib.asynccontextmanager
async def agent_on(station: Station, work: Path, **config: Any) -> AsyncIterator[Agent]:
    journal = Journal(work / "journal.sqlite")
    try:
        async with station.client() as client:
            yield Agent(AgentConfig(spool_dir=work / "spool", case="CASE-A", **config), journal, client)
    finally:
        journal.close()


async def ingested(station: Station) -> list[str]:
    log = [json.loads(r.body) for r in await station.api.locker.log.entries("CASE-A")]
    return [e["blake3"] for e in log if e["kind"] == "evidence.ingested"]


def journal_counts(work: Path) -> dict[str, int]:
    journal = Journal(work / "journal.sqlite")
    try:
        return journal.counts()
    finally:
        journal.close()


def rewrite_ends(path: Path) -> None:
    """New bytes at the head and the tail, in place, with the size and the modification time kept:
    only reading the file again can tell."""
    st = path.stat()
    with open(path, "r+b") as fh:
        fh.write(os.urandom(64 * 1024))
        fh.seek(-64 * 1024, os.SEEK_END)
        fh.write(os.urandom(64 * 1024))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def append(path: Path) -> None:
    with path.open("ab") as fh:
        fh.write(os.urandom(MIB))


CHANGES: dict[str, Callable[[Path], None]] = {
    "appended": append,
    "rewritten": rewrite_ends,
    "truncated": lambda p: os.truncate(p, p.stat().st_size // 2),
}


@contextlib.contextmanager
def once_mid_pull(monkeypatch: pytest.MonkeyPatch, camera: LinkCamera, attached: str,
                  change: Callable[[], None]) -> Iterator[None]:
    """``change`` the camera's file once, after the first chunk of the pull has been taken."""
    import ingest.agent

    done = [False]

    def maybe(pos: int) -> None:
        if pos >= CHUNK and not done[0]:
            done[0] = True
            change()

    if attached == "link":
        camera.after_read = maybe
    else:
        copy = ingest.agent._copy_range

        def copy_then_change(src: Path, dst: Path, pos: int, length: int) -> int:
            copied = copy(src, dst, pos, length)
            maybe(pos + copied)
            return copied

        monkeypatch.setattr(ingest.agent, "_copy_range", copy_then_change)
    yield
    assert done[0], "the change never happened: the test proves nothing"


@pytest.mark.parametrize("attached", ["mounted", "link"])
@pytest.mark.parametrize("how", sorted(CHANGES))
async def test_file_changed_during_its_pull_is_pulled_again_as_it_is_now(
    station: Station, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str, attached: str
) -> None:
    import ingest.agent

    monkeypatch.setattr(ingest.agent, "PULL_CHUNK_BYTES", CHUNK)
    monkeypatch.setattr(ingest.agent, "COPY_CHUNK_BYTES", CHUNK)
    folder = tmp_path / "camera"
    folder.mkdir()
    clip = folder / "CLIP.bin"
    clip.write_bytes(os.urandom(3 * MIB))
    volume = DirectorySource(folder, serial="CAM-C", removable=True, all_files=True)
    link = LinkCamera(volume)
    source: CameraSource = link if attached == "link" else volume
    wiped: list[bytes] = []
    delete = DirectorySource.delete

    async def keep_copy(self: DirectorySource, f: CameraFile) -> None:
        wiped.append(clip.read_bytes())  # what the camera held when it was wiped
        await delete(self, f)

    monkeypatch.setattr(DirectorySource, "delete", keep_copy)
    before = clip.read_bytes()
    with once_mid_pull(monkeypatch, link, attached, lambda: CHANGES[how](clip)):
        async with agent_on(station, tmp_path / "agent", make_proxies=False, stable_s=0.2) as agent:
            report = await agent.offload(source)
    assert report.ok and report.finished, report
    assert not clip.exists() and len(wiped) == 1 and wiped[0] != before
    # Only what the camera held at the end was uploaded; the torn version never was.
    assert await ingested(station) == [blake3(wiped[0]).hexdigest()]
    assert journal_counts(tmp_path / "agent") == {"superseded": 1, "done": 1}
    assert sorted(p.name for p in (tmp_path / "agent" / "spool").iterdir()) == []  # no .part of the old version


async def test_file_changed_after_its_receipt_stays_until_its_own_receipt(
    station: Station, tmp_path: Path
) -> None:
    folder = tmp_path / "camera"
    folder.mkdir()
    clip = folder / "CLIP.bin"
    first = os.urandom(3 * MIB)
    clip.write_bytes(first)
    seen: list[bool] = []
    async with agent_on(station, tmp_path / "agent", make_proxies=False, stable_s=0.2) as agent:
        upload = agent.client.upload_receipted

        async def upload_then_change(path: Path, meta: dict[str, Any], digest: Any = None) -> Any:
            seen.append(clip.exists())  # the camera still holds the file while each version uploads
            answer = await upload(path, meta, digest)
            if len(seen) == 1:
                rewrite_ends(clip)  # the recorder rewrote it after the first receipt
            return answer

        agent.client.upload_receipted = upload_then_change  # type: ignore[method-assign]
        second: bytes | None = None
        delete = DirectorySource.delete

        async def keep_copy(self: DirectorySource, f: CameraFile) -> None:
            nonlocal second
            second = clip.read_bytes()
            await delete(self, f)

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(DirectorySource, "delete", keep_copy)
            report = await agent.offload(DirectorySource(folder, serial="CAM-R", removable=True, all_files=True))
    assert report.finished and seen == [True, True]
    assert second is not None and second != first
    assert await ingested(station) == [blake3(first).hexdigest(), blake3(second).hexdigest()]
    assert not clip.exists()  # wiped only on the receipt of the bytes it held
    assert journal_counts(tmp_path / "agent") == {"done": 2}


async def test_a_growing_file_is_pulled_once_it_has_settled(station: Station, tmp_path: Path) -> None:
    folder = tmp_path / "camera"
    folder.mkdir()
    clip = folder / "CLIP.bin"
    clip.write_bytes(os.urandom(MIB))

    async def recorder() -> None:
        for _ in range(8):  # 1.6 s of writing, a chunk every 0.2 s
            await asyncio.sleep(0.2)
            with clip.open("ab") as fh:
                fh.write(os.urandom(256 * 1024))

    writing = asyncio.create_task(recorder())
    async with agent_on(station, tmp_path / "agent", make_proxies=False, stable_s=0.8) as agent:
        report = await agent.offload(DirectorySource(folder, serial="CAM-G", removable=True, all_files=True))
    await writing
    assert report.finished
    assert journal_counts(tmp_path / "agent") == {"done": 1}  # not one version pulled before it settled
    [logged] = await ingested(station)
    assert not clip.exists()
    journal = Journal(tmp_path / "agent" / "journal.sqlite")
    try:
        [row] = [r for r in (journal.get(1),)]
        assert row.size == MIB + 8 * 256 * 1024 and row.blake3 == logged
    finally:
        journal.close()


# -- a disk that fills during a transcode --------------------------------------------------------------


@contextlib.contextmanager
def small_disk(path: Path, size: int) -> Iterator[Path]:
    path.mkdir(parents=True)
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount a small tmpfs for the spool (needs root): {exc}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


async def test_disk_full_during_a_transcode_waits_then_the_proxy_appears(
    station: Station, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingest.agent

    monkeypatch.setattr(ingest.agent, "SPOOL_RESERVE_BYTES", 0)
    folder = tmp_path / "camera"
    folder.mkdir()
    clip = await make_clip(folder / "CLIP.mp4")
    room = (clip.stat().st_size + 4095) // 4096 * 4096 + 64 * 1024  # the original and 64 KiB: no proxy fits
    with small_disk(tmp_path / "station", room) as disk:
        journal = Journal(tmp_path / "journal.sqlite")
        try:
            async with station.client() as client:
                config = AgentConfig(spool_dir=disk / "spool", case="CASE-A", stable_s=0, resource_retry_s=0)
                agent = Agent(config, journal, client)
                report: OffloadReport = await agent.offload(DirectorySource(folder, serial="CAM-D", removable=True))
                assert report.ok and report.receipted == ["CLIP.mp4"] and "CLIP.mp4" in report.waiting
                assert "No space left" in report.waiting["CLIP.mp4"]
                assert journal.counts() == {"removed": 1}  # receipted and wiped; the proxy waits
                subprocess.run(["mount", "-o", f"remount,size={64 * MIB}", str(disk)], check=True)
                again = await agent.resume()
                assert again.finished and again.proxies == 1
                assert journal.counts() == {"done": 1}
        finally:
            journal.close()
    log = [json.loads(r.body) for r in await station.api.locker.log.entries("CASE-A")]
    kinds = [e["kind"] for e in log]
    assert "evidence.proxy_failed" not in kinds  # the recording was never blamed
    assert kinds.count("evidence.derived") == 1 and not clip.exists()


async def test_a_flag_can_be_retried(station: Station, tmp_path: Path) -> None:
    """A file flagged "no proxy" keeps its spool copy a while; --retry-proxies sends it through ffmpeg again."""
    folder = tmp_path / "camera"
    folder.mkdir()
    good = await make_clip(tmp_path / "GOOD.mp4")
    data = good.read_bytes()
    (folder / "CLIP.mp4").write_bytes(data[: len(data) // 3])  # unreadable as it was pulled
    async with agent_on(station, tmp_path / "agent", stable_s=0) as agent:
        report = await agent.offload(DirectorySource(folder, serial="CAM-F", removable=True))
        assert report.no_proxy == ["CLIP.mp4"]
        [row] = agent.journal.pending()
        assert row.state == "no_proxy"
        assert (tmp_path / "agent" / "spool" / f"{row.id:08d}.orig").exists()  # kept for a retry
        assert await agent.retry_flagged() == ["CLIP.mp4"]
        again = await agent.resume()
        assert again.proxies == 0 and again.no_proxy == ["CLIP.mp4"]  # still unreadable: flagged again, once
    log = [json.loads(r.body) for r in await station.api.locker.log.entries("CASE-A")]
    assert [e["kind"] for e in log].count("evidence.proxy_failed") == 1
