"""Coalesced reads: concurrent callers' lookups of the same shape go to the database as one statement.

Under load every request of a kind asks the same statement with different parameters (verification
by hash: the entries about one object in one case).  ``db.fetch_read`` lets ``READS_IN_FLIGHT`` run at
once; the rest used to wait for a slot one by one, each then paying a round trip, the driver's and the
database's per-statement costs for a few index probes.  Here the lookups that queue while the slots
are busy are sent together once one frees: a statement over arrays, one element per lookup, whose rows
carry the lookup's position (``i``, from 1).  With one lookup waiting nothing waits longer than before;
at 64 connections the database spent less than half its CPU a request (issue 17 item 2).

A lookup's caller may be cancelled (its client went away): the statement runs in a task of its own and
still answers the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Sequence
from typing import Any

import asyncpg

from storage.db import READS_IN_FLIGHT, read_connection

#: Lookups in one statement, at most.
BATCH_MAX = 64

_Pending = tuple[tuple[Any, ...], "asyncio.Future[list[asyncpg.Record]]"]


class Coalescer:
    """The lookups of one pool waiting to be sent, by (statement, shared parameters)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._pending: dict[tuple[str, tuple[Hashable, ...]], list[_Pending]] = {}
        self._senders: set[asyncio.Task[None]] = set()
        #: Statements sent and lookups answered by them, since the pool was first used here.
        self.statements = 0
        self.lookups = 0

    async def fetch(self, query: str, each: Sequence[Any], shared: Sequence[Hashable]) -> list[asyncpg.Record]:
        """The rows of ``query`` for one lookup: ``each`` its own parameters (``$1`` .. ``$n``, sent as
        arrays), ``shared`` the rest (``$n+1`` ..., the same for every lookup sent together)."""
        future: asyncio.Future[list[asyncpg.Record]] = asyncio.get_running_loop().create_future()
        self._pending.setdefault((query, tuple(shared)), []).append((tuple(each), future))
        if len(self._senders) < READS_IN_FLIGHT:
            sender = asyncio.create_task(self._send(), name="coalesced-read")
            self._senders.add(sender)
            sender.add_done_callback(self._senders.discard)
        return await future

    async def _send(self) -> None:
        while self._pending:
            batch: list[_Pending] = []
            try:
                async with read_connection(self.pool) as conn:
                    # What queued while this sender waited for its slot goes out now, together.
                    batch, query, shared = self._take()
                    if not batch:
                        continue
                    columns = [list(col) for col in zip(*(each for each, _ in batch), strict=True)]
                    self.statements += 1
                    self.lookups += len(batch)
                    rows = await conn.fetch(query, *columns, *shared)
            except asyncio.CancelledError:  # the server stops: so do the requests waiting here
                for _, future in batch:
                    future.cancel()
                raise
            except Exception as exc:
                # The statement failed, or no connection could be had (the database is down, the pool
                # closed): the lookups it was for fail with it, as their own read would have.
                for _, future in batch or self._take()[0]:
                    if not future.done():
                        future.set_exception(exc)
                continue
            found: list[list[asyncpg.Record]] = [[] for _ in batch]
            for row in rows:
                found[row["i"] - 1].append(row)
            for (_, future), mine in zip(batch, found, strict=True):
                if not future.done():
                    future.set_result(mine)

    def _take(self) -> tuple[list[_Pending], str, tuple[Hashable, ...]]:
        """The oldest shape's lookups whose callers still wait, up to ``BATCH_MAX``."""
        if not self._pending:
            return [], "", ()
        (query, shared), waiting = next(iter(self._pending.items()))
        if len(waiting) > BATCH_MAX:
            self._pending[(query, shared)] = waiting[BATCH_MAX:]
        else:
            del self._pending[(query, shared)]
        return [p for p in waiting[:BATCH_MAX] if not p[1].done()], query, shared  # done: caller cancelled


# Per pool, by identity (asyncpg pools take no weak references).
_coalescers: dict[int, Coalescer] = {}


def of(pool: asyncpg.Pool) -> Coalescer:
    """The ``Coalescer`` of ``pool`` in this process."""
    held = _coalescers.get(id(pool))
    if held is None or held.pool is not pool:
        if len(_coalescers) > 16:  # a test run makes many pools in turn
            for key in [k for k, c in _coalescers.items() if not c._senders]:
                del _coalescers[key]
        held = _coalescers[id(pool)] = Coalescer(pool)
    return held
