"""Which cases changed, as PostgreSQL tells it: a NOTIFY from the append-only tables (migration 0021).

A process may keep what it derived from a case's log between requests (the latest signed checkpoint,
its cosignatures, the timestamps, who may read the case) only while it hears every change: each
committed insert into ``entries``, ``checkpoints``, ``cosignatures``, ``timestamp_leaves`` or
``timestamp_tokens`` notifies channel ``custody_case`` with the case's id, from a trigger, whoever
wrote it (this server, another worker, the CLI).  A listener (``CaseChanges``) holds one pooled
connection with ``LISTEN``; each notification drops what its subscribers kept of that case.  When that
connection is lost they drop everything, and ``live`` is False (keep nothing) until it listens again.

A notification arrives a few milliseconds after its commit: a kept answer can be that much older
than the database, never more.  Kept material is loaded under a ``mark`` taken before the read, and
``unchanged_since`` refuses to keep it if a change to the case arrived meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import asyncpg

logger = logging.getLogger(__name__)

CHANNEL = "custody_case"
#: The listening connection is asked this often whether it is still there: a connection that
#: vanished without a word (a dropped network path) would otherwise leave the caches deaf.
PING_SECONDS = 10.0
PING_TIMEOUT_SECONDS = 5.0
#: Cases whose last change is remembered one by one; beyond that, one mark stands for all of them.
REMEMBERED_CASES = 10_000


@dataclass(frozen=True, slots=True)
class Subscriber:
    changed: Callable[[str], None]
    reset: Callable[[], None]


class CaseChanges:
    """The changes one process hears for one database; ``subscribe`` to drop kept material with them."""

    def __init__(self) -> None:
        self.live = False
        self._count = 0  # notifications and resets heard so far
        self._floor = 0  # every case not in _last changed at or before this count
        self._last: dict[str, int] = {}
        self._subscribers: list[Subscriber] = []

    def subscribe(self, changed: Callable[[str], None], reset: Callable[[], None]) -> None:
        self._subscribers.append(Subscriber(changed, reset))

    def mark(self) -> int:
        """Take before reading something to keep; pass to ``unchanged_since`` before keeping it."""
        return self._count

    def unchanged_since(self, case_id: str, mark: int) -> bool:
        """Whether what was read of ``case_id`` after ``mark`` may be kept: listening, and no change since."""
        return self.live and self._last.get(case_id, self._floor) <= mark

    def changed(self, case_id: str) -> None:
        self._count += 1
        if len(self._last) >= REMEMBERED_CASES:
            self._last.clear()
            self._floor = self._count
        self._last[case_id] = self._count
        for s in self._subscribers:
            s.changed(case_id)

    def reset(self) -> None:
        """Everything may have changed (not listening, or listening afresh): drop all kept material."""
        self._count += 1
        self._last.clear()
        self._floor = self._count
        for s in self._subscribers:
            s.reset()

    def _notified(self, conn: object, pid: int, channel: str, payload: str) -> None:
        self.changed(payload)

    async def listen(self, pool: asyncpg.Pool) -> None:
        """Hold a connection listening on ``CHANNEL`` until cancelled; after a loss, listen again."""
        delay = 0.5
        while True:
            try:
                await self._listen_once(pool)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: keep nothing, listen again
                logger.warning("not hearing case changes (%s); kept verification and access state dropped, "
                               "retrying in %.1f s", exc, delay)
            finally:
                self.reset()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def _listen_once(self, pool: asyncpg.Pool) -> None:
        """Listen on one connection until it is lost (raises) or the task is cancelled."""
        lost = asyncio.Event()

        def closed(_conn: object) -> None:
            lost.set()

        conn = await pool.acquire()
        try:
            conn.add_termination_listener(closed)
            await conn.add_listener(CHANNEL, self._notified)
            self.reset()  # anything kept before this point may have missed changes
            self.live = True
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), PING_SECONDS)
                if not lost.is_set():
                    await conn.fetchval("SELECT 1", timeout=PING_TIMEOUT_SECONDS)
        finally:
            self.live = False
            # The pool takes no connection back with a listener on it: unlisten, or close it.
            conn.remove_termination_listener(closed)
            try:
                if not conn.is_closed():
                    await conn.remove_listener(CHANNEL, self._notified)
            except BaseException:
                conn.terminate()
                raise
            finally:
                await pool.release(conn)
        raise ConnectionError("the listening connection closed")


@contextlib.asynccontextmanager
async def listening(pool: asyncpg.Pool) -> AsyncIterator[CaseChanges]:
    """A ``CaseChanges`` for ``pool``, listening in the background for as long as the block runs.

    ``of(pool)`` finds it meanwhile (``storage.verification`` keeps case state only then).
    """
    changes = CaseChanges()
    _listeners[id(pool)] = (pool, changes)
    task = asyncio.create_task(changes.listen(pool), name="case-changes")
    try:
        yield changes
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        changes.live = False
        changes.reset()
        if _listeners.get(id(pool), (None, None))[1] is changes:
            del _listeners[id(pool)]


async def wait_live(changes: CaseChanges, timeout_s: float = 5.0) -> bool:
    """Until ``changes`` listens (True), or ``timeout_s`` passed (False)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not changes.live and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
    return changes.live


# By pool identity (asyncpg pools take no weak references).
_listeners: dict[int, tuple[asyncpg.Pool, CaseChanges]] = {}


def of(pool: asyncpg.Pool) -> CaseChanges | None:
    """The listener for ``pool`` in this process, if one runs."""
    held = _listeners.get(id(pool))
    return held[1] if held is not None and held[0] is pool else None
