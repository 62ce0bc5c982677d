"""`custody serve` as a real process: smoke test, graceful stop, and two servers on one database."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from blake3 import blake3

from ingest.client import CustodyClient
from integrity import merkle
from integrity.checkpoint import open_checkpoint
from integrity.note import Verifier
from storage import db
from storage.keys import KeyRing
from storage.log import CaseLog
from tests.api.conftest import free_port
from tests.conftest import S3Server

REPO = Path(__file__).resolve().parents[2]


def custody_env(home: Path, database_url: str, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "CUSTODY_", "DATABASE_URL"))}
    env.update({"CUSTODY_HOME": str(home), "DATABASE_URL": database_url, "CUSTODY_PORT": str(port),
                "CUSTODY_ORIGIN": "evidence.test", "CUSTODY_LOG_FORMAT": "json", **extra})
    return env


def cli(env: dict[str, str], *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "custody", *args], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


async def wait_healthy(base: str, proc: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(150):
            if proc.poll() is not None:
                raise AssertionError(f"custody serve exited with {proc.returncode}")
            try:
                async with http.get(base + "/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("custody serve did not become healthy in 15 s")


class Server:
    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.env = env
        self.base = f"http://127.0.0.1:{env['CUSTODY_PORT']}"
        self.proc = subprocess.Popen([sys.executable, "-m", "custody", "serve", *args], cwd=REPO, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop(self) -> tuple[int, bytes]:
        self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return self.proc.returncode, err


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        if server.proc.poll() is None:
            server.stop()


async def test_serve_smoke_upload_and_verify(servers: list[Server], database_url: str, tmp_path: Path) -> None:
    env = custody_env(tmp_path / "home", database_url, free_port())
    cli(env, "db", "migrate")
    station_token = cli(env, "station", "add", "dock-1").strip().splitlines()[-1]
    inv_token = cli(env, "user", "add", "alice", "--role", "investigator").strip().splitlines()[-1]
    server = Server(env)
    servers.append(server)
    await wait_healthy(server.base, server.proc)

    async with CustodyClient(server.base, inv_token) as inv:
        await inv.request("POST", "/api/v1/cases", json={"id": "SMOKE-1", "title": "smoke"})
        vkey = (await inv.request("GET", "/api/v1/keys"))["current"]
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(os.urandom(3 * 1024 * 1024 + 5))
    async with CustodyClient(server.base, station_token, vkeys=[vkey]) as station:
        entry = await station.upload(clip, {"case": "SMOKE-1", "camera": "CAM-3", "media_type": "video/mp4"})
    assert entry["blake3"] == blake3(clip.read_bytes()).hexdigest() and entry["station"] == "dock-1"

    vkey_file = tmp_path / "server.vkey"
    vkey_file.write_text(vkey + "\n")
    out = subprocess.run([sys.executable, "-m", "custody", "verify", str(clip), "--server", server.base,
                          "--case", "SMOKE-1", "--vkey", str(vkey_file)], cwd=REPO, capture_output=True, text=True,
                         env={**env, "CUSTODY_TOKEN": inv_token}, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("MATCH: clip.mp4 is entry 1 (evidence.ingested) of case SMOKE-1")

    code, err = server.stop()
    assert code == 0, err.decode()[-2000:]
    logs = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    requests = [rec for rec in logs if rec.get("logger") == "custody.http"]
    assert requests and all("request_id" in rec for rec in requests)
    assert station_token not in err.decode() and inv_token not in err.decode()  # secrets never logged


async def test_workers_share_the_port_and_stop_together(servers: list[Server], database_url: str,
                                                         tmp_path: Path) -> None:
    env = custody_env(tmp_path / "home", database_url, free_port())
    cli(env, "db", "migrate")
    token = cli(env, "user", "add", "carol", "--role", "investigator").strip().splitlines()[-1]
    server = Server(env, "--workers", "2")
    servers.append(server)
    assert server.proc.stderr is not None
    seen: list[bytes] = []

    def serving_pids() -> set[str]:
        return {json.loads(line)["message"].rsplit("pid ", 1)[1] for line in seen
                if line.startswith(b"{") and b"custody serving on" in line}

    def read_until_both_serve() -> None:
        while len(serving_pids()) < 2 and (line := server.proc.stderr.readline()):  # type: ignore[union-attr]
            seen.append(line)

    await asyncio.wait_for(asyncio.to_thread(read_until_both_serve), 60)
    assert len(serving_pids()) == 2  # two processes on one port
    async with aiohttp.ClientSession() as http:
        for _ in range(20):  # new connections each time: the kernel spreads them over both workers
            async with http.get(server.base + "/api/v1/cases", headers={"Authorization": f"Bearer {token}",
                                                                          "Connection": "close"}) as resp:
                assert resp.status == 200
    code, err = server.stop()
    assert code == 0, err.decode()[-2000:]
    stopping = [line for line in err.splitlines() if b"shutting down" in line]
    assert len(stopping) == 2  # parent and child both finished in-flight requests and exited
    assert token.encode() not in b"".join(seen) + err


async def test_two_servers_one_database_one_bucket(
    servers: list[Server], database_url: str, s3_server: S3Server, tmp_path: Path
) -> None:
    """Production shape: two `custody serve` behind a balancer, sharing PostgreSQL, S3 and the key."""
    home = tmp_path / "shared-home"
    bucket = f"scale-{uuid.uuid4().hex[:10]}"
    s3 = {"S3_ENDPOINT": s3_server.endpoint, "S3_ACCESS_KEY": s3_server.access_key,
          "S3_SECRET_KEY": s3_server.secret_key, "S3_SECURE": "false",
          "S3_BUCKET": bucket, "S3_PART_SIZE_MIB": "5"}
    env_a = custody_env(home, database_url, free_port(), **s3)
    env_b = custody_env(home, database_url, free_port(), **s3)
    cli(env_a, "db", "migrate")
    tokens = {name: cli(env_a, "station", "add", name).strip().splitlines()[-1] for name in ("dock-a", "dock-b")}
    inv = cli(env_a, "user", "add", "bob", "--role", "investigator").strip().splitlines()[-1]
    a, b = Server(env_a), Server(env_b)
    servers.extend([a, b])
    await asyncio.gather(wait_healthy(a.base, a.proc), wait_healthy(b.base, b.proc))
    async with CustodyClient(a.base, inv) as client:
        await client.request("POST", "/api/v1/cases", json={"id": "SCALE-1"})
        vkey = (await client.request("GET", "/api/v1/keys"))["current"]

    files = []
    for i in range(12):
        path = tmp_path / f"f{i}.mp4"
        path.write_bytes(os.urandom(200_000 + i) if i != 11 else os.urandom(6 * 1024 * 1024))
        files.append(path)
    twin = files[-1]  # the same file through both servers at once

    async def push(server: Server, token: str, paths: list[Path]) -> list[dict[str, object]]:
        async with CustodyClient(server.base, token, vkeys=[vkey]) as client:
            return list(await asyncio.gather(*(client.upload(p, {"case": "SCALE-1"}) for p in paths)))

    ra, rb = await asyncio.gather(push(a, tokens["dock-a"], [*files[0:11:2], twin]),
                                  push(b, tokens["dock-b"], [*files[1:11:2], twin]))
    assert ra[-1]["seq"] == rb[-1]["seq"]  # one entry for the twin, whichever server logged it

    pool = await db.create_pool(database_url)
    try:
        log = CaseLog(pool, KeyRing(home / "keys").signer("evidence.test"), "evidence.test")
        rows = await log.entries("SCALE-1")
        assert [r.seq for r in rows] == list(range(13))  # case.opened + 12 distinct files
        assert len({r.blake3 for r in rows if r.blake3}) == 12
        verifiers = [Verifier.from_vkey(vkey)]
        sizes = [s for s in range(1, 14) if await _has_checkpoint(log, s)]
        previous = None
        for size in sizes:
            cp, _ = open_checkpoint((await log.checkpoint("SCALE-1", size)).note, verifiers)
            assert cp.root == merkle.root_from_leaf_hashes([r.leaf_hash for r in rows[:size]])
            if previous is not None:
                proof = await log.consistency_proof("SCALE-1", previous.size, cp.size)
                merkle.verify_consistency(previous.size, cp.size, previous.root, cp.root, proof)
            previous = cp
    finally:
        await pool.close()
    client = s3_server.client()
    versions = [o.object_name for o in client.list_objects(bucket, recursive=True, include_version=True)]
    assert sorted(v for v in versions if v.startswith("blake3/")) == sorted(
        f"blake3/{blake3(p.read_bytes()).hexdigest()}" for p in files)
    # Each server archived the checkpoints it signed, once each (one version per name), beside the objects;
    # the rest are the governance log's (the stations and the user were logged as they were added).
    archived = sorted(v for v in versions if v.startswith("checkpoints/SCALE-1/"))
    assert archived == [f"checkpoints/SCALE-1/{n:020d}" for n in sizes]
    ours = ("blake3/", "checkpoints/SCALE-1/", "checkpoints/governance/")
    assert [v for v in versions if not v.startswith(ours)] == []


async def _has_checkpoint(log: CaseLog, size: int) -> bool:
    try:
        await log.checkpoint("SCALE-1", size)
        return True
    except Exception:
        return False

