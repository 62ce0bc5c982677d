"""The per-case log on real PostgreSQL: gap-free concurrent appends, proofs, checkpoints, crashes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import asyncpg
import pytest

from integrity import merkle
from integrity.canonical import parse_entry
from integrity.checkpoint import open_checkpoint
from integrity.entry import case_origin
from integrity.errors import CanonicalError, UnknownKey
from integrity.note import Verifier
from storage import db
from storage.keys import KeyRing
from storage.log import BadRange, CaseExists, CaseLog, CaseNotFound, Draft, LogError

HOST = "evidence.test"


@pytest.fixture
def ring(tmp_path: Path) -> KeyRing:
    return KeyRing(tmp_path / "keys")


@pytest.fixture
def log(pool: asyncpg.Pool, ring: KeyRing) -> CaseLog:
    return CaseLog(pool, ring.signer(HOST), HOST)


async def check_whole_log(log: CaseLog, case_id: str, verifiers: list[Verifier]) -> list[dict]:
    """Everything an outside verifier would check, from the database rows."""
    rows = await log.entries(case_id)
    entries = [parse_entry(r.body) for r in rows]
    assert [e["seq"] for e in entries] == list(range(len(rows)))
    prev = "0" * 64
    for row, entry in zip(rows, entries, strict=True):
        assert entry["prev"] == prev
        assert entry["case"] == case_id and entry["v"] == 1
        assert merkle.leaf_hash(row.body) == row.leaf_hash
        prev = row.leaf_hash.hex()
    cp = await log.checkpoint(case_id)
    checkpoint, _ = open_checkpoint(cp.note, verifiers, expected_origin=case_origin(HOST, case_id))
    assert checkpoint.size == len(rows)
    assert checkpoint.root == merkle.root_from_leaf_hashes([r.leaf_hash for r in rows])
    return entries


async def test_open_case_and_append_chain(log: CaseLog, ring: KeyRing) -> None:
    opened = await log.open_case("C-1", "officer:7", title="Parking")
    assert (opened.seq, opened.tree_size, opened.created) == (0, 1, True)
    first = json.loads(opened.body)
    assert first["kind"] == "case.opened" and first["prev"] == "0" * 64 and first["title"] == "Parking"
    a = await log.append("C-1", Draft("record.added", "officer:7", {"stage": "启动", "n": 1}))
    assert a.seq == 1 and json.loads(a.body)["prev"] == opened.leaf_hash.hex()
    entries = await check_whole_log(log, "C-1", ring.verifiers())
    assert entries[1]["stage"] == "启动"
    with pytest.raises(CaseExists):
        await log.open_case("C-1", "officer:7")


async def test_append_to_missing_case_and_bad_ids(log: CaseLog) -> None:
    with pytest.raises(CaseNotFound):
        await log.append("nope", Draft("x", "y"))
    with pytest.raises(LogError, match="case id"):
        await log.open_case("../etc", "a")


async def test_bad_entries_refused_before_anything_is_written(log: CaseLog) -> None:
    await log.open_case("C-2", "a")
    with pytest.raises(CanonicalError, match=r"1\.5"):
        Draft("x", "a", {"speed": 1.5})
    with pytest.raises(LogError, match="common fields"):
        Draft("x", "a", {"seq": 7})
    assert (await log.head("C-2"))[0] == 1


async def test_fifty_concurrent_appenders_gap_free(log: CaseLog, ring: KeyRing) -> None:
    await log.open_case("C-50", "a")

    async def writer(w: int) -> list[int]:
        seqs = []
        for i in range(10):
            res = await log.append("C-50", Draft("note", f"writer:{w}", {"i": i}))
            # Every receipt's proof verifies against its own signed checkpoint.
            cp, _ = open_checkpoint(res.checkpoint, ring.verifiers())
            assert cp.size == res.tree_size > res.seq
            proof = await log.inclusion_proof("C-50", res.seq, cp.size)
            merkle.verify_inclusion(res.leaf_hash, res.seq, cp.size, proof, cp.root)
            seqs.append(res.seq)
        return seqs

    results = await asyncio.gather(*(writer(w) for w in range(50)))
    all_seqs = sorted(s for seqs in results for s in seqs)
    assert all_seqs == list(range(1, 501))
    entries = await check_whole_log(log, "C-50", ring.verifiers())
    assert len(entries) == 501


async def test_two_logs_on_one_database_share_one_chain(
    log: CaseLog, pool: asyncpg.Pool, database_url: str, ring: KeyRing
) -> None:
    """Two appenders with their own pools (as two server processes would be) interleave safely."""
    await log.open_case("C-2P", "a")
    other_pool = await db.create_pool(database_url, min_size=1, max_size=5)
    try:
        other = CaseLog(other_pool, ring.signer(HOST), HOST)
        await asyncio.gather(*(
            (log if i % 2 else other).append("C-2P", Draft("note", "a", {"i": i})) for i in range(60)
        ))
    finally:
        await other_pool.close()
    assert len(await check_whole_log(log, "C-2P", ring.verifiers())) == 61


async def test_proofs_from_database_match_reference_tree(log: CaseLog) -> None:
    await log.open_case("C-P", "a")
    for i in range(1, 37):
        await log.append("C-P", Draft("note", "a", {"i": i}))
    rows = await log.entries("C-P")
    tree = merkle.MemoryTree([r.leaf_hash for r in rows])
    for size in range(1, 38):
        root = tree.root(size)
        for index in range(size):
            proof = await log.inclusion_proof("C-P", index, size)
            assert proof == tree.inclusion_proof(index, size)
            merkle.verify_inclusion(rows[index].leaf_hash, index, size, proof, root)
        for old in range(0, size + 1, 3):
            proof = await log.consistency_proof("C-P", old, size)
            assert proof == tree.consistency_proof(old, size)
            merkle.verify_consistency(old, size, tree.root(old), root, proof)
    with pytest.raises(BadRange):
        await log.inclusion_proof("C-P", 5, 38)
    with pytest.raises(BadRange):
        await log.consistency_proof("C-P", 10, 5)


async def test_every_checkpoint_is_kept_and_consistent(log: CaseLog, ring: KeyRing) -> None:
    await log.open_case("C-K", "a")
    for i in range(9):
        await log.append("C-K", Draft("note", "a", {"i": i}))
    sizes = [(await log.checkpoint("C-K", s)).size for s in range(1, 11)]
    assert sizes == list(range(1, 11))
    verifiers = ring.verifiers()
    for old in range(1, 11):
        old_cp, _ = open_checkpoint((await log.checkpoint("C-K", old)).note, verifiers)
        new_cp, _ = open_checkpoint((await log.checkpoint("C-K")).note, verifiers)
        proof = await log.consistency_proof("C-K", old, new_cp.size)
        merkle.verify_consistency(old, new_cp.size, old_cp.root, new_cp.root, proof)


async def test_dedupe_returns_first_entry_even_when_racing(log: CaseLog) -> None:
    await log.open_case("C-D", "a")
    results = await asyncio.gather(*(
        log.append("C-D", Draft("evidence.ingested", "s", {"blake3": "ab" * 32}, dedupe="ev:abab"))
        for _ in range(8)
    ))
    assert {r.seq for r in results} == {1}
    assert sum(r.created for r in results) == 1
    again = await log.append("C-D", Draft("evidence.ingested", "s", {"blake3": "ab" * 32}, dedupe="ev:abab"))
    assert (again.seq, again.created) == (1, False)
    assert (await log.head("C-D"))[0] == 2


async def test_log_rows_refuse_update_and_delete(log: CaseLog, pool: asyncpg.Pool) -> None:
    await log.open_case("C-U", "a")
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await pool.execute("UPDATE entries SET actor = 'someone else' WHERE case_id = 'C-U'")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await pool.execute("DELETE FROM checkpoints WHERE case_id = 'C-U'")


async def test_key_rotation_keeps_old_checkpoints_verifiable(log: CaseLog, ring: KeyRing, pool) -> None:
    await log.open_case("C-R", "a")
    old_note = (await log.checkpoint("C-R")).note
    old_vkey = ring.signer(HOST).vkey
    new_signer = ring.rotate(HOST)
    rotated = CaseLog(pool, new_signer, HOST)
    res = await rotated.append("C-R", Draft("note", "a"))
    verifiers = ring.verifiers()
    assert len(verifiers) == 2
    open_checkpoint(old_note, verifiers)
    open_checkpoint(res.checkpoint, verifiers)
    with pytest.raises(UnknownKey):
        open_checkpoint(res.checkpoint, [Verifier.from_vkey(old_vkey)])


CRASHER = textwrap.dedent("""
    import asyncio, sys
    from storage import db
    from storage.keys import KeyRing
    from storage.log import CaseLog, Draft

    async def main(url, keys):
        pool = await db.create_pool(url, min_size=1, max_size=20)
        log = CaseLog(pool, KeyRing(keys).signer("evidence.test"), "evidence.test")
        print("ready", flush=True)
        async def writer(w):
            i = 0
            while True:
                await log.append("C-KILL", Draft("note", f"w{w}", {"i": i, "pad": "x" * 2000}))
                i += 1
        await asyncio.gather(*(writer(w) for w in range(20)))

    asyncio.run(main(sys.argv[1], sys.argv[2]))
""")


async def test_killed_appender_leaves_no_gap_and_no_half_entry(
    log: CaseLog, database_url: str, ring: KeyRing, tmp_path: Path
) -> None:
    await log.open_case("C-KILL", "a")
    ring.signer(HOST)
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHER, database_url, str(ring.dir)],
        cwd=repo, stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(repo)},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    deadline = time.monotonic() + 20
    while (await log.head("C-KILL"))[0] < 200 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # mid-transaction, most likely: it appends without pause
    proc.wait()
    proc.stdout.close()
    await asyncio.sleep(0.5)  # let PostgreSQL notice the dead backend and roll its transaction back
    size_after_kill = (await log.head("C-KILL"))[0]
    assert size_after_kill >= 200
    await check_whole_log(log, "C-KILL", ring.verifiers())
    res = await log.append("C-KILL", Draft("note", "after-crash"))
    assert res.seq == size_after_kill
    await check_whole_log(log, "C-KILL", ring.verifiers())


async def test_entries_of_kinds_match_prefixes_literally(log: CaseLog) -> None:
    await log.open_case("C-K", "officer:7")
    for kind in ("disclosure.created", "disclosurex", "review.passed", "evidence.accessed", "a_b", "axb", "a%c"):
        await log.append("C-K", Draft(kind, "officer:7"))
    found = await log.entries_of_kinds("C-K", ("disclosure.", "review."))
    assert [r.kind for r in found] == ["disclosure.created", "review.passed"]
    # '_' and '%' in a prefix are characters, not wildcards.
    assert [r.kind for r in await log.entries_of_kinds("C-K", ("a_",))] == ["a_b"]
    assert [r.kind for r in await log.entries_of_kinds("C-K", ("a%",))] == ["a%c"]
    assert await log.entries_of_kinds("C-K", ()) == []
