"""Benchmark: `verify-bundle` over a bundle with 1 GiB of media vs `b3sum` + `sha256sum` of the media.

The verifier checks the signature, the chain, the tree root and the BLAKE3, SHA-256 and size of every
object in one read pass; the peer only hashes, with two tools one after another.  Target: time
ratio <= 1.0.

    python bench/verify.py [--media-mib 1024] [--objects 4]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from integrity import merkle  # noqa: E402
from integrity.bundle_files import BundleWriter  # noqa: E402
from integrity.checkpoint import Checkpoint, sign_checkpoint  # noqa: E402
from integrity.entry import build_entry, case_origin  # noqa: E402
from integrity.hashing import ContentHasher  # noqa: E402
from integrity.note import generate_signer, parse_signer_key  # noqa: E402

MiB = 1024 * 1024


def build(work: Path, media_mib: int, objects: int) -> tuple[Path, Path, list[Path]]:
    skey, vkey = generate_signer("bench.local")
    signer = parse_signer_key(skey)
    files = []
    block = os.urandom(MiB)
    for n in range(objects):
        path = work / f"clip{n}.mp4"
        with open(path, "wb") as fh:
            for i in range(media_mib // objects):
                fh.write(block[:-8] + (n * 100000 + i).to_bytes(8, "big"))
        files.append(path)
    bodies: list[bytes] = []
    prev: bytes | None = None
    for seq, path in enumerate(files):
        hasher = ContentHasher()
        with open(path, "rb") as fh:
            while chunk := fh.read(8 * MiB):
                hasher.update(chunk)
        d = hasher.digest()
        body = build_entry(case_id="BENCH", seq=seq, prev=prev, time=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                           actor="bench", kind="evidence.ingested",
                           fields={"blake3": d.blake3, "sha256": d.sha256, "size": d.size, "file_name": path.name})
        bodies.append(body)
        prev = merkle.leaf_hash(body)
    root = merkle.root_from_leaf_hashes([merkle.leaf_hash(b) for b in bodies])
    note = sign_checkpoint(Checkpoint(case_origin("bench.local", "BENCH"), len(bodies), root), signer)
    bundle = work / "bundle.zip"
    with BundleWriter(bundle) as w:
        w.write_checkpoint(note)
        w.write_entries(bodies)
        w.write_vkey(vkey)
        for body, path in zip(bodies, files, strict=True):
            import json

            with w.open_object(json.loads(body)["blake3"]) as out, open(path, "rb") as src:
                shutil.copyfileobj(src, out, 8 * MiB)
    vkey_file = work / "bench.vkey"
    vkey_file.write_text(vkey + "\n")
    return bundle, vkey_file, files


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--media-mib", type=int, default=1024)
    ap.add_argument("--objects", type=int, default=4)
    args = ap.parse_args()
    if not (shutil.which("b3sum") and shutil.which("sha256sum")):
        raise SystemExit("peer tools missing: apt-get install b3sum coreutils")
    work = Path(tempfile.mkdtemp(prefix="custody-bench-verify-"))
    try:
        bundle, vkey, files = build(work, args.media_mib, args.objects)
        names = [str(f) for f in files]
        # Warm the page cache equally for both sides.
        timed(["cat", str(bundle), *names])
        peer = timed(["b3sum", *names]) + timed(["sha256sum", *names])
        ours = timed([sys.executable, "-m", "integrity.verify", str(bundle), "--vkey", str(vkey)])
        mib = args.media_mib
        print(f"peer  b3sum + sha256sum   {mib} MiB  {peer:6.2f} s  {mib * MiB / peer / 1e6:7.1f} MB/s")
        print(f"ours  verify-bundle       {mib} MiB  {ours:6.2f} s  {mib * MiB / ours / 1e6:7.1f} MB/s  "
              f"time ratio {ours / peer:4.2f} (target <= 1.00)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
