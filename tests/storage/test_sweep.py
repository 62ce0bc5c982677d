"""The file store's sweep: what a killed writer left in ``tmp/`` goes, a live writer's file stays; the
server sweeps at start-up."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from blake3 import blake3

from storage.filestore import FileStore
from storage.objects import bytes_source
from tests.api.conftest import settings_for, start_api

REPO = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024

WRITER = """
import asyncio, os, sys
from storage.filestore import FileStore

async def main(root):
    async def endless():
        while True:
            yield os.urandom(1024 * 1024)
            print("wrote", flush=True)
            await asyncio.sleep(0.05)
    await FileStore(root).put(endless())

asyncio.run(main(sys.argv[1]))
"""


async def killed_writer(root: Path) -> None:
    """A writer process SIGKILLed in the middle of a put: its partial temp file stays behind."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", WRITER, str(root), cwd=REPO,
                                                env={**os.environ, "PYTHONPATH": str(REPO)},
                                                stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    for _ in range(3):
        await proc.stdout.readline()
    proc.send_signal(signal.SIGKILL)
    await proc.wait()


async def test_sweep_removes_what_dead_writers_left_and_spares_a_live_one(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "objects")
    data = os.urandom(3 * MiB)
    stored = await store.put(bytes_source(data))
    await killed_writer(store.root)
    # A writer killed between publishing and unlinking leaves a second name of a stored object.
    os.link(store._path(stored.key), store.root / "tmp" / "0123456789abcdef0123456789abcdef.part")
    left = sorted(p.name for p in (store.root / "tmp").iterdir())
    assert len(left) == 2

    started, go_on = asyncio.Event(), asyncio.Event()

    async def live() -> AsyncIterator[bytes]:
        yield b"x" * MiB
        started.set()
        await go_on.wait()
        yield b"y" * MiB

    writing = asyncio.create_task(store.put(live()))
    await asyncio.wait_for(started.wait(), 30)
    assert await store.sweep() == 2  # at once, whatever their age: their writers are dead
    assert [p.name for p in (store.root / "tmp").iterdir() if p.name not in left] != []  # the live one stays
    go_on.set()
    done = await writing
    assert done.digest.blake3 == blake3(b"x" * MiB + b"y" * MiB).hexdigest()
    assert [p for p in (store.root / "tmp").iterdir()] == []
    assert b"".join([b async for b in store.get(stored.key)]) == data  # the object kept its own name


async def test_server_start_up_sweeps_the_object_store(database_url: str, tmp_path: Path) -> None:
    settings = settings_for("file", tmp_path / "server", database_url, None)
    root = Path(settings.objects_dir)
    await killed_writer(root)
    assert len(list((root / "tmp").iterdir())) == 1
    runner, _ = await start_api(settings)
    try:
        for _ in range(100):
            if not list((root / "tmp").iterdir()):
                break
            await asyncio.sleep(0.05)
        assert list((root / "tmp").iterdir()) == []
    finally:
        await runner.cleanup()
