"""Benchmark: pulling files off a docked PTP camera vs `cp` of the same files.

Ours: the agent's read path — ``PtpCamera.read`` in 1 MiB chunks, through the real PTP client and
pyusb, into ``/dev/null`` — against the emulated camera of the tests (a pyusb backend answering
GetPartialObject64 from the files on disk).  Peer, same run, same machine: ``cp`` of the same files
to a temp dir, and ``cat`` of them to ``/dev/null`` (the same sink as ours, so no write cost).
All read from the page cache (the files were just written).  The emulated camera
runs in this process, so its work (pread, building containers, the packet arithmetic) is charged
to our side: the ratio overstates what the client itself costs, and a real camera's USB 2.0 link
(~40 MB/s) is far slower than either.

    python bench/agent_pull_ptp.py [--count 4] [--size-mib 512]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ingest.camera_ptp import PtpCamera  # noqa: E402
from ingest.usb import find_device, scan  # noqa: E402
from tests.ingest.emulated_camera import EmulatedBackend, PtpCameraModel  # noqa: E402

CHUNK_BYTES = 1024 * 1024
MIB = 1024 * 1024


def pull_ptp(files: list[Path]) -> float:
    """Seconds to pull every file through the emulated camera with ``PtpCamera.read``, 1 MiB at a time."""
    model = PtpCameraModel("BENCH-0001", files={f"DCIM/{p.name}": p for p in files})
    bus = EmulatedBackend([model])

    async def run() -> float:
        [dev_id] = scan(bus)
        device = find_device(dev_id, bus)
        assert device is not None
        start = time.perf_counter()
        camera = await PtpCamera.open(device, all_files=True)
        try:
            with open(os.devnull, "wb") as sink:
                for f in await camera.list_files():
                    offset = 0
                    while offset < f.size:
                        data = await camera.read(f, offset, min(CHUNK_BYTES, f.size - offset))
                        if not data:
                            raise SystemExit(f"{f.name}: camera returned nothing at {offset} of {f.size}")
                        sink.write(data)
                        offset += len(data)
        finally:
            await camera.close()
        return time.perf_counter() - start

    return asyncio.run(run())


def copy_cp(files: list[Path], dest: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["cp", *map(str, files), str(dest)], check=True)
    return time.perf_counter() - start


def cat_devnull(files: list[Path]) -> float:
    """The floor: reading the same bytes and throwing them away, as our side does."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        subprocess.run(["cat", *map(str, files)], stdout=sink, check=True)
    return time.perf_counter() - start


def make_files(root: Path, count: int, size_mib: int) -> list[Path]:
    """Random-ish bytes (not video): a 16 MiB random block written at a shifting offset."""
    block = os.urandom(16 * MIB)
    files = []
    for i in range(count):
        path = root / f"CLIP_{i:04d}.bin"
        with open(path, "wb") as fh:
            for j in range(size_mib):
                at = (i * 7919 + j * 4099) % (len(block) - MIB)
                fh.write(block[at:at + MIB])
        files.append(path)
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=4)
    parser.add_argument("--size-mib", type=int, default=512)
    args = parser.parse_args()
    total_mib = args.count * args.size_mib
    with tempfile.TemporaryDirectory(prefix="custody-bench-ptp-") as tmp:
        src, dest = Path(tmp) / "camera", Path(tmp) / "copy"
        src.mkdir()
        dest.mkdir()
        print(f"writing {args.count} x {args.size_mib} MiB ...", flush=True)
        files = make_files(src, args.count, args.size_mib)
        cp_s = copy_cp(files, dest)
        for copied in dest.iterdir():
            copied.unlink()  # keep the disk and page cache for the source files only
        cat_s = cat_devnull(files)
        ptp_s = pull_ptp(files)
    print(f"cp to a temp dir      : {cp_s:7.2f} s  {total_mib / cp_s:8.1f} MiB/s")
    print(f"cat to /dev/null      : {cat_s:7.2f} s  {total_mib / cat_s:8.1f} MiB/s")
    print(f"PtpCamera pull (1 MiB): {ptp_s:7.2f} s  {total_mib / ptp_s:8.1f} MiB/s")
    print(f"ratio PTP time / cp time: {ptp_s / cp_s:.2f}   PTP time / cat time: {ptp_s / cat_s:.2f}")


if __name__ == "__main__":
    main()
