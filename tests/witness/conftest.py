"""A witness for the tests: a real witness directory and a real server on a free port.

``witness_server`` runs the witness's aiohttp application in this process (fast, for the locker's
tests); ``WitnessProcess`` runs ``custody witness serve`` as its own process, which a test may kill
with SIGKILL and start again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from custody.local_tsa import free_port
from services.locker import Locker
from services.witnessing import WitnessEndpoint, WitnessPolicy
from storage.keys import KeyRing
from storage.log import CaseLog
from storage.objects import ObjectStore
from witness import config as witness_config
from witness.config import WitnessConfig
from witness.server import create_app

HOST = "evidence.test"
PREFIX = f"{HOST}/case/"


def make_witness(directory: Path, log_vkeys: list[str], name: str = "witness.court.test/w1") -> WitnessConfig:
    return witness_config.init(directory, name, [(PREFIX, log_vkeys)])


@asynccontextmanager
async def witness_server(config: WitnessConfig) -> AsyncIterator[str]:
    """The witness serving on loopback; yields its URL."""
    runner = web.AppRunner(create_app(config), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@dataclass
class WitnessProcess:
    """``custody witness serve`` in a process of its own."""

    directory: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "CUSTODY_HOST": "127.0.0.1", "CUSTODY_LOG_LEVEL": "WARNING"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "custody", "witness", "serve", "--dir", str(self.directory),
             "--port", str(self.port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"witness exited: {self.proc.stderr.read().decode() if self.proc.stderr else ''}")
            try:
                with urllib.request.urlopen(self.url + "/vkey", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("witness did not start")

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, as a power cut would leave it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        self.proc = None


@pytest.fixture
def witness_process(tmp_path: Path) -> Iterator[WitnessProcess]:
    made = WitnessProcess(tmp_path / "witness-proc", free_port())
    yield made
    made.kill()


@pytest.fixture
def ring(tmp_path: Path) -> KeyRing:
    return KeyRing(tmp_path / "keys")


@pytest.fixture
async def witness(tmp_path: Path, ring: KeyRing) -> AsyncIterator[tuple[WitnessConfig, str]]:
    ring.signer(HOST)
    config = make_witness(tmp_path / "witness", ring.vkeys())
    async with witness_server(config) as url:
        yield config, url


def policy_for(*witnesses: tuple[WitnessConfig, str], quorum: int = 1) -> WitnessPolicy:
    return WitnessPolicy(tuple(WitnessEndpoint(url, config.cosigner.verifier) for config, url in witnesses),
                         quorum=quorum, interval_seconds=1)


def locker_with(pool: asyncpg.Pool, store: ObjectStore, ring: KeyRing, policy: WitnessPolicy,
                tsa_chain: bytes = b"") -> Locker:
    return Locker(pool, store, CaseLog(pool, ring.signer(HOST), HOST), ring, policy, tsa_chain)


async def post(url: str, body: bytes) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as http, http.post(url + "/add-checkpoint", data=body) as resp:
        return resp.status, await resp.read()
