"""Benchmark: browser intake of a 1 GiB file vs the station upload path through `custody ingest --server`.

Ours: an investigator adds the file on the case page in Chromium (api/web/static/intake.js): BLAKE3 in
the browser (hash-wasm, one thread, no SIMD), the declaration, 16 MiB parts PUT through the web
session to the stations' upload handlers, and the receipt checked in the browser; timed from the click
to the receipt shown.  Peer: the same server, the same size of file (other bytes: the store keeps each
object once), through `custody ingest FILE --server` as a docking station runs it (hash, spool,
resumable upload, receipt check against the pinned key); timed as the whole command.

Target: ours >= 0.8 of the peer's throughput.  The browser's is bounded by its BLAKE3, which runs before
the upload (the server needs the hash first, to refuse a mismatch): that speed is reported separately,
with the upload-only speed, so a miss can be told apart from a slow hash.

    python bench/browser_upload.py [--size-mib 1024] [--runs 1]

Needs Debian's chromium (/usr/bin/chromium) and the vendor files from ./deploy/web-assets.sh.  The files,
the server's home (embedded PostgreSQL, file store) and the station's spool live in one temporary
directory, removed at the end whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import blake3
from playwright.async_api import async_playwright
from verdict import Verdicts, bench_dir

REPO = Path(__file__).resolve().parents[1]
STATIC = REPO / "api" / "web" / "static"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
BLOCK_BYTES = 16 * 1024 * 1024
TARGET_RATIO = 0.8
CASE_BROWSER, CASE_STATION = "BENCH-BROWSER", "BENCH-STATION"


def make_file(path: Path, size: int, seed: int) -> str:
    """Random-looking bytes, cheap to make (one random block, each copy numbered); their BLAKE3."""
    block = os.urandom(BLOCK_BYTES)
    hasher = blake3.blake3()
    with open(path, "wb") as fh:
        for i, offset in enumerate(range(0, size, BLOCK_BYTES)):
            piece = (block[:-16] + seed.to_bytes(8, "big") + i.to_bytes(8, "big"))[: size - offset]
            hasher.update(piece)
            fh.write(piece)
    return str(hasher.hexdigest())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def custody(env: dict[str, str], *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "custody", *args], cwd=REPO, env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"custody {' '.join(args)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out.stdout


def wait_healthy(base: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"custody serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("custody serve did not become healthy")


def open_case(base: str, token: str, case_id: str) -> None:
    req = urllib.request.Request(base + "/api/v1/cases", method="POST", data=json.dumps({"id": case_id}).encode(),
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as resp:
        assert resp.status == 201


def station_upload(env: dict[str, str], base: str, token_file: Path, path: Path, name: str) -> float:
    """Seconds for `custody ingest FILE --server` (a station's offload, through its spool), receipted."""
    start = time.perf_counter()
    out = custody(env, "ingest", str(path), "--case", CASE_STATION, "--server", base, "--token-file",
                  str(token_file), "--no-proxies")
    seconds = time.perf_counter() - start
    if f"receipted: {name}" not in out:
        raise SystemExit(f"the station did not get a receipt:\n{out}")
    return seconds


async def browser_upload(base: str, token: str, path: Path) -> dict[str, float | str]:
    """Seconds from the click to the receipt shown, and the page's own hash and upload times."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await (await browser.new_context()).new_page()
            page.set_default_timeout(600_000)
            await page.goto(base + "/signin")
            await page.fill("#token", token)
            await page.click("button[type=submit]")
            await page.wait_for_selector("#signed-in-user")
            await page.goto(f"{base}/cases/{CASE_BROWSER}")
            await page.wait_for_selector("#intake[data-ready='1']")
            await page.set_input_files("#intake-files", str(path))  # a local browser gets the path, not the bytes
            start = time.perf_counter()
            await page.click("#intake-start")
            await page.wait_for_selector("#intake[data-finished='1']")
            seconds = time.perf_counter() - start
            row = await page.eval_on_selector("#intake-list li", "li => ({...li.dataset, text: li.innerText})")
        finally:
            await browser.close()
    if row.get("state") != "committed" or row.get("receipt") != "ok":
        raise SystemExit(f"the browser upload did not end with a verified receipt: {row}")
    return {"seconds": seconds, "hash_s": float(row["hashSeconds"]), "upload_s": float(row["uploadSeconds"]),
            "blake3": str(row["blake3"])}


def check_prerequisites() -> None:
    if shutil.which(CHROMIUM) is None:
        raise SystemExit(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    if not (STATIC / "vendor" / "hash-wasm.esm.min.js").is_file():
        raise SystemExit(f"hash-wasm missing from {STATIC / 'vendor'}: run ./deploy/web-assets.sh")


def run(args: argparse.Namespace, work: Path, verdicts: Verdicts) -> None:
    size = args.size_mib * 1024 * 1024
    label = f"{args.size_mib} MiB"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "CUSTODY_", "DATABASE_URL"))}
    env.update({"CUSTODY_HOME": str(work / "server"), "CUSTODY_PORT": str(port), "CUSTODY_LOG_LEVEL": "WARNING"})
    custody(env, "db", "migrate")
    dock = custody(env, "station", "add", "bench-dock").strip().splitlines()[-1]
    ivy = custody(env, "user", "add", "bench-ivy", "--role", "investigator").strip().splitlines()[-1]
    token_file = work / "dock.token"
    token_file.write_text(dock + "\n")
    station_env = {**env, "CUSTODY_HOME": str(work / "station")}
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "custody", "serve"], cwd=REPO, env=env)
    try:
        wait_healthy(base, server)
        open_case(base, ivy, CASE_BROWSER)
        open_case(base, ivy, CASE_STATION)
        station_s: list[float] = []
        browser: list[dict[str, float | str]] = []
        for run_no in range(args.runs):
            # Fresh bytes each time (the store keeps an object once); one file at a time on disk.
            folder = work / f"camera-{run_no}"
            folder.mkdir()
            src = folder / f"station-{run_no}.bin"
            make_file(src, size, seed=2 * run_no)
            # Recorded a while ago, as a docked camera's files are: the agent takes it at once, no settling wait.
            old = time.time() - 3600
            os.utime(src, (old, old))
            station_s.append(station_upload(station_env, base, token_file, src, src.name))
            print(f"peer  custody ingest --server      {label}  {station_s[-1]:6.2f} s  "
                  f"{size / station_s[-1] / 1e6:7.1f} MB/s", flush=True)
            shutil.rmtree(folder)
            src = work / f"browser-{run_no}.bin"
            want = make_file(src, size, seed=2 * run_no + 1)
            result = asyncio.run(browser_upload(base, ivy, src))
            src.unlink()
            if result["blake3"] != want:
                raise SystemExit(f"the browser's BLAKE3 {result['blake3']} is not the file's {want}")
            browser.append(result)
            print(f"ours  browser intake (Chromium)     {label}  {float(result['seconds']):6.2f} s  "
                  f"{size / float(result['seconds']) / 1e6:7.1f} MB/s  (BLAKE3 here {float(result['hash_s']):.2f} s, "
                  f"upload {float(result['upload_s']):.2f} s)", flush=True)
    finally:
        server.terminate()
        server.wait()

    best_station = min(station_s)
    best = min(browser, key=lambda r: float(r["seconds"]))
    ours_mb_s, peer_mb_s = size / float(best["seconds"]) / 1e6, size / best_station / 1e6
    ratio = ours_mb_s / peer_mb_s
    hash_mb_s = size / min(float(r["hash_s"]) for r in browser) / 1e6
    upload_mb_s = size / min(float(r["upload_s"]) for r in browser) / 1e6
    verdicts.check(f"{label} browser intake vs custody ingest --server", ours=f"{ours_mb_s:.0f} MB/s",
                   peer=f"{peer_mb_s:.0f} MB/s", ratio=f"{ratio:.2f}", target=f">= {TARGET_RATIO}",
                   ok=ratio >= TARGET_RATIO)
    verdicts.reference("in-browser BLAKE3 (hash-wasm, the bound on ours)", f"{hash_mb_s:.0f} MB/s")
    verdicts.reference("browser upload after the hash (PUTs to the receipt)", f"{upload_mb_s:.0f} MB/s")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=1, help="rounds of (station, browser); the best of each counts")
    args = ap.parse_args()
    check_prerequisites()
    verdicts = Verdicts("browser_upload")
    with bench_dir("browser-upload") as work:
        run(args, work, verdicts)
    return verdicts.finish()


if __name__ == "__main__":
    sys.exit(main())
