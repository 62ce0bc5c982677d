"""The connection pool hands connections out in arrival order (the verify endpoint's p99 depends on it)."""

from __future__ import annotations

import asyncio

import pytest

from storage import db


async def test_waiters_are_served_first_come_first_served(database_url: str) -> None:
    pool = await db.create_pool(database_url, min_size=1, max_size=1)
    try:
        order: list[int] = []
        holder = await pool.acquire()

        async def request(i: int) -> None:
            async with pool.acquire() as conn:
                order.append(i)
                await conn.fetchval("SELECT 1")

        waiters = [asyncio.create_task(request(i)) for i in range(5)]
        await asyncio.sleep(0.05)  # all five queue behind the held connection, in order
        await pool.release(holder)
        late = asyncio.create_task(request(99))  # arrives after the release: must not overtake
        await asyncio.gather(*waiters, late)
        assert order == [0, 1, 2, 3, 4, 99]
    finally:
        await pool.close()


async def test_a_cancelled_waiter_passes_its_connection_on(database_url: str) -> None:
    pool = await db.create_pool(database_url, min_size=1, max_size=1)
    try:
        holder = await pool.acquire()
        async def acquire() -> object:
            return await pool.acquire()

        first = asyncio.create_task(acquire())
        second = asyncio.create_task(acquire())
        await asyncio.sleep(0.05)
        first.cancel()
        await pool.release(holder)
        with pytest.raises(asyncio.CancelledError):
            await first
        conn = await asyncio.wait_for(second, 5)  # the connection was not lost with the cancelled waiter
        assert await conn.fetchval("SELECT 1") == 1  # type: ignore[attr-defined]
        await pool.release(conn)
    finally:
        await pool.close()


async def test_a_released_connection_is_handed_over_not_left_for_a_newcomer() -> None:
    """The mechanism: with a request waiting, a release gives the connection to it directly, so a
    request arriving in the same instant finds nothing free (asyncio's queue would let it take it)."""
    class Holder:  # what the pool keeps in its queue, as far as the queue looks at it
        def is_connected(self) -> bool:
            return True

    held = Holder()
    queue = db._HandOffQueue()
    waiter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait(held)
    assert queue.empty()  # nothing to barge in on
    with pytest.raises(asyncio.QueueEmpty):
        queue.get_nowait()
    assert await waiter is held
    queue.put_nowait(held)  # nobody waiting: it waits in the queue as usual
    assert await queue.get() is held


async def test_a_one_statement_read_skips_the_reset_round_trip_and_other_leases_keep_it(database_url: str) -> None:
    pool = await db.create_pool(database_url, min_size=1, max_size=1)
    try:
        sent: list[str] = []
        async with pool.acquire() as conn:
            conn.add_query_logger(lambda record: sent.append(record.query))  # kept across leases
        assert len(sent) == 1 and "RESET ALL" in sent[0]  # this lease's own reset, as asyncpg does it
        sent.clear()
        for _ in range(3):
            assert [r[0] for r in await db.fetch_read(pool, "SELECT 1")] == [1]
        assert sent == ["SELECT 1"] * 3  # no reset query after any of them: one round trip each
        sent.clear()
        async with pool.acquire() as conn:
            await conn.execute("SET statement_timeout = 4321")  # session state a lease may leave behind
        assert len(sent) == 2 and "RESET ALL" in sent[1]
        # The next lease, even a one-statement read, starts from a reset session.
        [row] = await db.fetch_read(pool, "SELECT current_setting('statement_timeout')")
        assert row[0] != "4321ms"
        async with pool.acquire() as conn, conn.transaction():
            assert await conn.fetchval("SELECT 1") == 1
        assert "RESET ALL" in sent[-1]
    finally:
        await pool.close()
