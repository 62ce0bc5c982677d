"""``custody demo``: the main job end to end on the embedded defaults.

Generates body-camera-like clips with ffmpeg (test pattern, tone, a clock burnt in, a realistic
``creation_time``), ingests them and a text record into a new case, exports the court bundle with
its media, verifies it offline, and checks one clip against it — printing each step.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import time
from pathlib import Path

from custody.settings import Settings

CLIP_SECONDS = 4


async def make_clip(path: Path, recorded_at: dt.datetime, seconds: int = CLIP_SECONDS) -> None:
    """A small H.264/AAC clip; drawtext needs a font, so fall back to the bare pattern without one."""
    stamp = recorded_at.strftime("%Y-%m-%d %H\\:%M\\:%S")
    base = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=25:duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    tail = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
            "-metadata", f"creation_time={recorded_at.strftime('%Y-%m-%dT%H:%M:%S.000000Z')}",
            "-movflags", "+faststart", str(path)]
    text = f"drawtext=text='CAM-0042 {stamp}':x=10:y=10:fontsize=20:fontcolor=white:box=1:boxcolor=black"
    for vf in (["-vf", text], []):
        proc = await asyncio.create_subprocess_exec(*base, *vf, *tail, stderr=asyncio.subprocess.PIPE)
        _, err = await proc.communicate()
        if proc.returncode == 0:
            return
    raise RuntimeError(f"ffmpeg could not make a sample clip: {err.decode(errors='replace')[-400:]}")


async def run_demo(settings: Settings, *, clips: int = 3) -> int:
    from ingest.probe import probe
    from integrity.bundle import verify_bundle
    from integrity.verify import print_report, verify_file
    from storage.locker import open_locker
    from storage.objects import bytes_source, file_source

    if shutil.which("ffmpeg") is None:
        print("custody demo needs ffmpeg (apt-get install ffmpeg; `make demo` installs it)")
        return 2
    started = time.monotonic()
    work = settings.home / "demo"
    work.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    case_id = f"DEMO-{now:%Y%m%d-%H%M%S}"

    print(f"1. generating {clips} body-camera clips with ffmpeg in {work}")
    paths = [work / f"CAM0042_{(now - dt.timedelta(minutes=10 * (clips - i))):%Y%m%d_%H%M%S}.mp4"
             for i in range(clips)]
    await asyncio.gather(*(make_clip(p, now - dt.timedelta(minutes=10 * (clips - i)))
                           for i, p in enumerate(paths)))

    async with open_locker(settings) as locker:
        print(f"2. embedded stores up: database {'(DATABASE_URL)' if settings.database_url else settings.pg_dir}, "
              f"objects in {settings.store} store, key {locker.log.signer.vkey}")
        opened = await locker.log.open_case(case_id, "officer:0042", title="Demo: street-vending inspection")
        print(f"3. opened case {case_id} (entry {opened.seq})")
        for path in paths:
            facts = await probe(path)
            fields = {"file_name": path.name, "media_type": "video/mp4", "camera": "CAM-0042",
                      "officer": "officer:0042", "station": "dock-01", **facts.as_fields()}
            if facts.creation_time:
                fields["recorded_at"] = facts.creation_time
            result = await locker.add_object(case_id, file_source(path), kind="evidence.ingested",
                                             actor="station:dock-01", fields=fields)
            print(f"   ingested {path.name} -> entry {result.seq}, tree size {result.tree_size}")
        notice = "现场检查笔录 / on-site inspection record\n".encode()
        record = await locker.add_object(
            case_id, bytes_source(notice), kind="record.added", actor="officer:0042",
            fields={"file_name": "inspection-record.txt", "media_type": "text/plain; charset=utf-8",
                    "stage": "调查取证"},
        )
        print(f"   added text record -> entry {record.seq}")
        bundle = work / f"{case_id}.zip"
        n_entries, n_objects = await locker.export(case_id, bundle, with_media=True, actor="investigator:demo",
                                                   purpose="demo export")
        print(f"4. exported {bundle} ({n_entries} entries, {n_objects} objects)")
        vkey_file = work / "custody.vkey"
        vkey_file.write_text(locker.log.signer.vkey + "\n")

    print(f"5. verifying the bundle offline against the pinned key {vkey_file}:")
    report = verify_bundle(bundle, [vkey_file.read_text().strip()])
    print_report(report)
    print(f"6. is {paths[0].name} evidence in this case?")
    matched = verify_file(paths[0], bundle, [vkey_file.read_text().strip()])
    print(f"done in {time.monotonic() - started:.1f} s.  Try: custody log {case_id}; "
          f"custody verify-bundle {bundle} --vkey {vkey_file}")
    return 0 if report.ok and matched == 0 else 1
