"""Verification by hash: the nodes each proof is built from, and the case states a listening process keeps."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from integrity import merkle
from storage import changes, verification
from storage.keys import KeyRing
from storage.log import CaseLog, Draft
from storage.verification import UPPER_MIN_LEVEL, CaseState, StateCache, object_matches, state_cache

HOST = "evidence.test"
KINDS = ("evidence.ingested", "record.added")
FAILED = "evidence.check_failed"


@pytest.fixture
def log(pool: asyncpg.Pool, tmp_path: Path) -> CaseLog:
    return CaseLog(pool, KeyRing(tmp_path / "keys").signer(HOST), HOST)


@pytest.fixture
async def heard(pool: asyncpg.Pool) -> AsyncIterator[changes.CaseChanges]:
    """This process listens for the pool's case changes, as a server does."""
    async with changes.listening(pool) as listener:
        assert await changes.wait_live(listener)
        yield listener


async def add(log: CaseLog, case_id: str, n: int) -> list[str]:
    """Append ``n`` entries about fresh objects; their BLAKE3 hashes."""
    hashes = [os.urandom(32).hex() for _ in range(n)]
    # Queued at once, in order: the log appends them in batches (one signed checkpoint per batch).
    await asyncio.gather(*(log.append(case_id, Draft("evidence.ingested", "station:a", {"blake3": h}, blake3=h))
                           for h in hashes))
    return hashes


async def matched(log: CaseLog, blake3: str, case_id: str | None, *, use_cache: bool = True
                  ) -> verification.ObjectMatch:
    [found] = await object_matches(log.pool, blake3, case_id, KINDS, FAILED, [], 1, use_cache=use_cache)
    return found


def kept(pool: asyncpg.Pool, case_id: str) -> CaseState | None:
    held = state_cache(pool)
    return held[1].get(case_id) if held is not None else None


async def heard_of(pool: asyncpg.Pool, case_id: str) -> None:
    """Until the listener has dropped the case's kept state (a notification comes after the commit)."""
    for _ in range(500):
        if kept(pool, case_id) is None:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"case {case_id}: no change heard")


async def check_every_proof(log: CaseLog, case_id: str, hashes: list[str], *, use_cache: bool = True) -> None:
    cp = await log.checkpoint(case_id)
    for seq, h in enumerate(hashes, start=1):
        found = await matched(log, h, case_id, use_cache=use_cache)
        assert (found.seq, found.tree_size, found.root, found.checkpoint) == (seq, cp.size, cp.root, cp.note)
        proof = merkle.inclusion_proof(found.seq, found.tree_size, found.node)
        assert proof == await log.inclusion_proof(case_id, seq, cp.size)
        merkle.verify_inclusion(merkle.leaf_hash(found.body), seq, cp.size, proof, cp.root)


async def test_every_proof_of_every_tree_shape_without_a_listener(log: CaseLog) -> None:
    """Nothing kept (the CLI): each request reads the case's state, then the entry and its leaf block."""
    await log.open_case("C-1", "a")
    hashes: list[str] = []
    for _ in range(2, 42):  # every (index, size) of trees up to 41 leaves: ragged edges of every shape
        hashes += await add(log, "C-1", 1)
        await check_every_proof(log, "C-1", hashes)
    assert state_cache(log.pool) is None


async def test_every_proof_of_every_tree_shape_from_a_kept_state(log: CaseLog, heard: changes.CaseChanges) -> None:
    await log.open_case("C-1", "a")
    hashes: list[str] = []
    for _ in range(2, 42):
        hashes += await add(log, "C-1", 1)
        await heard_of(log.pool, "C-1")
        await check_every_proof(log, "C-1", hashes)  # the first reads the state, the others keep it
        state = kept(log.pool, "C-1")
        assert state is not None and state.size == len(hashes) + 1
        assert (await matched(log, hashes[0], "C-1")).cached


async def test_a_kept_state_follows_appends_checkpoints_and_other_writers(
        log: CaseLog, heard: changes.CaseChanges, tmp_path: Path) -> None:
    await log.open_case("C-2", "a")
    hashes = await add(log, "C-2", 99)
    first = await matched(log, hashes[40], "C-2")
    assert not first.cached and kept(log.pool, "C-2") is not None
    assert (await matched(log, hashes[41], "C-2")).cached
    # Another process's log object (its own connection pool would do the same): the database tells.
    other = CaseLog(log.pool, log.signer, HOST)
    for grown in (1, 5, 10, 16, 40):
        hashes += await add(other, "C-2", grown)
        await heard_of(log.pool, "C-2")
        await check_every_proof(log, "C-2", hashes)


async def test_an_entry_newer_than_the_kept_state_reads_it_again(log: CaseLog, heard: changes.CaseChanges) -> None:
    """The notification of an append comes after its commit: a request in between finds an entry the
    kept checkpoint does not cover, and reads the state afresh rather than answer without it."""
    await log.open_case("C-3", "a")
    hashes = await add(log, "C-3", 20)
    await matched(log, hashes[0], "C-3")
    stale = kept(log.pool, "C-3")
    assert stale is not None
    hashes += await add(log, "C-3", 3)
    await heard_of(log.pool, "C-3")
    state_cache(log.pool)[1].put(stale)  # type: ignore[index]  # as if the notification were still on its way
    found = await matched(log, hashes[-1], "C-3")
    cp = await log.checkpoint("C-3")
    assert (found.seq, found.tree_size, found.cached) == (23, cp.size, False)
    merkle.verify_inclusion(merkle.leaf_hash(found.body), 23, cp.size,
                            merkle.inclusion_proof(23, cp.size, found.node), cp.root)


async def test_a_lost_listener_keeps_nothing_until_it_listens_again(
        log: CaseLog, heard: changes.CaseChanges) -> None:
    await log.open_case("C-4", "a")
    hashes = await add(log, "C-4", 5)
    await matched(log, hashes[0], "C-4")
    assert kept(log.pool, "C-4") is not None
    async with log.pool.acquire() as conn:
        gone = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN%'")
    assert gone == 1
    for _ in range(500):
        if not heard.live:
            break
        await asyncio.sleep(0.01)
    assert not heard.live and kept(log.pool, "C-4") is None
    found = await matched(log, hashes[1], "C-4")  # still answers, from the database
    assert not found.cached and kept(log.pool, "C-4") is None  # ... and keeps nothing meanwhile
    assert await changes.wait_live(heard, timeout_s=10)  # back (after its retry delay)
    await matched(log, hashes[1], "C-4")
    assert kept(log.pool, "C-4") is not None


async def test_an_answer_across_cases_and_a_failed_read(log: CaseLog, heard: changes.CaseChanges) -> None:
    shared = os.urandom(32).hex()
    for case_id in ("C-A", "C-B"):
        await log.open_case(case_id, "a")
        await add(log, case_id, 20)
        await log.append(case_id, Draft("record.added", "a", {"blake3": shared}, blake3=shared))
    await log.append("C-B", Draft(FAILED, "a", {"blake3": shared, "found": "0" * 64}, blake3=shared))
    await log.append("C-B", Draft(FAILED, "a", {"blake3": shared, "found": "1" * 64}, blake3=shared))
    for _ in range(2):  # read, then kept
        found = await object_matches(log.pool, shared, None, KINDS, FAILED, [], 1)
        assert [(m.case_id, m.seq, m.kind, m.failed_at) for m in found] == [
            ("C-A", 21, "record.added", None), ("C-B", 21, "record.added", 23)]
        for m in found:
            cp = await log.checkpoint(m.case_id)
            assert (m.tree_size, m.checkpoint) == (cp.size, cp.note)
            merkle.verify_inclusion(merkle.leaf_hash(m.body), m.seq, m.tree_size,
                                    merkle.inclusion_proof(m.seq, m.tree_size, m.node), cp.root)
    assert all(m.cached for m in found)
    assert await object_matches(log.pool, shared, "C-C", KINDS, FAILED, [], 1) == []
    assert await object_matches(log.pool, "ab" * 32, None, KINDS, FAILED, [], 1) == []


def state(case_id: str, nbytes: int) -> CaseState:
    return CaseState(case_id, 100, bytes(32), b"", (), 0, (), 1, (), (), UPPER_MIN_LEVEL, (bytes(nbytes),), {})


def test_kept_states_are_bounded_in_bytes_least_recently_used_first_out() -> None:
    one = state("C-0", 1000).nbytes
    cache = StateCache(max_bytes=10 * one)
    for i in range(100):
        cache.put(state(f"C-{i}", 1000))
        if i == 5:
            assert cache.get("C-0") is not None  # used: it stays while others go
        assert cache.nbytes <= 10 * one
    assert len(cache) == 10 and cache.nbytes == 10 * one
    assert cache.get("C-0") is None and cache.get("C-99") is not None and cache.get("C-89") is None
    cache.put(state("C-huge", 20 * one))  # bigger than the whole budget: never kept
    assert cache.get("C-huge") is None and cache.nbytes == 10 * one
    cache.drop("C-99")
    assert cache.get("C-99") is None and len(cache) == 9
    cache.clear()
    assert len(cache) == 0 and cache.nbytes == 0


@pytest.mark.parametrize("listen", [False, True])
async def test_a_big_case_keeps_only_its_top_levels(log: CaseLog, pool: asyncpg.Pool, listen: bool,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verification, "UPPER_LEVELS_BELOW_TOP", 6)  # as a case of 2**17 leaves would
    async with changes.listening(pool) if listen else _nothing() as listener:
        if listener is not None:
            assert await changes.wait_live(listener)
        await log.open_case("C-big", "a")
        hashes = await add(log, "C-big", 2100)  # 2101 leaves: bit length 12, so levels >= 6 are kept
        for seq in (1, 2, 15, 16, 17, 700, 1001, 2048, 2049, 2100):
            found = await matched(log, hashes[seq - 1], "C-big")
            merkle.verify_inclusion(merkle.leaf_hash(found.body), seq, 2101,
                                    merkle.inclusion_proof(seq, 2101, found.node), found.root)
        if listen:
            big = kept(pool, "C-big")
            assert big is not None and big.min_level == 6 and found.cached
            assert len(b"".join(big.upper)) == sum(2101 >> level for level in range(6, 12)) * 32


class _nothing:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None
