"""Benchmark: the agent's pull step (camera -> spool, hashed as it streams, fsynced, journaled)
through `--source DIR` and through the emulated PTP camera, vs `cp` + `sync` of the same files.

Target: >= 0.8x `cp` for `--source` (time ratio cp/ours >= 0.8); the PTP figure is reported (its
emulated camera runs in this process and is charged to our side).

    python bench/agent_pull.py [--count 4] [--size-mib 512]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from agent_pull_ptp import make_files  # noqa: E402

from ingest.agent import Agent, AgentConfig  # noqa: E402
from ingest.camera_ptp import PtpCamera  # noqa: E402
from ingest.client import CustodyClient  # noqa: E402
from ingest.sources import CameraSource, DirectorySource  # noqa: E402
from ingest.spool import Journal  # noqa: E402
from ingest.usb import find_device, scan  # noqa: E402
from tests.ingest.emulated_camera import EmulatedBackend, PtpCameraModel  # noqa: E402


async def pull_all(source: CameraSource, work: Path) -> float:
    """Seconds for the agent's real pull step over every file of ``source`` (no upload)."""
    journal = Journal(work / "journal.sqlite")
    client = CustodyClient("http://127.0.0.1:9", "unused")  # the pull step never talks to the server
    try:
        agent = Agent(AgentConfig(spool_dir=work / "spool"), journal, client)
        files = await source.list_files()
        start = time.perf_counter()
        for f in files:
            row = journal.discover(source.serial, f.name, f.size, f.recorded_at, {})
            await agent._pull(row, source, f)
        return time.perf_counter() - start
    finally:
        await client.close()
        journal.close()


def cp(files: list[Path], dest: Path) -> float:
    dest.mkdir()
    start = time.perf_counter()
    subprocess.run(["cp", *map(str, files), str(dest)], check=True)
    subprocess.run(["sync", "-f", str(dest)], check=True)  # the agent fsyncs its spool; so must the peer
    return time.perf_counter() - start


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=4)
    ap.add_argument("--size-mib", type=int, default=512)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="custody-bench-pull-"))
    try:
        (work / "camera").mkdir()
        files = make_files(work / "camera", args.count, args.size_mib)
        total_mib = args.count * args.size_mib
        peer = cp(files, work / "cp")
        print(f"peer  cp + sync                 {total_mib} MiB  {peer:6.2f} s  {total_mib / peer:7.1f} MiB/s")
        ours = await pull_all(DirectorySource(work / "camera", serial="BENCH", all_files=True), work / "a")
        print(f"ours  agent pull --source DIR    {total_mib} MiB  {ours:6.2f} s  {total_mib / ours:7.1f} MiB/s  "
              f"speed vs cp {peer / ours:4.2f} (target >= 0.80)")
        model = PtpCameraModel("BENCH-PTP", files={f"DCIM/{p.name}": p for p in files})
        bus = EmulatedBackend([model])
        [dev_id] = scan(bus)
        device = find_device(dev_id, bus)
        camera = await PtpCamera.open(device, all_files=True)
        try:
            ptp = await pull_all(camera, work / "b")
        finally:
            await camera.close()
        print(f"ours  agent pull over PTP (emu)  {total_mib} MiB  {ptp:6.2f} s  {total_mib / ptp:7.1f} MiB/s  "
              f"speed vs cp {peer / ptp:4.2f} (reported)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
