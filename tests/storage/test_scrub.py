"""The database is a cache of the log: a superuser's edits of the rows are reported by scrub, and
access is decided on the log, so an edited restriction opens nothing."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from foundation.errors import Forbidden
from policy.cases import GOVERNANCE_CASE
from policy.errors import NotPermitted, Restricted, ReviewRequired
from policy.retention import RetentionClass
from policy.review import MAJOR_CRITERIA
from services import accounts, disclosure, handover, restriction, retention
from services.locker import Locker
from services.permissions import operator
from services.retention import NotAllowed
from services.scrub import scrub
from storage import principals
from storage.filestore import FileStore
from storage.keys import KeyRing
from storage.log import CaseLog, Draft
from storage.objects import bytes_source, checkpoints_prefix
from storage.principals import PrincipalError, PrincipalExists
from tests import acting
from tests.acting import determined, principal

HOST = "evidence.test"
CASE = "C-S1"
ANN, BOB, ROOT = principal("investigator:ann"), principal("investigator:bob"), principal("admin:root")


@pytest.fixture
async def locker(pool: asyncpg.Pool, tmp_path: Path) -> AsyncIterator[Locker]:
    """A state-secret case handled by ann: two clips, a hold, bob granted access."""
    store = FileStore(tmp_path / "objects")
    ring = KeyRing(tmp_path / "keys")
    locker = Locker(pool, store, CaseLog(pool, ring.signer(HOST), HOST, archive=store), ring)
    global ANN, BOB, ROOT  # the principals as the database made them: the handler is matched by id
    made = {}
    for name, role in (("ann", "investigator"), ("bob", "investigator"), ("eve", "investigator"),
                       ("root", "admin")):
        made[name], _ = await acting.add_principal(locker, name, role)
    ANN, BOB, ROOT = made["ann"], made["bob"], made["root"]
    await locker.log.open_case(CASE, ANN.actor, title="Border incident")
    for i in range(2):
        await locker.add_object(CASE, bytes_source(os.urandom(2000)), kind="evidence.ingested", actor="station:d1",
                                fields={"file_name": f"clip{i}.mp4", "officer": "A123", "camera": "CAM-1"})
    await retention.place_hold(locker, CASE, blake3=None, reason="litigation", who=ROOT)
    await restriction.set_level(locker, CASE, "state_secret", who=ANN, reason="classified operation")
    await restriction.grant(locker, CASE, "bob", who=ANN, reason="second investigator")
    yield locker
    await store.close()


async def superuser(pool: asyncpg.Pool, sql: str, *args: object) -> None:
    """What someone with the database's superuser does: the append-only triggers off, then a plain edit."""
    async with pool.acquire() as conn:
        await conn.execute("SET session_replication_role = replica")
        try:
            await conn.execute(sql, *args)
        finally:
            await conn.execute("SET session_replication_role = DEFAULT")


async def codes(locker: Locker) -> set[str]:
    return {f.code for f in await scrub(locker, CASE)}


async def test_a_clean_database_scrubs_clean(locker: Locker) -> None:
    await restriction.revoke(locker, CASE, "bob", who=ANN, reason="left the team")
    hold = (await retention.list_holds(locker.pool, CASE))[0]
    await retention.lift_hold(locker, hold.id, who=ROOT, reason="settled")
    assert await scrub(locker, CASE) == []
    assert await scrub(locker) == []


EDITS = [
    pytest.param("UPDATE cases SET restriction = 'none' WHERE id = $1", "case_row_mismatch", "restriction",
                 id="restriction"),
    pytest.param("UPDATE cases SET handler = 'investigator:eve' WHERE id = $1", "case_row_mismatch", "handler",
                 id="handler"),
    pytest.param("UPDATE cases SET handler_id = (SELECT id FROM principals WHERE name = 'eve') WHERE id = $1",
                 "case_row_mismatch", "handler_id", id="handler-id"),
    pytest.param("UPDATE evidence SET file_name = 'harmless.mp4' WHERE case_id = $1 AND seq = 1",
                 "evidence_mismatch", "file_name 'harmless.mp4' (log: 'clip0.mp4')", id="file_name"),
    pytest.param("UPDATE evidence SET officer = 'B999' WHERE case_id = $1 AND seq = 2",
                 "evidence_mismatch", "officer 'B999' (log: 'A123')", id="officer"),
    pytest.param("DELETE FROM evidence WHERE case_id = $1 AND seq = 2", "evidence_missing", "evidence entry 2",
                 id="evidence-deleted"),
    pytest.param("UPDATE tree_nodes SET hash = sha256(hash) WHERE case_id = $1 AND level = 1 AND idx = 0",
                 "tree_node_mismatch", "level 1, index 0", id="tree-node"),
    pytest.param("DELETE FROM tree_nodes WHERE case_id = $1 AND level = 0 AND idx = 3",
                 "tree_node_missing", "level 0 missing", id="tree-node-deleted"),
    pytest.param("UPDATE cases SET root = sha256(root) WHERE id = $1", "tree_head_mismatch", "root",
                 id="tree-head"),
    pytest.param("INSERT INTO case_grants (case_id, principal, granted_by, reason) "
                 "VALUES ($1, 'eve', 'admin:root', 'curious')", "grant_unlogged", "grant 1 of eve", id="grant-added"),
    pytest.param("UPDATE case_grants SET reason = 'something else' WHERE case_id = $1", "grant_mismatch",
                 "reason 'something else'", id="grant-edited"),
    pytest.param("DELETE FROM case_grants WHERE case_id = $1", "grant_missing", "grant 1 of bob",
                 id="grant-deleted"),
    pytest.param("UPDATE holds SET lifted_at = now(), lifted_by = 'admin:root', lift_reason = 'x' "
                 "WHERE case_id = $1", "hold_mismatch", "lifted_by 'admin:root' (log: None)", id="hold-lifted"),
    pytest.param("DELETE FROM holds WHERE case_id = $1", "hold_missing", "legal hold", id="hold-deleted"),
]


@pytest.mark.parametrize(("sql", "code", "says"), EDITS)
async def test_a_superuser_edit_of_a_row_the_log_determines_is_reported(
        locker: Locker, sql: str, code: str, says: str) -> None:
    assert await scrub(locker, CASE) == []
    await superuser(locker.pool, sql, CASE)
    found = await scrub(locker, CASE)
    assert {f.code for f in found} == {code}, found
    assert says in found[0].message
    run = await locker.pool.fetchrow("SELECT problems FROM scrub_runs ORDER BY id DESC LIMIT 1")
    assert [p["code"] for p in run["problems"]] == [code]


async def test_a_restriction_edited_to_none_opens_nothing(locker: Locker) -> None:
    """Access is decided on the log: the table's ``none`` neither lets eve nor an admin in."""
    await superuser(locker.pool, "UPDATE cases SET restriction = 'none' WHERE id = $1", CASE)
    await superuser(locker.pool, "INSERT INTO case_grants (case_id, principal, granted_by, reason) "
                                 "VALUES ($1, 'eve', 'admin:root', 'curious')", CASE)
    eve = await principals.by_name(locker.pool, "eve")
    assert eve is not None
    await superuser(locker.pool, "UPDATE cases SET handler = 'investigator:eve', handler_id = $2 WHERE id = $1",
                    CASE, eve.principal.id)
    for who in (eve.principal, ROOT):
        state = await restriction.access(locker.pool, CASE, who.name)
        assert state is not None and state.level == "state_secret" and state.handler == ANN.actor
        assert state.handler_id == ANN.id
        assert not state.granted and not state.may_read(who.id)
        with pytest.raises(Restricted):
            await restriction.require_read(locker.pool, CASE, who)
    assert (await restriction.require_read(locker.pool, CASE, BOB)).level == "state_secret"  # logged grant
    assert {"case_row_mismatch", "grant_unlogged"} <= await codes(locker)


async def test_access_follows_new_entries_and_survives_a_stale_row(locker: Locker) -> None:
    """The fold catches up with each new access entry (cached per log size)."""
    eve = await principals.by_name(locker.pool, "eve")
    assert eve is not None
    eve_id = eve.principal.id
    assert (await restriction.access(locker.pool, CASE, "eve")).may_read(eve_id) is False  # type: ignore[union-attr]
    await restriction.grant(locker, CASE, "eve", who=ANN, reason="joins the team")
    assert (await restriction.access(locker.pool, CASE, "eve")).may_read(eve_id)  # type: ignore[union-attr]
    await restriction.revoke(locker, CASE, "eve", who=ANN, reason="left")
    await superuser(locker.pool, "UPDATE case_grants SET revoked_at = NULL, revoked_by = NULL, revoke_reason = NULL "
                                 "WHERE principal = 'eve'")
    assert not (await restriction.access(locker.pool, CASE, "eve")).may_read(eve_id)  # type: ignore[union-attr]
    await restriction.set_level(locker, CASE, "privacy", who=ROOT, reason="declassified in part")
    assert (await restriction.access(locker.pool, CASE, "eve")).level == "privacy"  # type: ignore[union-attr]
    assert await codes(locker) == {"grant_mismatch"}


async def test_an_extra_entry_row_without_a_checkpoint_is_reported(locker: Locker) -> None:
    """Entries past the latest signed checkpoint cannot come from the server, which signs every append."""
    size, _ = await locker.log.head(CASE)
    await locker.log.append(CASE, Draft("evidence.accessed", ANN.actor, {"action": "view", "purpose": "check"}))
    await superuser(locker.pool, "DELETE FROM checkpoints WHERE case_id = $1 AND size = $2", CASE, size + 1)
    assert "entries_beyond_checkpoint" in await codes(locker)


async def roll_back_last_entry(pool: asyncpg.Pool) -> None:
    """An insider with the database removes the last entry, its tree nodes and checkpoint, and rewinds
    the case row to the head before it: everything the database holds is consistent again."""
    size = await pool.fetchval("SELECT size FROM cases WHERE id = $1", CASE) - 1
    before = await pool.fetchrow("SELECT root FROM checkpoints WHERE case_id = $1 AND size = $2", CASE, size)
    last_leaf = await pool.fetchval("SELECT leaf_hash FROM entries WHERE case_id = $1 AND seq = $2", CASE, size - 1)
    for sql in ("DELETE FROM entries WHERE case_id = $1 AND seq >= $2",
                "DELETE FROM tree_nodes WHERE case_id = $1 AND ((idx + 1) << level::int) > $2",
                "DELETE FROM checkpoints WHERE case_id = $1 AND size > $2"):
        await superuser(pool, sql, CASE, size)
    frontier = [r["hash"] for r in await pool.fetch(
        """SELECT hash FROM tree_nodes n WHERE case_id = $1 AND ($2::bigint >> level::int) & 1 = 1
                                           AND idx = ($2::bigint >> level::int) - 1 ORDER BY level DESC""",
        CASE, size)]
    await superuser(pool, "UPDATE cases SET size = $2, root = $3, last_leaf = $4, frontier = $5 WHERE id = $1",
                    CASE, size, before["root"], last_leaf, frontier)


async def test_every_issued_checkpoint_is_archived_write_once(locker: Locker) -> None:
    table = await locker.log.all_checkpoints(CASE)
    archived = await locker.store.records(checkpoints_prefix(CASE))
    assert [note for _, note in archived] == [cp.note for cp in table] and len(table) >= 6


async def test_a_rollback_is_reported(locker: Locker, pool: asyncpg.Pool) -> None:
    await locker.log.append(CASE, Draft("evidence.accessed", ANN.actor, {"action": "view", "purpose": "check"}))
    await roll_back_last_entry(pool)
    found = await scrub(locker, CASE)
    # The database agrees with itself after the rollback (no tree, row or chain finding): only the
    # archived copy of the checkpoint it issued tells.
    assert {f.code for f in found} == {"rollback", "checkpoint_row_missing"}
    rollback = next(f for f in found if f.code == "rollback")
    size = await pool.fetchval("SELECT size FROM cases WHERE id = $1", CASE)
    assert f"size {size + 1} was issued, the log now holds {size} entries" in rollback.message


async def test_a_checkpoint_missing_from_the_archive_or_rewritten_is_reported(locker: Locker) -> None:
    assert isinstance(locker.store, FileStore)
    folder = locker.store.root / checkpoints_prefix(CASE)
    first = sorted(folder.iterdir())[0]
    note = first.read_bytes()
    first.unlink()
    assert await codes(locker) == {"checkpoint_unarchived"}
    origin, size, root, rest = note.split(b"\n", 3)
    first.write_bytes(b"\n".join([origin, size, bytes(reversed(root)), rest]))  # another root, same signature
    assert await codes(locker) == {"checkpoint_archive_mismatch", "checkpoint_unverified"}


RECORD = {"decision_no": "京朝城管罚字〔2026〕第0421号", "party_type": "natural", "party_name": "欧阳娜娜",
          "violation": "占道经营", "legal_basis": "《北京市市容环境卫生条例》第二十四条", "penalty": "罚款人民币500元",
          "decision_date": "2026-09-20", "category": "市容环境"}


@pytest.mark.parametrize(("sql", "says"), [
    pytest.param("UPDATE disclosures SET state = 'published', published_on = current_date WHERE case_id = $1",
                 "state 'published' (log: 'withdrawn')", id="state"),
    pytest.param("UPDATE disclosures SET major = '{}', review_state = 'none' WHERE case_id = $1",
                 "review_state 'none' (log: 'pending')", id="review-gate"),
])
async def test_a_disclosure_record_edited_in_the_table_is_reported(locker: Locker, sql: str, says: str) -> None:
    desk = principal("disclosure:dora")
    # Nothing of a state-secret case is disclosed: the case is declassified before its decision's record.
    await restriction.set_level(locker, CASE, "none", who=ROOT, reason="declassified")
    await determined(locker, CASE, RECORD["decision_no"])
    d = await disclosure.create(locker, CASE, RECORD, who=desk)
    criterion = next(iter(MAJOR_CRITERIA))
    await disclosure.flag_major(locker, d.id, [criterion], who=desk)
    await disclosure.transition(locker, d.id, "withdraw", who=desk, today=dt.date(2026, 9, 21), reason="re-made")
    assert await scrub(locker, CASE) == []
    await superuser(locker.pool, sql, CASE)
    found = await scrub(locker, CASE)
    assert [f.code for f in found] == ["disclosure_mismatch"] and says in found[0].message, found


async def test_a_disclosure_gate_edited_in_the_table_decides_nothing(locker: Locker) -> None:
    """A major decision whose row lost its major flag (or gained a passed review) is not approved: each
    step checks the row against the case's log first, and refuses with an alarm when they disagree."""
    desk, approver = principal("disclosure:dora"), principal("disclosure:dina")
    await restriction.set_level(locker, CASE, "none", who=ROOT, reason="declassified")
    await determined(locker, CASE, RECORD["decision_no"], major=("major_rights",))
    d = await disclosure.create(locker, CASE, RECORD, who=desk)
    assert d.major == ["major_rights"] and d.review_state == "pending"
    with pytest.raises(ReviewRequired):
        await disclosure.transition(locker, d.id, "approve", who=approver, today=dt.date(2026, 9, 21))
    for sql in ("UPDATE disclosures SET major = '{}', review_state = 'none' WHERE id = $1",
                "UPDATE disclosures SET review_state = 'passed' WHERE id = $1"):
        await superuser(locker.pool, sql, d.id)
        with pytest.raises(disclosure.LogDisagrees):
            await disclosure.transition(locker, d.id, "approve", who=approver, today=dt.date(2026, 9, 21))
        await superuser(locker.pool, "UPDATE disclosures SET major = '{major_rights}', review_state = 'pending' "
                                     "WHERE id = $1", d.id)
    assert (await disclosure.get(locker.pool, d.id)).state == "draft"
    assert [f.code for f in await scrub(locker, CASE)] == []


async def test_determinations_and_reviews_are_read_from_the_log(locker: Locker) -> None:
    """An edited determination row refuses to decide; a review row written into the database passes nothing."""
    await restriction.set_level(locker, CASE, "none", who=ROOT, reason="declassified")
    await determined(locker, CASE, RECORD["decision_no"], major=("major_rights",))
    await superuser(locker.pool, "INSERT INTO reviews (disclosure_id, reviewer, outcome, checklist, opinion, seq, "
                                 "case_id, decision_no) VALUES (NULL, 'reviewer:rex', 'passed', '{}', 'ok', 0, $1, $2)",
                    CASE, RECORD["decision_no"])
    assert await disclosure.decisions.passed_review_seq(locker.pool, CASE, RECORD["decision_no"]) is None
    await superuser(locker.pool, "UPDATE determinations SET major = false WHERE case_id = $1", CASE)
    with pytest.raises(disclosure.LogDisagrees):
        await disclosure.create(locker, CASE, RECORD, who=principal("disclosure:dora"))


async def test_a_retention_class_edited_in_the_table_is_reported(locker: Locker) -> None:
    """Classes are decided in the governance log; the migration's defaults hold until an entry changes one."""
    await retention.set_class(locker, RetentionClass("case", 30, trigger="case_closed"), who=ROOT,
                              reason="archive rules: 30 years")
    assert await scrub(locker, GOVERNANCE_CASE) == []
    await superuser(locker.pool, "UPDATE retention_classes SET years = 1 WHERE name IN ('case', 'standard')")
    found = await scrub(locker, GOVERNANCE_CASE)
    assert [(f.code, f.message.split(": ")[1]) for f in found] == [
        ("retention_class_mismatch", "retention class case"), ("retention_class_mismatch", "retention class standard")]
    assert "years 1 (log: 30)" in found[0].message and "years 1 (log: 2)" in found[1].message


async def test_an_object_marked_disposed_without_its_entry_is_reported(locker: Locker) -> None:
    """Marking evidence disposed of hides it from every reader (410): only a logged disposal may."""
    hexd = await locker.pool.fetchval("SELECT blake3 FROM evidence WHERE case_id = $1 AND seq = 1", CASE)
    await superuser(locker.pool, "UPDATE objects SET disposed_at = now() WHERE blake3 = $1", hexd)
    found = await scrub(locker, CASE)
    assert [f.code for f in found] == ["object_disposal_unlogged"] and hexd in found[0].message


async def test_checkpoints_from_before_the_archive_are_archived_on_request(locker: Locker, pool: asyncpg.Pool) -> None:
    """A server upgraded from a version without the archive: scrub names the checkpoints without a copy
    and, asked to, archives those that verify; a rollback after that is caught like any other."""
    old = Locker(pool, locker.store, CaseLog(pool, locker.log.signer, HOST), locker.keys)  # no archive
    for i in range(3):
        await old.log.append(CASE, Draft("evidence.accessed", ANN.actor, {"action": "view", "purpose": f"p{i}"}))
    found = await scrub(locker, CASE)
    assert [f.code for f in found] == ["checkpoint_unarchived"] and "3 (" in found[0].message
    found = await scrub(locker, CASE, archive_missing=True)
    assert "3 of them verified and are now archived" in found[0].message
    assert await scrub(locker, CASE) == []
    await roll_back_last_entry(pool)
    assert {f.code for f in await scrub(locker, CASE)} == {"rollback", "checkpoint_row_missing"}


async def test_a_handler_edited_in_the_table_cannot_hand_the_case_over(locker: Locker) -> None:
    """Handing over is the handler's (or an admin's): the handler is the log's, not the edited row's."""
    await superuser(locker.pool, "UPDATE cases SET handler = 'investigator:eve' WHERE id = $1", CASE)
    with pytest.raises(NotPermitted):
        await handover.hand_over(locker, CASE, "bob", who=principal("investigator:eve"), reason="mine now")
    assert (await restriction.access(locker.pool, CASE, "eve")).handler == ANN.actor  # type: ignore[union-attr]


async def test_a_hold_placer_edited_in_the_table_cannot_lift_it(locker: Locker) -> None:
    """Only an admin or the hold's placer lifts it: the placer is the log's, not the edited row's."""
    hold = (await retention.list_holds(locker.pool, CASE))[0]
    await superuser(locker.pool, "UPDATE holds SET placed_by = 'investigator:ann' WHERE id = $1", hold.id)
    with pytest.raises(NotAllowed):
        await retention.lift_hold(locker, hold.id, who=ANN, reason="done with it")
    assert (await retention.get_hold(locker.pool, hold.id)).lifted_at is None


async def test_principals_are_held_to_the_governance_log(locker: Locker) -> None:
    """Who exists, in which role, and who is active: a row the log did not make is reported."""
    await accounts.set_profile(locker, "bob", display_name="王小明", badge_no="A-1", unit="一中队", who=ROOT)
    await accounts.revoke(locker, "eve", who=ROOT)
    await accounts.reissue(locker, "eve", who=ROOT)
    await accounts.revoke(locker, "bob", who=ROOT)
    assert await scrub(locker, GOVERNANCE_CASE) == []
    logged = [json.loads(r.body) for r in await locker.log.entries(GOVERNANCE_CASE)]
    assert [e["kind"] for e in logged if e["kind"].startswith("principal.")] == [
        "principal.added"] * 4 + ["principal.profile_set", "principal.revoked", "principal.reissued",
                                  "principal.revoked"]
    assert not any("token" in key for e in logged for key in e)  # neither tokens nor their hashes
    await superuser(locker.pool, "UPDATE principals SET role = 'admin' WHERE name = 'ann'")
    await superuser(locker.pool, "UPDATE principals SET revoked_at = NULL WHERE name = 'bob'")
    await superuser(locker.pool, "UPDATE principals SET unit = '二中队' WHERE name = 'bob'")
    await superuser(locker.pool, """INSERT INTO principals (name, role, token_hash, created_by)
                                    VALUES ('mallory', 'admin', '\\x00', 'nobody')""")
    found = await scrub(locker, GOVERNANCE_CASE)
    assert sorted(f.code for f in found) == ["principal_mismatch", "principal_mismatch", "principal_unlogged"]
    text = " | ".join(f.message for f in found)
    assert "role 'admin' (log: 'investigator')" in text and "revoked False (log: True)" in text
    assert "unit '二中队' (log: '一中队')" in text


async def test_a_failed_row_write_leaves_no_principal_entry(locker: Locker) -> None:
    before = (await locker.log.head(GOVERNANCE_CASE))[0]
    with pytest.raises(PrincipalExists):
        await accounts.add(locker, "ann", "reviewer", who=ROOT)
    await superuser(locker.pool, "ALTER TABLE principals ADD CONSTRAINT no_zed CHECK (name <> 'zed')")
    with pytest.raises(PrincipalError):
        await accounts.add(locker, "zed", "investigator", who=ROOT)  # the row is refused inside the append
    assert (await locker.log.head(GOVERNANCE_CASE))[0] == before
    assert await principals.account(locker.pool, "zed") is None
    assert await scrub(locker, GOVERNANCE_CASE) == []


async def test_accounts_from_before_account_entries_are_recorded_once(locker: Locker) -> None:
    """An upgraded store: its principals predate ``principal.added``; the operator records them once."""
    await superuser(locker.pool, """INSERT INTO principals (name, role, token_hash, created_by)
                                    VALUES ('old-timer', 'reviewer', '\\x01', 'operator:root')""")
    await superuser(locker.pool, "UPDATE principals SET revoked_at = now() WHERE name = 'old-timer'")
    assert [f.code for f in await scrub(locker, GOVERNANCE_CASE)] == ["principal_unlogged"]
    assert await accounts.record_existing(locker, who=operator()) == ["old-timer"]
    assert await accounts.record_existing(locker, who=operator()) == []
    assert await scrub(locker, GOVERNANCE_CASE) == []
    with pytest.raises(Forbidden):
        await accounts.record_existing(locker, who=ANN)
