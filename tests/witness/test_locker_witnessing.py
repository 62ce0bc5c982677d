"""The locker with witnesses: checkpoints cosigned in the background, bundles that carry the
cosignatures, a witness that is down, and an insider's rewrite of a case log caught three ways."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import asyncpg
import pytest

from custody.local_tsa import free_port
from integrity import merkle
from integrity.bundle import QuorumNotMet, Trust
from integrity.bundle_files import verify_bundle
from integrity.compare import compare_reports
from integrity.cosignature import verify_cosignatures
from services import evidence, witnessing
from services.locker import Locker
from services.witnessing import WitnessEndpoint, WitnessPolicy
from storage.keys import KeyRing
from storage.log import Draft
from storage.objects import ObjectStore, bytes_source
from tests.acting import principal
from tests.witness.conftest import locker_with, make_witness, policy_for, witness_server
from witness.config import WitnessConfig

CASE = "2026-XZ-0042"
READER = principal("investigator:ann")


async def grow(locker: Locker, n: int, case_id: str = CASE) -> None:
    if not await locker.log.case_exists(case_id):
        await locker.log.open_case(case_id, "investigator:ann", title="Noise complaint")
    start, _ = await locker.log.head(case_id)
    for i in range(start, start + n):
        await locker.add_object(case_id, bytes_source(b"clip %d of %s" % (i, case_id.encode())),
                                kind="evidence.ingested", actor="station:dock-01", fields={"file_name": f"c{i}.mp4"})


def write_keys(tmp_path: Path, locker: Locker, *configs: WitnessConfig) -> tuple[Path, Path]:
    vkey, wkey = tmp_path / "log.vkey", tmp_path / "witnesses.vkey"
    vkey.write_text("\n".join(locker.keys.vkeys()) + "\n")
    wkey.write_text("".join(c.cosigner.vkey + "\n" for c in configs))
    return vkey, wkey


@pytest.mark.parametrize("store", ["file"], indirect=True)
async def test_checkpoints_are_cosigned_and_bundles_meet_the_quorum(
        pool: asyncpg.Pool, store: ObjectStore, ring: KeyRing, witness: tuple[WitnessConfig, str],
        tmp_path: Path) -> None:
    second_config = make_witness(tmp_path / "witness2", ring.vkeys(), name="witness.procuratorate.test/w1")
    async with witness_server(second_config) as second_url:
        policy = policy_for(witness, (second_config, second_url), quorum=2)
        locker = locker_with(pool, store, ring, policy)
        await grow(locker, 3)
        assert await witnessing.witnessed_size(pool, policy, CASE) == 0
        result = await witnessing.witness_now(pool, locker.log, policy)
        assert result.cosigned == {witness[0].cosigner.name: 1, second_config.cosigner.name: 1}
        cp = await locker.log.checkpoint(CASE)
        assert await witnessing.witnessed_size(pool, policy, CASE) == cp.size == 4
        note = await witnessing.cosigned_note(pool, CASE, cp.size, cp.note)
        assert len(verify_cosignatures(note, policy.verifiers)) == 2

        await grow(locker, 2)  # the next round sends a consistency proof from size 4
        out = tmp_path / "case.zip"
        await evidence.export(locker, CASE, out, who=READER)  # asks the witnesses first
        assert await witnessing.witnessed_size(pool, policy, CASE) == 6
        vkey, wkeys = write_keys(tmp_path, locker, witness[0], second_config)
        with zipfile.ZipFile(out) as z:
            assert sorted(n for n in z.namelist() if n.startswith("witnesses/")) == [
                "witnesses/witness.court.test%2Fw1+" + witness[0].cosigner.key_id.hex() + ".vkey",
                "witnesses/witness.procuratorate.test%2Fw1+" + second_config.cosigner.key_id.hex() + ".vkey"]

        keys = tuple(wkeys.read_text().split())
        report = verify_bundle(out, locker.keys.vkeys(), Trust(keys, 2))
        assert report.ok, report.failure
        assert {c.name for c in report.cosigned_by} == {witness[0].cosigner.name, second_config.cosigner.name}
        report = verify_bundle(out, locker.keys.vkeys(), Trust(keys[:1], 2))
        assert isinstance(report.failure, QuorumNotMet)
        plain = verify_bundle(out, locker.keys.vkeys())  # a v1 verification still holds
        assert plain.ok and len(plain.cosigned_by) == 2 and plain.witness_keys_from.startswith("bundle")

        cli = subprocess.run([sys.executable, "-m", "custody", "verify-bundle", str(out), "--vkey", str(vkey),
                              "--witness-key", str(wkeys), "--quorum", "2"], capture_output=True, text=True,
                             timeout=60)
        assert cli.returncode == 0, cli.stdout + cli.stderr
        assert "witnesses:   2 valid cosignature(s), quorum 2" in cli.stdout


@pytest.mark.parametrize("store", ["file"], indirect=True)
async def test_a_witness_that_is_down_never_blocks_ingest(pool: asyncpg.Pool, store: ObjectStore, ring: KeyRing,
                                                          tmp_path: Path) -> None:
    ring.signer("evidence.test")
    down = make_witness(tmp_path / "down", ring.vkeys())
    policy = WitnessPolicy((WitnessEndpoint(f"http://127.0.0.1:{free_port()}", down.cosigner.verifier),),
                           quorum=1, interval_seconds=1)
    locker = locker_with(pool, store, ring, policy)
    await grow(locker, 5)  # appends do not wait for any witness
    async with witnessing.Witnessing(pool, locker.log, policy) as sender:
        result = await sender.run_round()
    assert result.unreachable == [down.cosigner.name] and sender.up[down.cosigner.name] is False
    lag = await witnessing.lag(pool, policy)
    assert (lag.cases_behind, lag.checkpoints_behind) == (1, 6) and lag.oldest_unwitnessed is not None
    out = tmp_path / "case.zip"
    await evidence.export(locker, CASE, out, who=READER)  # waits a moment for the witness, then goes on
    report = verify_bundle(out, locker.keys.vkeys())
    assert report.ok and report.cosigned_by == []
    assert any("witness cosignatures" in lack for lack in report.lacks)
    assert any("trusted timestamp" in lack for lack in report.lacks)


async def rewrite_case_log(pool: asyncpg.Pool, locker: Locker, case_id: str, entries: int) -> None:
    """What an insider with the database and the signing key can do: throw the case's log away and sign a
    new history, under the real key, that is as long as the old one."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")  # append-only triggers off
        for table in ("cosignatures", "evidence", "entries", "tree_nodes", "checkpoints"):
            exists = await conn.fetchval("SELECT to_regclass($1)", table)
            if exists:
                await conn.execute(f"DELETE FROM {table} WHERE case_id = $1", case_id)
        await conn.execute("UPDATE cases SET size = 0, root = $2, last_leaf = $3, frontier = '{}' WHERE id = $1",
                           case_id, merkle.EMPTY_ROOT, bytes(32))
    await locker.log.append(case_id, Draft("case.opened", "investigator:ann", {"title": "Nothing happened"}))
    for i in range(entries - 1):
        await locker.log.append(case_id, Draft("record.added", "investigator:ann", {"title": f"harmless {i}"}))


@pytest.mark.parametrize("store", ["file"], indirect=True)
async def test_a_rewritten_log_is_refused_by_the_witness_and_caught_by_verifiers(
        pool: asyncpg.Pool, store: ObjectStore, ring: KeyRing, witness: tuple[WitnessConfig, str],
        tmp_path: Path) -> None:
    config, _ = witness
    policy = policy_for(witness)
    locker = locker_with(pool, store, ring, policy)
    await grow(locker, 4)
    old = tmp_path / "old.zip"
    await evidence.export(locker, CASE, old, who=READER)
    vkey, wkey = write_keys(tmp_path, locker, config)
    trust = Trust((config.cosigner.vkey,), 1)
    old_report = verify_bundle(old, locker.keys.vkeys(), trust)
    assert old_report.ok and old_report.checkpoint is not None and old_report.checkpoint.size == 5

    await rewrite_case_log(pool, locker, CASE, entries=7)
    result = await witnessing.witness_now(pool, locker.log, policy)
    assert result.refused == {config.cosigner.name: 1}  # the witness will not cosign the new history
    refusals = await pool.fetch("SELECT status, reason FROM witness_refusals WHERE case_id = $1", CASE)
    assert [r["status"] for r in refusals] in ([409], [422])
    assert await witnessing.witnessed_size(pool, policy, CASE) == 0

    new = tmp_path / "new.zip"
    await evidence.export(locker, CASE, new, who=READER)
    assert verify_bundle(new, locker.keys.vkeys()).ok  # the log key alone is fooled ...
    caught = verify_bundle(new, locker.keys.vkeys(), trust)  # ... a quorum of one witness is not
    assert isinstance(caught.failure, QuorumNotMet)

    plain_new = verify_bundle(new, locker.keys.vkeys())
    verdict = compare_reports(old_report, plain_new)
    assert verdict.verdict == "DIVERGED" and "entry 0 differs" in verdict.detail

    cli = subprocess.run([sys.executable, "-m", "custody", "verify-bundle", str(old), "--vkey", str(vkey),
                          "--against", str(new)], capture_output=True, text=True, timeout=60)
    assert cli.returncode == 1 and "AGAINST:     DIVERGED" in cli.stdout, cli.stdout + cli.stderr
    cli = subprocess.run([sys.executable, "-m", "custody", "verify-bundle", str(new), "--vkey", str(vkey),
                          "--witness-key", str(wkey), "--quorum", "1"], capture_output=True, text=True, timeout=60)
    assert cli.returncode == 1 and "witness_quorum" not in cli.stderr
    assert "quorum is 1" in cli.stdout


@pytest.mark.parametrize("store", ["file"], indirect=True)
async def test_against_an_honest_later_bundle_is_consistent(pool: asyncpg.Pool, store: ObjectStore,
                                                            ring: KeyRing, witness: tuple[WitnessConfig, str],
                                                            tmp_path: Path) -> None:
    locker = locker_with(pool, store, ring, policy_for(witness))
    await grow(locker, 2)
    old, new = tmp_path / "old.zip", tmp_path / "new.zip"
    await evidence.export(locker, CASE, old, who=READER)
    await grow(locker, 3)
    await evidence.export(locker, CASE, new, who=READER)
    verdict = compare_reports(verify_bundle(old, locker.keys.vkeys()), verify_bundle(new, locker.keys.vkeys()))
    assert verdict.ok and (verdict.old_size, verdict.new_size) == (3, 6)
    behind = compare_reports(verify_bundle(new, locker.keys.vkeys()), verify_bundle(old, locker.keys.vkeys()))
    assert behind.verdict == "BEHIND"
