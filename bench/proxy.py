"""Benchmark: the agent's proxy step vs bare ffmpeg with the same arguments on the same 1080p30 clip.

Target: time ratio <= 1.05 (the agent adds only a probe and an atomic rename).  Also reports the
realtime factor (clip seconds / encode seconds) for 1080p30 -> 720p with the default preset.
Each side runs twice; the best run counts.

    python bench/proxy.py [--seconds 20]
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

from ingest.proxy import ProxySettings, build_command, make_proxy  # noqa: E402


def make_clip(path: Path, seconds: int) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path)],
                   check=True)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=20)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="custody-bench-proxy-"))
    try:
        src = work / "clip1080.mp4"
        make_clip(src, args.seconds)
        settings = ProxySettings()
        bare, ours = [], []
        for _ in range(2):
            out = work / "bare.mp4"
            start = time.perf_counter()
            subprocess.run(build_command(src, out, settings), check=True)
            bare.append(time.perf_counter() - start)
            start = time.perf_counter()
            await make_proxy(src, work / "ours.mp4", settings)
            ours.append(time.perf_counter() - start)
        b, o = min(bare), min(ours)
        clip = f"{args.seconds} s of 1080p30"
        print(f"peer  bare ffmpeg (same args)   {clip}  {b:6.2f} s  realtime x{args.seconds / b:4.2f}")
        print(f"ours  agent proxy step          {clip}  {o:6.2f} s  realtime x{args.seconds / o:4.2f}  "
              f"time ratio {o / b:4.3f} (target <= 1.05)  preset {settings.preset}, {settings.height}p")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
