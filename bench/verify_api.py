"""Benchmark: verification-by-hash requests/s at 64 concurrent clients, with p99 latency.

Load generator: `wrk` (C, so the client leaves the CPU to the server).  Peer, same run, same load:
a bare aiohttp handler returning a fixed JSON body (what the framework alone costs).  Ours:
`GET /api/v1/verify/{blake3}?case=...` with a bearer token: auth, lookup, entry, inclusion proof and
signed checkpoint.  Targets: >= 1,500 requests/s and p99 < 50 ms on this 2-core machine.

    python bench/verify_api.py [--seconds 10] [--connections 64]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from upload import REPO, api, custody, free_port, wait_port

HELLO = """
import sys
from aiohttp import web
async def hello(request):
    return web.json_response({"blake3": "0" * 64, "found": True, "matches": []})
app = web.Application()
app.router.add_get("/hello", hello)
try:
    import uvloop  # the same event loop custody serve uses, so the comparison is like for like
    loop = uvloop.new_event_loop()
except ImportError:
    import asyncio
    loop = asyncio.new_event_loop()
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None, loop=loop)
"""


def wrk(url: str, seconds: int, connections: int, token: str | None = None) -> tuple[float, float]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if token:
        cmd[1:1] = ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    if os.environ.get("BENCH_VERBOSE"):
        print(out)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99 is not None, out
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{errors.group(1)} failed requests:\n{out}")
    return rps, float(p99.group(1)) * scale


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk (make bench installs it)")
    work = Path(tempfile.mkdtemp(prefix="custody-bench-verify-api-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        hello_port = free_port()
        procs.append(subprocess.Popen([sys.executable, "-c", HELLO, str(hello_port)]))
        wait_port(hello_port)
        rps, p99 = wrk(f"http://127.0.0.1:{hello_port}/hello", args.seconds, args.connections)
        print(f"peer  bare aiohttp JSON handler   {rps:8.0f} req/s  p99 {p99:6.1f} ms")

        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "CUSTODY_", "DATABASE_URL"))}
        env.update({"CUSTODY_HOME": str(work / "home"), "CUSTODY_PORT": str(port), "CUSTODY_LOG_LEVEL": "WARNING"})
        custody(env, "db", "migrate")
        station = custody(env, "station", "add", "dock").strip().splitlines()[-1]
        inv = custody(env, "user", "add", "inv", "--role", "investigator").strip().splitlines()[-1]
        server = subprocess.Popen([sys.executable, "-m", "custody", "serve"], cwd=REPO, env=env)
        procs.append(server)
        wait_port(port)
        base = f"http://127.0.0.1:{port}"
        api(base, inv, "POST", "/api/v1/cases", {"id": "BENCH"})
        data = os.urandom(4096)
        from blake3 import blake3

        hexd = blake3(data).hexdigest()
        up = api(base, station, "POST", "/api/v1/uploads",
                 {"blake3": hexd, "size": len(data), "file_name": "x.mp4", "case": "BENCH"})
        req = urllib.request.Request(f"{base}/api/v1/uploads/{up['id']}?offset=0", data=data, method="PUT",
                                     headers={"Authorization": f"Bearer {station}"})
        urllib.request.urlopen(req).read()
        for i in range(200):  # a log with some history, so proofs are not trivial
            api(base, inv, "GET", f"/api/v1/verify/{hexd}?case=BENCH")
            del i
        rps2, p99_2 = wrk(f"{base}/api/v1/verify/{hexd}?case=BENCH", args.seconds, args.connections, inv)
        print(f"ours  GET /api/v1/verify/{{hash}}   {rps2:8.0f} req/s  p99 {p99_2:6.1f} ms  "
              f"ratio vs peer {rps2 / rps:4.2f}  (targets >= 1,500 req/s, p99 < 50 ms)  1 worker")
        server.terminate()
        server.wait()
        procs.remove(server)
        for workers in (2, 3):
            server = subprocess.Popen([sys.executable, "-m", "custody", "serve", "--workers", str(workers)],
                                      cwd=REPO, env=env)
            procs.append(server)
            wait_port(port)
            time_ready = 0
            while time_ready < 50:  # every worker up: all answer before the run starts
                api(base, inv, "GET", f"/api/v1/verify/{hexd}?case=BENCH")
                time_ready += 1
            rps3, p99_3 = wrk(f"{base}/api/v1/verify/{hexd}?case=BENCH", args.seconds, args.connections, inv)
            print(f"ours  GET /api/v1/verify/{{hash}}   {rps3:8.0f} req/s  p99 {p99_3:6.1f} ms  "
                  f"ratio vs peer {rps3 / rps:4.2f}  (targets >= 1,500 req/s, p99 < 50 ms)  "
                  f"{workers} workers (--workers {workers})")
            server.terminate()
            server.wait()
            procs.remove(server)
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        subprocess.run([sys.executable, "-m", "custody", "--home", str(work / "home"), "db", "stop"], cwd=REPO,
                       capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
