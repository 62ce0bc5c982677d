"""Benchmark: a 1 GiB upload through the API into each store vs `curl` to a plain aiohttp sink.

Peer, same run, same machine: `curl -T` of the same file to an aiohttp handler that reads and drops
the body (no hashing, no storage, no log).  A second peer, the contract floor, is the same sink
computing only SHA-256 of the body: the integrity contract requires the server to compute SHA-256
of every original itself, in the same pass, and SHA-256 cannot be split across cores, so no
conforming server can beat that line on this machine (its speed is measured in the same run: about
0.9-1.2 GB/s with SHA-NI, about 340 MB/s without).
Ours: `curl` PUT of the file as one chunk to `custody serve`, which hashes (BLAKE3 + SHA-256)
while storing, checks the declared hash, logs the entry and returns a signed receipt.  Target:
throughput >= 0.8 of the floor's, the best of ``--repeat`` runs of each, alternated (file store; into S3
the server sets the pace, and the same file put straight to it with the minio client is printed
beside ours as a reference).  Then 20
concurrent uploads; target: server peak RSS <= 200 MiB.

Stores: ``file``; ``s3`` is moto (does not enforce Object Lock, fails under concurrency); ``rgw`` is a
real S3 server, a throwaway single-node Ceph RADOS Gateway (tests/rgw.py).  Its OSD keeps objects in
RAM (memstore), so its concurrent run uses ``--rgw-concurrent-mib`` per upload (20 x 1 GiB would not
fit in memory); no failed upload is tolerated on RGW.

    python bench/upload.py [--size-mib 1024] [--repeat 3] [--stores file,s3,rgw] [--concurrent 20]
        [--concurrent-mib 1024] [--concurrent-stores file,s3,rgw] [--rgw-concurrent-mib 100]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from verdict import Verdicts, bench_dir

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests import rgw as rgw_cluster  # noqa: E402  (the repo root first)

SINK = """
import hashlib
import sys
from aiohttp import web
async def sink(request):
    n = 0
    async for chunk in request.content.iter_chunked(1 << 20):
        n += len(chunk)
    return web.json_response({"bytes": n})
async def sha256_sink(request):
    h = hashlib.sha256()
    async for chunk in request.content.iter_chunked(1 << 20):
        h.update(chunk)
    return web.json_response({"sha256": h.hexdigest()})
app = web.Application(client_max_size=0)
app.router.add_route("*", "/sink", sink)
app.router.add_route("*", "/sha256", sha256_sink)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int) -> None:
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def make_file(path: Path, size_mib: int, seed: int = 0) -> None:
    block = os.urandom(1024 * 1024)
    with open(path, "wb") as fh:
        for i in range(size_mib):
            fh.write(block[:-16] + seed.to_bytes(8, "big") + i.to_bytes(8, "big"))


def b3(path: Path) -> str:
    return subprocess.run(["b3sum", "--no-names", str(path)], capture_output=True, text=True, check=True).stdout.strip()


def api(base: str, token: str, method: str, path: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body else None,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())


def curl_put(url: str, path: Path, token: str | None = None) -> subprocess.Popen[bytes]:
    cmd = ["curl", "-sS", "-f", "-X", "PUT", "-T", str(path), "-H", "Content-Type: application/octet-stream",
           "-H", "Expect:", "-o", "/dev/null", url]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    return subprocess.Popen(cmd)


def put_timed(url: str, path: Path) -> float:
    start = time.perf_counter()
    assert curl_put(url, path).wait() == 0
    return time.perf_counter() - start


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(pid: int, timeout_s: float = 60.0) -> None:
    """Until the server has finished its start-up work (it loads jieba's dictionary in the
    background, about 1.5 s of CPU): the sinks have none, so timing through it would not be fair."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(0.5)
        if cpu_seconds(pid) - before < 0.05:
            return
    print(f"      (the server was still busy after {timeout_s:.0f} s; timing anyway)")


def custody(env: dict[str, str], *args: str) -> str:
    return subprocess.run([sys.executable, "-m", "custody", *args], cwd=REPO, env=env, check=True,
                          capture_output=True, text=True).stdout


def start_server(work: Path, store: str, moto_port: int | None,
                 rgw: rgw_cluster.Rgw | None = None) -> tuple[subprocess.Popen[bytes], str, str, dict]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "CUSTODY_", "DATABASE_URL"))}
    env.update({"CUSTODY_HOME": str(work / f"home-{store}"), "CUSTODY_PORT": str(port), "CUSTODY_LOG_LEVEL": "WARNING"})
    if store == "s3":
        env.update({"S3_ENDPOINT": f"127.0.0.1:{moto_port}", "S3_ACCESS_KEY": "b", "S3_SECRET_KEY": "b",
                    "S3_SECURE": "false", "S3_BUCKET": "bench-upload"})
    if store == "rgw":
        assert rgw is not None
        env.update({"CUSTODY_STORE": "s3", "S3_ENDPOINT": rgw.endpoint, "S3_ACCESS_KEY": rgw.access_key,
                    "S3_SECRET_KEY": rgw.secret_key, "S3_SECURE": "false", "S3_BUCKET": "bench-upload"})
    custody(env, "db", "migrate")
    token = custody(env, "station", "add", "bench-dock").strip().splitlines()[-1]
    admin = custody(env, "user", "add", "bench-admin", "--role", "admin").strip().splitlines()[-1]
    proc = subprocess.Popen([sys.executable, "-m", "custody", "serve"], cwd=REPO, env=env)
    wait_port(port)
    base = f"http://127.0.0.1:{port}"
    api(base, admin, "POST", "/api/v1/cases", {"id": "BENCH"})
    return proc, base, token, env


def direct_put_seconds(env: dict[str, str], src: Path) -> float:
    """Seconds to put ``src`` straight into the server's S3 endpoint with the minio client (then deleted)."""
    from minio import Minio
    client = Minio(env["S3_ENDPOINT"], env["S3_ACCESS_KEY"], env["S3_SECRET_KEY"], secure=False)
    bucket, key = "bench-direct", f"direct-{time.time_ns()}"
    if not client.bucket_exists(bucket):
        client.make_bucket(bucket)
    start = time.perf_counter()
    client.fput_object(bucket, key, str(src), part_size=16 * 1024 * 1024)
    elapsed = time.perf_counter() - start
    client.remove_object(bucket, key)
    return elapsed


def upload_many(base: str, token: str, files: list[Path], *, tolerate: bool = False) -> float:
    """Seconds to upload ``files`` at once; ``tolerate``: report failed uploads instead of stopping."""
    ids = [api(base, token, "POST", "/api/v1/uploads",
               {"blake3": b3(f), "size": f.stat().st_size, "file_name": f.name, "case": "BENCH"})["id"]
           for f in files]
    start = time.perf_counter()
    procs = [curl_put(f"{base}/api/v1/uploads/{i}?offset=0", f, token) for i, f in zip(ids, files, strict=True)]
    codes = [p.wait() for p in procs]
    elapsed = time.perf_counter() - start
    if any(codes) and not tolerate:
        raise SystemExit(f"uploads failed: curl exit codes {codes}")
    if any(codes):
        print(f"      {sum(1 for c in codes if c)} of {len(codes)} uploads failed (see the server's log above)")
    for i, code in zip(ids, codes, strict=True):
        assert code or api(base, token, "GET", f"/api/v1/uploads/{i}")["state"] == "committed"
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--stores", default="file,s3,rgw")
    ap.add_argument("--repeat", type=int, default=3, help="floor/ours pairs per store; the best of each decides")
    ap.add_argument("--concurrent", type=int, default=20)
    ap.add_argument("--concurrent-mib", type=int, default=1024)
    ap.add_argument("--concurrent-stores", default="file,s3,rgw", help="stores the concurrent run uses")
    ap.add_argument("--rgw-concurrent-mib", type=int, default=100, help="per upload on RGW (its OSD is in RAM)")
    args = ap.parse_args()
    verdicts = Verdicts("upload")
    with bench_dir("upload") as work:
        run(args, work, verdicts)
    return verdicts.finish()


def decide_one(verdicts: Verdicts, args: argparse.Namespace, store: str, env: dict[str, str], src: Path,
               peer: float, floor: float, seconds: float) -> None:
    """The single upload's verdict: against the hash floor for the file store, a reference for S3."""
    size = src.stat().st_size
    print(f"best  of {args.repeat}: floor {size / floor / 1e6:7.1f} MB/s, "
          f"ours {size / seconds / 1e6:7.1f} MB/s, "
          f"ratio vs peer {peer / seconds:4.2f}, vs floor {floor / seconds:4.2f}"
          + (" (target >= 0.80)" if store == "file" else ""))
    if store == "file":
        verdicts.check(f"curl -> custody ({store}) {args.size_mib} MiB vs SHA-256-only sink, best of "
                       f"{args.repeat}", ours=f"{size / seconds / 1e6:.0f} MB/s",
                       peer=f"{size / floor / 1e6:.0f} MB/s", ratio=f"{floor / seconds:.2f}",
                       target=">= 0.80", ok=floor / seconds >= 0.8)
    else:
        # The S3 server sets this pace, not the hash: the floor is for the file store (issue 17
        # item 4).  Beside ours, the same file put straight to the same server (reference).
        direct = direct_put_seconds(env, src)
        print(f"peer  minio client -> the same S3 server (no hashing, no log)  {args.size_mib} MiB  "
              f"{direct:6.2f} s  {size / direct / 1e6:7.1f} MB/s")
        verdicts.reference(f"curl -> custody ({store}) {args.size_mib} MiB, best of {args.repeat} "
                           "(bound by the S3 server; not decided)",
                           f"ours {size / seconds / 1e6:.0f} MB/s; minio client straight to the same "
                           f"server {size / direct / 1e6:.0f} MB/s ({direct / seconds:.2f})")


def run(args: argparse.Namespace, work: Path, verdicts: Verdicts) -> None:
    procs: list[subprocess.Popen[bytes]] = []
    rgw = None
    try:
        src = work / "clip.bin"
        make_file(src, args.size_mib)
        size = src.stat().st_size
        sink_port = free_port()
        procs.append(subprocess.Popen([sys.executable, "-c", SINK, str(sink_port)]))
        wait_port(sink_port)
        peer = put_timed(f"http://127.0.0.1:{sink_port}/sink", src)
        print(f"peer  curl -> aiohttp sink       {args.size_mib} MiB  {peer:6.2f} s  {size / peer / 1e6:7.1f} MB/s")
        floor = put_timed(f"http://127.0.0.1:{sink_port}/sha256", src)
        print(f"floor curl -> SHA-256-only sink  {args.size_mib} MiB  {floor:6.2f} s  {size / floor / 1e6:7.1f} MB/s")
        moto_port = None
        for store in args.stores.split(","):
            if store == "s3" and moto_port is None:
                moto_port = free_port()
                procs.append(subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1",
                                               "-p", str(moto_port)], stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL))
                wait_port(moto_port)
            if store == "rgw" and rgw is None:
                started = time.perf_counter()
                rgw = rgw_cluster.start(work / "rgw", memstore_mib=args.size_mib + 2 * args.concurrent
                                        * args.rgw_concurrent_mib + 512)
                print(f"rgw   {rgw.version()} started in {time.perf_counter() - started:4.1f} s")
            server, base, token, env = start_server(work, store, moto_port, rgw)
            procs.append(server)
            wait_idle(server.pid)
            print(f"      server idle before the uploads: peak RSS {peak_rss_mib(server.pid):5.1f} MiB")
            # Floor and ours alternate, --repeat times each, each upload a new file (the same bytes
            # would be answered from the store): on a shared or virtual machine one run of either can
            # lose 15-20 % to a neighbour, and the best of each, taken side by side, is the fair pair.
            floors, ours = [], []
            for n in range(args.repeat):
                floors.append(put_timed(f"http://127.0.0.1:{sink_port}/sha256", src))
                clip = work / f"clip-{store}-{n}.bin"
                make_file(clip, args.size_mib, seed=1000 + n)
                ours.append(upload_many(base, token, [clip]))
                clip.unlink()
                print(f"ours  curl -> custody ({store:<4})     {args.size_mib} MiB  {ours[-1]:6.2f} s  "
                      f"{size / ours[-1] / 1e6:7.1f} MB/s  (floor just before: {size / floors[-1] / 1e6:7.1f} MB/s)"
                      f"  server peak RSS {peak_rss_mib(server.pid):5.1f} MiB", flush=True)
            floor = min(floors)
            decide_one(verdicts, args, store, env, src, peer, floor, min(ours))
            if store in args.concurrent_stores.split(",") and args.concurrent:
                files = []
                for n in range(args.concurrent):
                    f = work / f"c{n}.bin"
                    make_file(f, args.rgw_concurrent_mib if store == "rgw" else args.concurrent_mib, seed=n + 1)
                    files.append(f)
                seconds = upload_many(base, token, files, tolerate=store == "s3")  # moto fails under load
                total = sum(f.stat().st_size for f in files)
                print(f"ours  {args.concurrent} concurrent uploads ({store})  "
                      f"{args.concurrent} x {files[0].stat().st_size >> 20} MiB  {seconds:6.2f} s  "
                      f"{total / seconds / 1e6:7.1f} MB/s  server peak RSS "
                      f"{peak_rss_mib(server.pid):5.1f} MiB (target <= 200)")
                verdicts.check(f"{args.concurrent} concurrent uploads ({store}), server peak RSS",
                               ours=f"{peak_rss_mib(server.pid):.0f} MiB", target="<= 200 MiB",
                               ok=peak_rss_mib(server.pid) <= 200)
                for f in files:
                    f.unlink()
            server.terminate()
            server.wait()
            subprocess.run([sys.executable, "-m", "custody", "--home", str(work / f"home-{store}"), "db", "stop"],
                           cwd=REPO, capture_output=True)
        if rgw is not None:
            print("rgw   daemons' RSS at the end (MiB): "
                  + ", ".join(f"{k} {v / 2**20:.0f}" for k, v in rgw.rss_bytes().items()))
    finally:
        if rgw is not None:
            rgw.stop()
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait()


if __name__ == "__main__":
    sys.exit(main())
