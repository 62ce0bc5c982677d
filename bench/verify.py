"""Benchmark: `custody verify-bundle` over a bundle with 1 GiB of media vs `b3sum` + `openssl dgst -sha256`.

The verifier checks the signature, the chain, the tree root and the BLAKE3, SHA-256 and size of every
object, reading each object once and hashing BLAKE3 and SHA-256 on both cores at once; the peer only
hashes, with the two fastest tools on the machine run one after the other over the same objects.
SHA-256 tools differ several-fold (coreutils `sha256sum` has no SHA-NI, OpenSSL has): the run first
measures `openssl dgst -sha256`, Python's `hashlib` (what we use) and `sha256sum` and prints their
speeds; the peer uses `openssl dgst -sha256`, `sha256sum` is a reference only.  Target: time ratio
<= 1.0 (median of the runs), for `custody verify-bundle` (the command a user runs, start-up included)
and for `python -m integrity.verify` (the standalone verifier a court's expert copies).

    python bench/verify.py [--media-mib 1024] [--objects 4] [--runs 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from verdict import Verdicts, bench_dir, load  # noqa: E402

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
            with w.open_object(json.loads(body)["blake3"]) as out, open(path, "rb") as src:
                shutil.copyfileobj(src, out, 8 * MiB)
    vkey_file = work / "bench.vkey"
    vkey_file.write_text(vkey + "\n")
    return bundle, vkey_file, files


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=REPO)
    return time.perf_counter() - start


def hashlib_seconds(files: list[Path]) -> float:
    start = time.perf_counter()
    for path in files:
        h = hashlib.sha256()
        with open(path, "rb", buffering=0) as fh:
            while block := fh.read(4 * MiB):
                h.update(block)
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--media-mib", type=int, default=1024)
    ap.add_argument("--objects", type=int, default=4)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    missing = [t for t in ("b3sum", "openssl", "sha256sum") if shutil.which(t) is None]
    if missing:
        raise SystemExit(f"peer tools missing: {missing} (apt-get install b3sum openssl coreutils)")
    verdicts = Verdicts("verify")
    custody = str(Path(sys.executable).parent / "custody")
    mb = args.media_mib * MiB / 1e6
    with bench_dir("verify") as work:
        bundle, vkey, files = build(work, args.media_mib, args.objects)
        names = [str(f) for f in files]
        timed(["cat", str(bundle), *names])  # warm the page cache equally for both sides
        print(f"SHA-256 tools over the same {args.media_mib} MiB  [load {load()}]")
        print(f"  openssl dgst -sha256  {mb / timed(['openssl', 'dgst', '-sha256', *names]):7.0f} MB/s")
        print(f"  python hashlib        {mb / hashlib_seconds(files):7.0f} MB/s")
        print(f"  sha256sum (coreutils) {mb / timed(['sha256sum', *names]):7.0f} MB/s  (reference, not the peer)")
        ratios: dict[str, list[float]] = {"custody verify-bundle": [], "python -m integrity.verify": []}
        seconds: dict[str, list[float]] = {k: [] for k in ratios}
        peers: list[float] = []
        for run in range(args.runs):
            peer = timed(["b3sum", *names]) + timed(["openssl", "dgst", "-sha256", *names])
            peers.append(peer)
            ours = {
                "custody verify-bundle": timed([custody, "verify-bundle", str(bundle), "--vkey", str(vkey)]),
                "python -m integrity.verify": timed([sys.executable, "-m", "integrity.verify", str(bundle),
                                                     "--vkey", str(vkey)]),
            }
            print(f"run {run + 1}: peer b3sum + openssl dgst -sha256 {peer:5.2f} s; "
                  + "; ".join(f"{k} {v:5.2f} s (ratio {v / peer:4.2f})" for k, v in ours.items())
                  + f"  [load {load()}]")
            for k, v in ours.items():
                seconds[k].append(v)
                ratios[k].append(v / peer)
        start = time.perf_counter()
        subprocess.run([custody, "--help"], check=True, stdout=subprocess.DEVNULL)
        print(f"custody start-up alone (custody --help): {time.perf_counter() - start:4.2f} s")

        def span(xs: list[float]) -> str:
            return f"{min(xs):.2f}-{max(xs):.2f}"

        for k in ratios:
            verdicts.check(f"{k}, {args.media_mib} MiB", ours=f"{span(seconds[k])} s", peer=f"{span(peers)} s",
                           ratio=f"{statistics.median(ratios[k]):.2f} ({span(ratios[k])})", target="<= 1.00",
                           ok=statistics.median(ratios[k]) <= 1.0)
    return verdicts.finish()


if __name__ == "__main__":
    sys.exit(main())
