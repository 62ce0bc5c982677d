"""Verification by hash in one statement: the proof nodes it picks, and the upper trees each process keeps."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import asyncpg
import pytest

from integrity import merkle
from storage import verification
from storage.keys import KeyRing
from storage.log import CaseLog, Draft
from storage.verification import UPPER_MIN_LEVEL, TreeCache, UpperTree, object_matches, tree_cache

HOST = "evidence.test"
KINDS = ("evidence.ingested", "record.added")
FAILED = "evidence.check_failed"


@pytest.fixture
def log(pool: asyncpg.Pool, tmp_path: Path) -> CaseLog:
    return CaseLog(pool, KeyRing(tmp_path / "keys").signer(HOST), HOST)


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


def proof_of(found: verification.ObjectMatch) -> tuple[list[bytes], set[tuple[int, int]]]:
    """The inclusion proof from the nodes the statement sent, and which nodes the proof read."""
    read: set[tuple[int, int]] = set()

    def node(level: int, idx: int) -> bytes:
        read.add((level, idx))
        return found.node(level, idx)

    return merkle.inclusion_proof(found.seq, found.tree_size, node), read


async def test_the_statement_sends_exactly_the_nodes_each_proof_reads(log: CaseLog) -> None:
    await log.open_case("C-1", "a")
    hashes: list[str] = []
    for size in range(2, 42):  # every (index, size) of trees up to 41 leaves: ragged edges of every shape
        hashes += await add(log, "C-1", 1)
        root = (await log.checkpoint("C-1")).root
        for seq, h in enumerate(hashes, start=1):
            found = await matched(log, h, "C-1", use_cache=False)
            assert (found.seq, found.tree_size, found.root) == (seq, size, root)
            proof, read = proof_of(found)
            assert proof == await log.inclusion_proof("C-1", seq, size)
            merkle.verify_inclusion(merkle.leaf_hash(found.body), seq, size, proof, root)
            # Not one node more than the proof needs (nothing cached: all come from the statement).
            sent = {(level, idx) for level in range(size.bit_length()) for idx in range(size >> level)
                    if _has(found, level, idx)}
            assert sent == read


def _has(found: verification.ObjectMatch, level: int, idx: int) -> bool:
    try:
        found.node(level, idx)
    except KeyError:
        return False
    return True


async def test_a_kept_tree_stays_right_after_appends_and_new_checkpoints(log: CaseLog) -> None:
    await log.open_case("C-2", "a")
    hashes = await add(log, "C-2", 99)
    cache = tree_cache(log.pool)
    first = await matched(log, hashes[40], "C-2")  # reads the case's upper tree and keeps it
    kept = cache.get("C-2")
    assert kept is not None and kept.size == 100 and kept.min_level == UPPER_MIN_LEVEL
    assert not first.cached and kept.note == first.checkpoint
    again = await matched(log, hashes[41], "C-2")
    assert again.cached and again.checkpoint == kept.note
    assert proof_of(again)[0] == await log.inclusion_proof("C-2", 42, 100)

    for grown in (1, 5, 10, 16, 40):  # new entries and new signed checkpoints: some below 16 more, some past
        hashes += await add(log, "C-2", grown)
        cp = await log.checkpoint("C-2")
        for seq in (1, 41, 64, 99, len(hashes)):
            found = await matched(log, hashes[seq - 1], "C-2")
            assert (found.tree_size, found.root, found.checkpoint) == (cp.size, cp.root, cp.note)  # never stale
            proof, _ = proof_of(found)
            assert proof == await log.inclusion_proof("C-2", seq, cp.size)
            merkle.verify_inclusion(merkle.leaf_hash(found.body), seq, cp.size, proof, cp.root)
        now = cache.get("C-2")
        assert now is None or now.size <= cp.size < now.size + (1 << now.min_level)


async def test_an_answer_across_cases_and_a_failed_read_in_one_statement(log: CaseLog) -> None:
    shared = os.urandom(32).hex()
    for case_id in ("C-A", "C-B"):
        await log.open_case(case_id, "a")
        await add(log, case_id, 20)
        await log.append(case_id, Draft("record.added", "a", {"blake3": shared}, blake3=shared))
    await log.append("C-B", Draft(FAILED, "a", {"blake3": shared, "found": "0" * 64}, blake3=shared))
    await log.append("C-B", Draft(FAILED, "a", {"blake3": shared, "found": "1" * 64}, blake3=shared))
    found = await object_matches(log.pool, shared, None, KINDS, FAILED, [], 1)
    assert [(m.case_id, m.seq, m.kind, m.failed_at) for m in found] == [
        ("C-A", 21, "record.added", None), ("C-B", 21, "record.added", 23)]
    for m in found:
        cp = await log.checkpoint(m.case_id)
        assert (m.tree_size, m.checkpoint) == (cp.size, cp.note)
        merkle.verify_inclusion(merkle.leaf_hash(m.body), m.seq, m.tree_size, proof_of(m)[0], cp.root)
    assert await object_matches(log.pool, shared, "C-C", KINDS, FAILED, [], 1) == []
    assert await object_matches(log.pool, "ab" * 32, None, KINDS, FAILED, [], 1) == []


def tree(size: int, nbytes: int) -> UpperTree:
    return UpperTree(size, bytes(32), b"", UPPER_MIN_LEVEL, (bytes(nbytes),))


def test_kept_trees_are_bounded_in_bytes_least_recently_used_first_out() -> None:
    cache = TreeCache(max_bytes=10_000)
    for i in range(100):
        cache.put(f"C-{i}", tree(100, 1000))
        if i == 5:
            assert cache.get("C-0") is not None  # used: it stays while others go
        assert cache.nbytes <= 10_000
    assert len(cache) == 10 and cache.nbytes == 10_000
    assert cache.get("C-0") is None and cache.get("C-99") is not None and cache.get("C-89") is None
    cache.put("C-huge", tree(10**9, 20_000))  # bigger than the whole budget: never kept
    assert cache.get("C-huge") is None and cache.nbytes == 10_000
    cache.put("C-99", tree(200, 3000))  # replaced, counted once
    assert cache.nbytes <= 10_000 and cache.get("C-99") is not None and cache.get("C-99").size == 200  # type: ignore[union-attr]
    cache.drop("C-99")
    assert cache.get("C-99") is None and cache.nbytes == sum(
        t.nbytes for t in (cache.get(f"C-{i}") for i in range(100)) if t is not None)


async def test_a_big_case_keeps_only_its_top_levels(log: CaseLog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verification, "UPPER_LEVELS_BELOW_TOP", 6)  # as a case of 2**17 leaves would
    await log.open_case("C-big", "a")
    hashes = await add(log, "C-big", 300)  # 301 leaves: bit length 9, so levels 9 - 6 = 3 up ... but 4 at least
    await matched(log, hashes[0], "C-big")
    kept = tree_cache(log.pool).get("C-big")
    assert kept is not None and kept.min_level == UPPER_MIN_LEVEL
    hashes += await add(log, "C-big", 1800)  # 2101 leaves: bit length 12, so levels >= 6
    found = await matched(log, hashes[1000], "C-big")  # 2101 >= 301 + 16: the kept tree was dropped ...
    merkle.verify_inclusion(merkle.leaf_hash(found.body), 1001, 2101, proof_of(found)[0], found.root)
    await matched(log, hashes[5], "C-big")  # ... and this one read it afresh
    kept = tree_cache(log.pool).get("C-big")
    assert kept is not None and kept.size == 2101 and kept.min_level == 6
    assert kept.nbytes == sum(2101 >> level for level in range(6, 12)) * 32 + len(kept.note)
    found = await matched(log, hashes[2000], "C-big")
    assert found.cached
    merkle.verify_inclusion(merkle.leaf_hash(found.body), 2001, 2101, proof_of(found)[0], found.root)
