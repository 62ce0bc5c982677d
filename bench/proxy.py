"""Benchmark: the agent's proxy step vs bare ffmpeg with the same arguments on the same 1080p30 clip.

Target: time ratio <= 1.05 (the agent adds only a probe and an atomic rename).  Also reports the
realtime factor (clip seconds / encode seconds) for 1080p30 -> 720p with the default preset.
Each side runs twice, interleaved; the best run counts.  The CPU seconds of the child processes
(ffmpeg, and ffprobe on our side) are printed too: on a shared machine they are steadier than wall time.
Prints PASS/FAIL for the target (the realtime factor and the CPU ratio are references) and exits 1 on a miss.

    python bench/proxy.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from verdict import Verdicts, bench_dir  # noqa: E402

from ingest.proxy import ProxySettings, build_command, make_proxy  # noqa: E402


def make_clip(path: Path, seconds: int) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path)],
                   check=True)


def children_cpu() -> float:
    """User + system seconds of this process's finished, waited-for children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=20)
    args = ap.parse_args()
    verdicts = Verdicts("proxy")
    with bench_dir("proxy") as work:
        await run(args, work, verdicts)
    return verdicts.finish()


async def run(args: argparse.Namespace, work: Path, verdicts: Verdicts) -> None:
    src = work / "clip1080.mp4"
    make_clip(src, args.seconds)
    settings = ProxySettings()
    bare: list[tuple[float, float]] = []
    ours: list[tuple[float, float]] = []
    for _ in range(2):
        start, cpu = time.perf_counter(), children_cpu()
        subprocess.run(build_command(src, work / "bare.mp4", settings), check=True)
        bare.append((time.perf_counter() - start, children_cpu() - cpu))
        start, cpu = time.perf_counter(), children_cpu()
        await make_proxy(src, work / "ours.mp4", settings)
        ours.append((time.perf_counter() - start, children_cpu() - cpu))
    (b, b_cpu), (o, o_cpu) = min(bare), min(ours)
    clip = f"{args.seconds} s of 1080p30"
    print(f"# {os.cpu_count()} CPUs, 1920x1080 30 fps -> {settings.height}p, preset {settings.preset}, "
          f"crf {settings.crf}")
    print(f"peer  bare ffmpeg (same args)   {clip}  {b:6.2f} s  cpu {b_cpu:6.2f} s  "
          f"realtime x{args.seconds / b:4.2f}")
    print(f"ours  agent proxy step          {clip}  {o:6.2f} s  cpu {o_cpu:6.2f} s  "
          f"realtime x{args.seconds / o:4.2f}")
    print(f"time ratio {o / b:5.3f} (target <= 1.05)   cpu ratio {o_cpu / b_cpu:5.3f}")
    verdicts.check(f"proxy step, {clip} -> {settings.height}p, best of 2", ours=f"{o:.2f} s", peer=f"{b:.2f} s",
                   ratio=f"{o / b:.3f}", target="<= 1.05", ok=o / b <= 1.05)
    # Reported beside the verdict: the CPU seconds are steadier than wall time on a shared machine.
    verdicts.reference(f"proxy step realtime factor, {clip} -> {settings.height}p",
                       f"ours x{args.seconds / o:.2f}, bare ffmpeg x{args.seconds / b:.2f}")
    verdicts.reference("proxy step CPU seconds (ffmpeg + ffprobe) vs bare ffmpeg",
                       f"{o_cpu:.2f} s vs {b_cpu:.2f} s, ratio {o_cpu / b_cpu:.3f}")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
