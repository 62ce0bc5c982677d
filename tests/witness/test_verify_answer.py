"""The /verify answer, from kept case states or read afresh, is byte for byte the answer the separate
reads give (entry, latest checkpoint, proof, cosignatures, quorum size, first timestamp, failed reads),
while witnesses cosign, timestamps arrive and the log grows, and after a case's log is rewritten."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator

import asyncpg
import pytest

from custody.local_tsa import LocalTsa, make_tsa, serve_tsa
from integrity import merkle
from integrity.hashing import digest_bytes
from services import evidence, timestamping, verification, witnessing
from services.locker import Locker, Receipt
from services.permissions import operator
from services.verification import OBJECT_KINDS
from storage import changes
from storage.keys import KeyRing
from storage.log import CaseLog, Draft
from storage.objects import ObjectStore, bytes_source
from storage.verification import CaseState, state_cache
from tests.acting import principal
from tests.witness.conftest import locker_with, policy_for
from tests.witness.test_locker_witnessing import CASE, grow
from witness.config import WitnessConfig

OTHER = "2026-XZ-0099"
READER = principal("investigator:ann")


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> LocalTsa:
    return make_tsa(tmp_path_factory.mktemp("tsa"))


@pytest.fixture
async def tsa_url(tsa: LocalTsa) -> AsyncIterator[str]:
    async with serve_tsa(tsa) as url:
        yield url


def clip(i: int, case_id: str = CASE) -> bytes:
    return b"clip %d of %s" % (i, case_id.encode())  # what ``grow`` stores


async def reference(locker: Locker, blake3: str, case_id: str | None) -> str:
    """The answer as the separate queries built it before, from a log with no proof kept."""
    log = CaseLog(locker.pool, locker.log.signer, locker.log.host)
    matches = []
    for row in await log.entries_for_object(blake3, case_id):
        if row.kind not in OBJECT_KINDS:
            continue
        cp = await log.checkpoint(row.case_id)
        proof = await log.inclusion_proof(row.case_id, row.seq, cp.size)
        match: dict[str, object] = {"kind": row.kind,
                                    **Receipt(row.case_id, row.seq, row.body, cp.size, proof, cp.note).as_json()}
        match["checkpoint"] = (await witnessing.cosigned_note(locker.pool, row.case_id, cp.size, cp.note)).decode()
        match["witnessed_size"] = await witnessing.witnessed_size(locker.pool, locker.witnesses, row.case_id)
        stamp = await timestamping.first_stamp(locker.pool, row.case_id, row.seq)
        match["timestamp"] = None if stamp is None else {"time": stamp.gen_time.isoformat(), "tsa": stamp.tsa,
                                                         "checkpoint_size": stamp.size}
        failed = [r for r in await log.entries_for_object(blake3, row.case_id) if r.kind == evidence.CHECK_FAILED]
        match["stored_bytes_match"] = not failed
        if failed:
            match["stored_bytes_failed_at"] = failed[-1].seq
        matches.append(match)
    return json.dumps({"found": bool(matches), "matches": matches}, ensure_ascii=False)


async def answer(locker: Locker, blake3: str, case_id: str | None) -> str:
    return json.dumps(verification.answer(await verification.matches(locker, blake3, case_id)), ensure_ascii=False)


async def same_answers(locker: Locker, objects: list[bytes]) -> None:
    await heard_everything(locker.pool)
    for data in objects:
        blake3 = digest_bytes(data).blake3
        for case_id in (CASE, OTHER, None):
            want = await reference(locker, blake3, case_id)
            assert await answer(locker, blake3, case_id) == want  # first: reads the case's state
            assert await answer(locker, blake3, case_id) == want  # then: from the kept state, if listening


async def heard_everything(pool: asyncpg.Pool) -> None:
    """Until every change committed so far has been heard (a notification comes after its commit): a
    notification of our own, sent last, has come back."""
    if (listener := changes.of(pool)) is None:
        return
    heard = asyncio.Event()
    listener.subscribe(lambda case_id: heard.set() if case_id == "(sync)" else None, lambda: None)
    await pool.execute("SELECT pg_notify('custody_case', '(sync)')")
    await asyncio.wait_for(heard.wait(), 5)


@contextlib.asynccontextmanager
async def listening(pool: asyncpg.Pool, on: bool) -> AsyncIterator[None]:
    if not on:
        yield
        return
    async with changes.listening(pool) as listener:
        assert await changes.wait_live(listener)
        yield


def kept(pool: asyncpg.Pool, case_id: str) -> CaseState | None:
    held = state_cache(pool)
    return held[1].get(case_id) if held is not None else None


@pytest.mark.parametrize("listen", [True, False], ids=["kept", "read"])
@pytest.mark.parametrize("store", ["file"], indirect=True)
async def test_the_answer_is_the_separate_reads_answer_as_witnesses_timestamps_and_entries_arrive(
        pool: asyncpg.Pool, store: ObjectStore, ring: KeyRing, witness: tuple[WitnessConfig, str],
        tsa_url: str, listen: bool) -> None:
    async with listening(pool, listen):
        await _answers_as_material_arrives(pool, store, ring, witness, tsa_url)


async def _answers_as_material_arrives(pool: asyncpg.Pool, store: ObjectStore, ring: KeyRing,
                                       witness: tuple[WitnessConfig, str], tsa_url: str) -> None:
    policy = policy_for(witness)
    locker = locker_with(pool, store, ring, policy)
    await grow(locker, 40)
    await locker.log.open_case(OTHER, "investigator:ann", title="The same clip, elsewhere")
    await locker.add_object(OTHER, bytes_source(clip(2)), kind="record.added", actor="investigator:ann",
                            fields={"title": "copy"})
    objects = [clip(0), clip(2), clip(3), clip(39), b"never stored"]
    await same_answers(locker, objects)

    assert (await witnessing.witness_now(pool, locker.log, policy)).cosigned  # cosignatures on the same sizes
    assert await timestamping.run_round(pool, [tsa_url], who=operator()) is not None
    await evidence.check_failed(locker, CASE, digest_bytes(clip(3)).blake3, who=READER, found="0 bytes stored")
    await same_answers(locker, objects)
    found = await verification.matches(locker, digest_bytes(clip(2)).blake3, None)
    assert [m.case_id for m in found] == [CASE, OTHER]
    assert all(m.found.stamp is not None for m in found)  # the round covered both cases

    await grow(locker, 3)  # a newer checkpoint: not yet witnessed, not yet stamped
    await same_answers(locker, [*objects, clip(41)])
    await witnessing.witness_now(pool, locker.log, policy)
    await same_answers(locker, [*objects, clip(41)])
    await grow(locker, 30)  # past the kept tree's reach: it is read again
    await same_answers(locker, [*objects, clip(41), clip(72)])


async def rewrite(pool: asyncpg.Pool, locker: Locker, case_id: str, objects: list[bytes]) -> None:
    """An insider's rewrite under the real key: the case's log replaced by another history of objects."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")  # append-only triggers off
        for table in ("cosignatures", "evidence", "entries", "tree_nodes", "checkpoints"):
            await conn.execute(f"DELETE FROM {table} WHERE case_id = $1", case_id)
        await conn.execute("UPDATE cases SET size = 0, root = $2, last_leaf = $3, frontier = '{}' WHERE id = $1",
                           case_id, merkle.EMPTY_ROOT, bytes(32))
    await locker.log.append(case_id, Draft("case.opened", "investigator:ann", {"title": "Another story"}))
    for data in objects:
        digest = digest_bytes(data)
        await locker.log.append(case_id, Draft("record.added", "investigator:ann", {
            "blake3": digest.blake3, "sha256": digest.sha256, "size": digest.size}, blake3=digest.blake3))


@pytest.mark.parametrize("store", ["file"], indirect=True)
async def test_a_kept_state_of_a_rewritten_log_is_never_served(
        pool: asyncpg.Pool, store: ObjectStore, ring: KeyRing, caplog: pytest.LogCaptureFixture) -> None:
    ring.signer("evidence.test")
    locker = locker_with(pool, store, ring, witnessing.NO_WITNESSES)
    async with listening(pool, True):
        await grow(locker, 39)  # 40 entries
        await same_answers(locker, [clip(5)])
        old = kept(pool, CASE)
        assert old is not None and old.size == 40
        # Another history of 46 entries, then another of the same length (the same size, another root).
        for history in ([b"other %d" % i for i in range(45)], [b"third %d" % i for i in range(45)]):
            await rewrite(pool, locker, CASE, history)
            await same_answers(locker, history[::20])  # its appends were heard: nothing of before is used
            new = kept(pool, CASE)
            assert new is not None and new.size == 46 and new.root == (await locker.log.checkpoint(CASE)).root
            # The rewrite itself notified nothing (its triggers were off): put the old state back, as if
            # a notification were lost.  Every proof is checked against its root, and built again.
            state_cache(pool)[1].put(old)  # type: ignore[index]
            caplog.clear()
            with caplog.at_level(logging.ERROR):
                await same_answers(locker, history[7:8])
            assert "does not verify" in caplog.text
            old = new
