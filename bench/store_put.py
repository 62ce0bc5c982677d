"""Benchmark: put a 1 GiB file into each store vs `cp` + `sync` + `b3sum` + `openssl dgst -sha256` of it.

The store computes BLAKE3, SHA-256 and length in the same pass as it writes, so one pass should beat
the tools run one after another (target time ratio <= 1.0 for FileStore) with peak RSS
<= 128 MiB.  The peer's SHA-256 is OpenSSL's (SHA-NI where the CPU has it, like our ``hashlib``), not
coreutils' ``sha256sum``; its ``sync`` flushes only the copy it wrote, and the source is flushed
before either side runs.  Prints PASS/FAIL per target and exits 1 on a miss.
Each put runs in a child process so its peak RSS is its own.

``s3`` is moto (a peer-less reference); ``rgw`` a real S3 server, a throwaway single-node Ceph RADOS
Gateway (tests/rgw.py, its OSD in RAM).

    python bench/store_put.py [--size-mib 1024] [--stores file,s3,rgw]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from verdict import Verdicts, bench_dir  # noqa: E402

from tests import rgw as rgw_cluster  # noqa: E402  (the repo root first)


def make_file(path: Path, size_mib: int) -> None:
    block = os.urandom(1024 * 1024)
    with open(path, "wb") as fh:
        for i in range(size_mib):
            fh.write(block[:-8] + i.to_bytes(8, "big"))  # distinct blocks, cheap to generate
        fh.flush()
        os.fsync(fh.fileno())  # neither side pays for writing back the source


def run_peer(src: Path, work: Path) -> float:
    missing = [tool for tool in ("b3sum", "openssl", "cp") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"peer tools missing: {missing} (apt-get install b3sum openssl coreutils)")
    dst = work / "peer-copy"
    start = time.perf_counter()
    subprocess.run(["cp", str(src), str(dst)], check=True)
    subprocess.run(["sync", str(dst)], check=True)  # fsync of the copy: the store fsyncs; so must the peer
    subprocess.run(["b3sum", str(src)], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["openssl", "dgst", "-sha256", str(src)], check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    dst.unlink()
    return elapsed


def run_child(store: str, src: Path, work: Path, endpoint: str | None) -> tuple[float, int]:
    """Run one put in a child process; returns (seconds, peak RSS bytes)."""
    cmd = [sys.executable, __file__, "--child", store, "--src", str(src), "--work", str(work)]
    if endpoint:
        cmd += ["--endpoint", endpoint]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{store} put failed ({proc.returncode})")
    return float(out.strip()), usage.ru_maxrss * 1024


async def child_put(store_name: str, src: Path, work: Path, endpoint: str | None) -> float:
    from foundation.settings import Settings
    from storage.objects import file_source
    from storage.stores import open_store

    if store_name == "file":
        settings = Settings.from_env({}, home=work / "home")
    else:
        key, secret = ((rgw_cluster.ACCESS_KEY, rgw_cluster.SECRET_KEY) if store_name == "rgw"
                       else ("bench", "bench-secret"))
        settings = Settings.from_env(
            {}, home=work / "home", store="s3", s3_endpoint=endpoint, s3_access_key=key,
            s3_secret_key=secret, s3_secure=False, s3_bucket=f"bench-{os.getpid()}",
        )
    store = open_store(settings)
    await store.check()
    start = time.perf_counter()
    stored = await store.put(file_source(src))
    elapsed = time.perf_counter() - start
    assert stored.created
    await store.close()
    return elapsed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--stores", default="file,s3,rgw")
    ap.add_argument("--child")
    ap.add_argument("--src")
    ap.add_argument("--work")
    ap.add_argument("--endpoint")
    args = ap.parse_args()
    if args.child:
        print(asyncio.run(child_put(args.child, Path(args.src), Path(args.work), args.endpoint)))
        return 0

    verdicts = Verdicts("store_put")
    with bench_dir("store-put") as work:
        run(args, work, verdicts)
    return verdicts.finish()


def run(args: argparse.Namespace, work: Path, verdicts: Verdicts) -> None:
    src = work / "sample.bin"
    make_file(src, args.size_mib)
    size = args.size_mib * 1024 * 1024
    peer = run_peer(src, work)
    print(f"peer  cp+sync+b3sum+openssl  {args.size_mib} MiB  {peer:6.2f} s  {size / peer / 1e6:7.1f} MB/s")
    moto = None
    rgw = None
    try:
        for store in args.stores.split(","):
            endpoint = None
            if store == "s3":
                port = free_port()
                moto = subprocess.Popen(
                    [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )
                endpoint = f"127.0.0.1:{port}"
                for _ in range(100):
                    try:
                        socket.create_connection(("127.0.0.1", port), 0.1).close()
                        break
                    except OSError:
                        time.sleep(0.1)
            if store == "rgw":
                rgw = rgw_cluster.start(work / "rgw", memstore_mib=args.size_mib + 512)
                endpoint = rgw.endpoint
            seconds, rss = run_child(store, src, work, endpoint)
            target = {"file": " (target <= 1.00)", "s3": " (moto server peer-less; for scale)",
                      "rgw": " (Ceph RGW, real Object Lock; for scale)"}[store]
            print(
                f"store {store:<4} put              {args.size_mib} MiB  {seconds:6.2f} s  "
                f"{size / seconds / 1e6:7.1f} MB/s  time ratio vs peer {seconds / peer:4.2f}{target}  "
                f"peak RSS {rss / 2**20:5.1f} MiB (target <= 128)"
            )
            if store == "file":
                verdicts.check(f"{store} put {args.size_mib} MiB, time", ours=f"{seconds:.2f} s",
                               peer=f"{peer:.2f} s", ratio=f"{seconds / peer:.2f}", target="<= 1.00",
                               ok=seconds / peer <= 1.0)
            verdicts.check(f"{store} put {args.size_mib} MiB, peak RSS", ours=f"{rss / 2**20:.0f} MiB",
                           target="<= 128 MiB", ok=rss <= 128 * 2**20)
    finally:
        if moto is not None:
            moto.terminate()
        if rgw is not None:
            rgw.stop()


if __name__ == "__main__":
    sys.exit(main())
