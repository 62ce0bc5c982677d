"""Concurrent lookups of one shape go to PostgreSQL as one statement, and each caller gets its own rows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from storage import coalesce, db

# One row per value at or below n, for each lookup (n, tag): a caller must get exactly its own.
LOOKUP = """
SELECT q.i, q.tag, g.v * $3::int AS v
  FROM unnest($1::int[], $2::text[]) WITH ORDINALITY AS q(n, tag, i)
 CROSS JOIN LATERAL generate_series(1, q.n) AS g(v)
 ORDER BY q.i, g.v"""


_holders: set[asyncio.Task[None]] = set()


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await db.create_pool(database_url, min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


async def _hold_every_read_slot(pool: asyncpg.Pool) -> asyncio.Event:
    """Take every ``fetch_read`` slot of ``pool`` until the returned event is set."""
    release, held = asyncio.Event(), asyncio.Event()
    count = 0

    async def hold() -> None:
        nonlocal count
        async with db._reads(pool):
            count += 1
            if count == db.READS_IN_FLIGHT:
                held.set()
            await release.wait()

    for _ in range(db.READS_IN_FLIGHT):
        holder = asyncio.create_task(hold())
        _holders.add(holder)
        holder.add_done_callback(_holders.discard)
    await held.wait()
    return release


async def test_lookups_waiting_for_a_slot_go_out_as_one_statement(pool: asyncpg.Pool) -> None:
    coalescer = coalesce.of(pool)
    assert coalesce.of(pool) is coalescer
    release = await _hold_every_read_slot(pool)
    lookups = [asyncio.create_task(coalescer.fetch(LOOKUP, (n % 5, f"t{n}"), (10,))) for n in range(50)]
    other = asyncio.create_task(coalescer.fetch(LOOKUP, (2, "x"), (7,)))  # other shared args: own statement
    await asyncio.sleep(0.05)
    assert not any(t.done() for t in lookups)
    release.set()
    answers = await asyncio.gather(*lookups)
    for n, rows in enumerate(answers):
        assert [(r["tag"], r["v"]) for r in rows] == [(f"t{n}", 10 * v) for v in range(1, n % 5 + 1)]
    assert [r["v"] for r in await other] == [7, 14]
    assert (coalescer.statements, coalescer.lookups) == (2, 51)

    # Alone, a lookup goes out at once, as one statement of one.
    assert [r["v"] for r in await coalescer.fetch(LOOKUP, (1, "alone"), (3,))] == [3]
    assert (coalescer.statements, coalescer.lookups) == (3, 52)


async def test_a_cancelled_caller_leaves_the_others_answered(pool: asyncpg.Pool) -> None:
    coalescer = coalesce.of(pool)
    release = await _hold_every_read_slot(pool)
    lookups = [asyncio.create_task(coalescer.fetch(LOOKUP, (1, f"t{n}"), (1,))) for n in range(5)]
    await asyncio.sleep(0.05)
    lookups[2].cancel()  # its client went away while it waited
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await lookups[2]
    for n in (0, 1, 3, 4):
        assert [r["tag"] for r in await lookups[n]] == [f"t{n}"]
    assert coalescer.lookups == 4  # the cancelled one was not sent


async def test_a_failing_statement_fails_each_caller_and_the_next_ones_work(pool: asyncpg.Pool) -> None:
    coalescer = coalesce.of(pool)
    release = await _hold_every_read_slot(pool)
    # 1 / (n - 3) fails for the lookup n = 3: the statement fails for all it carries.
    failing = LOOKUP.replace("g.v * $3::int", "g.v * $3::int / (q.n - 3)")
    lookups = [asyncio.create_task(coalescer.fetch(failing, (n, f"t{n}"), (1,))) for n in range(5)]
    await asyncio.sleep(0.05)
    release.set()
    for task in lookups:
        with pytest.raises(asyncpg.DivisionByZeroError):
            await task
    assert [r["v"] for r in await coalescer.fetch(failing, (4, "ok"), (1,))] == [1, 2, 3, 4]


async def test_no_connection_to_be_had_fails_each_caller_instead_of_leaving_it_waiting(
        database_url: str) -> None:
    pool = await db.create_pool(database_url, min_size=1, max_size=4)
    coalescer = coalesce.of(pool)
    assert [r["v"] for r in await coalescer.fetch(LOOKUP, (1, "up"), (1,))] == [1]
    await pool.close()  # as when the database went away: acquiring fails
    lookups = [asyncio.create_task(coalescer.fetch(LOOKUP, (1, f"t{n}"), (1,))) for n in range(3)]
    for task in lookups:
        with pytest.raises(asyncpg.InterfaceError):
            await asyncio.wait_for(task, 5)
