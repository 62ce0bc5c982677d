"""What a witness cosigned, in SQLite: written durably before any answer leaves the witness.

The check against the latest cosigned checkpoint and the update of it must be one atomic step (the
spec's race: two requests checked against the same old size, the smaller stored last, would roll the
log back).  Here one writer does both for a whole batch of requests: it takes every request waiting,
decides each against the state as the batch has left it so far, commits once (WAL with
``synchronous=FULL``: the commit is on disk when it returns) and only then hands out the cosignatures.
A crash before the commit loses the batch and its answers together; none was sent.

Tables: ``latest`` (one row per origin: the checkpoint it last cosigned, the note included),
``history`` (every cosigning: origin, size, root, time) and ``refusals`` (inconsistent or split-view
checkpoints with a valid log signature: evidence of the log's misbehaviour, kept for the operator).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from integrity.cosignature import Cosigner
from integrity.note import Verifier
from integrity.witness_protocol import AddCheckpoint, Latest, Refusal, check_request

#: Requests decided in one transaction at most (one fsync for all of them).
MAX_BATCH = 512

SCHEMA = """
CREATE TABLE IF NOT EXISTS latest (
    origin      TEXT PRIMARY KEY,
    size        INTEGER NOT NULL,
    root        BLOB NOT NULL,
    note        BLOB NOT NULL,
    cosigned_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    id          INTEGER PRIMARY KEY,
    origin      TEXT NOT NULL,
    size        INTEGER NOT NULL,
    root        BLOB NOT NULL,
    cosigned_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS refusals (
    id          INTEGER PRIMARY KEY,
    origin      TEXT NOT NULL,
    status      INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    old_size    INTEGER NOT NULL,
    note        BLOB NOT NULL,
    at          INTEGER NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Held:
    """One origin as the witness holds it."""

    origin: str
    size: int
    root: bytes
    cosigned_at: int
    cosignings: int


@dataclass(frozen=True, slots=True)
class RefusalRow:
    origin: str
    status: int
    reason: str
    old_size: int
    at: int


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")  # every commit is on disk before it returns
    conn.executescript(SCHEMA)
    return conn


class WitnessState:
    """The witness's memory of every log, and the one writer that changes it."""

    def __init__(self, path: Path, cosigner: Cosigner,
                 verifiers_for: Callable[[str], tuple[Verifier, ...] | None],
                 clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.cosigner = cosigner
        self.verifiers_for = verifiers_for
        self.clock = clock
        self._conn = connect(path)
        self._latest: dict[str, Latest] = {
            origin: Latest(size, root) for origin, size, root in
            self._conn.execute("SELECT origin, size, root FROM latest")
        }
        self._queue: list[tuple[AddCheckpoint, asyncio.Future[bytes]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def add_checkpoint(self, request: AddCheckpoint) -> bytes:
        """The cosignature line for ``request``'s checkpoint, once its acceptance is on disk; or Refusal."""
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._queue.append((request, fut))
        if self._writer is None:
            self._writer = asyncio.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                try:
                    outcomes = await asyncio.to_thread(self._decide_batch, [r for r, _ in batch])
                except BaseException as exc:
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc if isinstance(exc, Exception) else RuntimeError(repr(exc)))
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for (_, fut), outcome in zip(batch, outcomes, strict=True):
                    if fut.done():
                        continue
                    if isinstance(outcome, Refusal):
                        fut.set_exception(outcome)
                    else:
                        fut.set_result(outcome)
        finally:
            self._writer = None

    def _decide_batch(self, requests: list[AddCheckpoint]) -> list[bytes | Refusal]:
        """Decide, write and commit a batch; the cache changes only after the commit."""
        now = int(self.clock())
        overlay: dict[str, Latest] = {}
        outcomes: list[bytes | Refusal] = []
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for request in requests:
                origin = request.note.partition(b"\n")[0].decode("utf-8", "replace")
                verifiers = self.verifiers_for(origin)
                latest = overlay.get(origin, self._latest.get(origin))
                try:
                    checkpoint = check_request(request, verifiers, latest)
                except Refusal as refusal:
                    if refusal.misbehaviour:  # keep the evidence against the log
                        conn.execute("INSERT INTO refusals (origin, status, reason, old_size, note, at) "
                                     "VALUES (?, ?, ?, ?, ?, ?)",
                                     (origin, refusal.status, refusal.reason, request.old_size, request.note, now))
                    outcomes.append(refusal)
                    continue
                body = checkpoint.body().encode()
                conn.execute(
                    "INSERT INTO latest (origin, size, root, note, cosigned_at) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root = excluded.root, "
                    "note = excluded.note, cosigned_at = excluded.cosigned_at",
                    (origin, checkpoint.size, checkpoint.root, request.note, now))
                conn.execute("INSERT INTO history (origin, size, root, cosigned_at) VALUES (?, ?, ?, ?)",
                             (origin, checkpoint.size, checkpoint.root, now))
                overlay[origin] = Latest(checkpoint.size, checkpoint.root)
                outcomes.append(self.cosigner.cosign(body, now))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._latest.update(overlay)
        return outcomes

    def latest(self, origin: str) -> Latest | None:
        return self._latest.get(origin)

    def close(self) -> None:
        self._conn.close()


def held(path: Path) -> list[Held]:
    """Every origin the witness cosigned, with its latest size and how often it cosigned (for checks)."""
    conn = connect(path)
    try:
        rows = conn.execute(
            "SELECT l.origin, l.size, l.root, l.cosigned_at, "
            "(SELECT count(*) FROM history h WHERE h.origin = l.origin) FROM latest l ORDER BY l.origin")
        return [Held(*row) for row in rows]
    finally:
        conn.close()


def refusals(path: Path) -> list[RefusalRow]:
    conn = connect(path)
    try:
        rows = conn.execute("SELECT origin, status, reason, old_size, at FROM refusals ORDER BY id")
        return [RefusalRow(*row) for row in rows]
    finally:
        conn.close()
