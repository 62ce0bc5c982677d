"""Store + log together: export a real case, verify it offline, catch every kind of tampering."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import asyncpg
import pytest

from integrity.bundle_files import verify_bundle
from integrity.verify import verify_file
from services import evidence
from services.locker import Locker
from services.scrub import scrub
from storage.keys import KeyRing
from storage.log import CaseLog, CaseNotFound
from storage.objects import ObjectStore, bytes_source
from tests.acting import principal

HOST = "evidence.test"


@pytest.fixture
async def locker(pool: asyncpg.Pool, store: ObjectStore, tmp_path: Path) -> Locker:
    ring = KeyRing(tmp_path / "keys")
    return Locker(pool, store, CaseLog(pool, ring.signer(HOST), HOST, archive=store), ring)


async def make_case(locker: Locker, case_id: str = "C-100") -> list[bytes]:
    await locker.log.open_case(case_id, "officer:1", title="Noise complaint")
    media = [os.urandom(300_000), os.urandom(1000), "询问笔录 interview record\n".encode()]
    for i, data in enumerate(media[:2]):
        await locker.add_object(case_id, bytes_source(data), kind="evidence.ingested", actor="station:d1",
                                fields={"file_name": f"clip{i}.mp4", "camera": "CAM-9", "officer": "officer:1"})
    await locker.add_object(case_id, bytes_source(media[2]), kind="record.added", actor="officer:1",
                            fields={"file_name": "interview.txt", "stage": "调查取证"})
    return media


def vkeys(locker: Locker) -> list[str]:
    return locker.keys.vkeys()


async def test_export_verifies_offline_with_media(locker: Locker, tmp_path: Path) -> None:
    media = await make_case(locker)
    out = tmp_path / "case.zip"
    n_entries, n_objects = await evidence.export(locker, "C-100", out, with_media=True,
                                                 who=principal("investigator:1"), purpose="court")
    assert (n_entries, n_objects) == (5, 3)  # opened, 2 clips, record, the export's own access entry
    report = verify_bundle(out, vkeys(locker))
    assert report.ok, report.failure
    assert report.entries[-1]["kind"] == "evidence.accessed" and report.entries[-1]["purpose"] == "court"
    assert sorted(o.size for o in report.objects) == sorted(len(m) for m in media)
    assert report.trusted_from == "--vkey"

    clip = tmp_path / "clip0.mp4"
    clip.write_bytes(media[0])
    assert verify_file(clip, out, vkeys(locker), as_json=True, out=io.StringIO()) == 0
    clip.write_bytes(media[0][:-1])
    assert verify_file(clip, out, vkeys(locker), as_json=True, out=io.StringIO()) == 1


async def test_same_file_twice_is_one_entry(locker: Locker) -> None:
    await locker.log.open_case("C-DUP", "a")
    data = os.urandom(5000)
    first = await locker.add_object("C-DUP", bytes_source(data), kind="evidence.ingested", actor="s", fields={})
    second = await locker.add_object("C-DUP", bytes_source(data), kind="evidence.ingested", actor="s", fields={})
    assert first.seq == second.seq and not second.created


async def test_unknown_case_stores_nothing(locker: Locker) -> None:
    with pytest.raises(CaseNotFound):
        await locker.add_object("missing", bytes_source(b"x"), kind="evidence.ingested", actor="s", fields={})


def unzip(bundle: Path, into: Path) -> Path:
    with zipfile.ZipFile(bundle) as z:
        z.extractall(into)
    return into


async def test_every_byte_of_checkpoint_and_entries_is_covered(locker: Locker, tmp_path: Path) -> None:
    """Any single-byte change to the checkpoint or the entries makes verification fail."""
    await make_case(locker)
    out = tmp_path / "case.zip"
    await locker.write_bundle("C-100", out)
    base = unzip(out, tmp_path / "clean")
    assert verify_bundle(base, vkeys(locker)).ok
    for name in ("checkpoint", "entries.jsonl"):
        original = (base / name).read_bytes()
        for pos in range(len(original)):
            tampered = bytearray(original)
            tampered[pos] ^= 0x01
            (base / name).write_bytes(bytes(tampered))
            report = verify_bundle(base, vkeys(locker))
            assert not report.ok, f"{name} byte {pos} changed but the bundle still verified"
            assert report.failure_place
        (base / name).write_bytes(original)
    assert verify_bundle(base, vkeys(locker)).ok


async def test_tampered_object_is_named(locker: Locker, tmp_path: Path) -> None:
    await make_case(locker)
    out = tmp_path / "case.zip"
    await locker.write_bundle("C-100", out, with_media=True)
    base = unzip(out, tmp_path / "b")
    victim = sorted((base / "objects").iterdir(), key=lambda p: p.stat().st_size)[-1]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x80
    victim.write_bytes(bytes(data))
    report = verify_bundle(base, vkeys(locker))
    assert not report.ok
    assert report.failure_place == f"objects/{victim.name}"
    assert "blake3" in str(report.failure)


async def test_one_changed_line_in_zip_fails_with_place(locker: Locker, tmp_path: Path) -> None:
    await make_case(locker)
    out = tmp_path / "case.zip"
    await locker.write_bundle("C-100", out)
    with zipfile.ZipFile(out) as z:
        members = {n: z.read(n) for n in z.namelist()}
    lines = members["entries.jsonl"].split(b"\n")
    entry = json.loads(lines[2])
    entry["camera"] = "CAM-OTHER"
    lines[2] = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    members["entries.jsonl"] = b"\n".join(lines)
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as z:
        for n, d in members.items():
            z.writestr(n, d)
    report = verify_bundle(bad, vkeys(locker))
    assert not report.ok
    assert "entries.jsonl line 4 (seq 3)" == report.failure_place  # seq 3's prev no longer links
    assert report.failure is not None and report.failure.code == "broken_chain"


async def test_damaged_zip_is_a_clear_failure(locker: Locker, tmp_path: Path) -> None:
    await make_case(locker)
    out = tmp_path / "case.zip"
    await locker.write_bundle("C-100", out, with_media=True)
    data = bytearray(out.read_bytes())
    # Every byte of the zip's own bookkeeping (local headers, central directory, end record) and a
    # sample of the rest: whatever breaks, the verifier reports it and never raises.
    central = data.rfind(b"PK\x01\x02", 0, len(data))
    positions = sorted({*range(0, len(data), max(1, len(data) // 200)), *range(max(0, central - 2000), len(data))})
    for pos in positions:
        tampered = bytearray(data)
        tampered[pos] ^= 0xFF
        bad = tmp_path / "bad.zip"
        bad.write_bytes(bytes(tampered))
        report = verify_bundle(bad, vkeys(locker))  # must never raise
        if report.ok:
            # Only zip bookkeeping (timestamps, attributes) carries no evidence; the content is intact.
            with zipfile.ZipFile(bad) as z, zipfile.ZipFile(out) as good:
                assert z.namelist() == good.namelist(), (pos, z.namelist(), report.as_json())
                assert all(z.read(n) == good.read(n) for n in good.namelist())


async def test_wrong_key_and_foreign_files_rejected(locker: Locker, tmp_path: Path) -> None:
    await make_case(locker)
    out = tmp_path / "case.zip"
    await locker.write_bundle("C-100", out)
    other = KeyRing(tmp_path / "other").signer(HOST).vkey
    report = verify_bundle(out, [other])
    assert not report.ok and report.failure is not None and report.failure.code == "unknown_key"
    base = unzip(out, tmp_path / "x")
    (base / "notes.txt").write_text("added later")
    report = verify_bundle(base, vkeys(locker))
    assert not report.ok and report.failure_place == "notes.txt"


async def test_scrub_clean_then_names_tampered_object_and_entry(
    locker: Locker, pool: asyncpg.Pool
) -> None:
    media = await make_case(locker)
    assert await scrub(locker) == []

    from storage.filestore import FileStore

    if isinstance(locker.store, FileStore):
        from blake3 import blake3

        hexd = blake3(media[1]).hexdigest()
        path = locker.store.root / "blake3" / hexd[:2] / hexd
        path.chmod(0o644)
        path.write_bytes(media[1][:-1] + bytes([media[1][-1] ^ 0xFF]))  # always a different last byte
        problems = [str(p) for p in await scrub(locker, "C-100")]
        assert len(problems) == 1
        assert "entry 2" in problems[0] and hexd in problems[0] and "no longer matches" in problems[0]
        path.write_bytes(media[1])

    # A database superuser bypasses the append-only trigger and edits one entry.
    async with pool.acquire() as conn:
        await conn.execute("SET session_replication_role = replica")
        await conn.execute(
            "UPDATE entries SET body = convert_to(replace(convert_from(body, 'UTF8'), 'CAM-9', 'CAM-8'), 'UTF8') "
            "WHERE case_id = 'C-100' AND seq = 1"
        )
    found = await scrub(locker, "C-100")
    problems = [str(p) for p in found]
    assert any("entry 1" in p and "leaf hash" in p for p in problems)
    assert any("recompute to root" in p for p in problems)
    from storage.catalog import last_scrub

    run = await last_scrub(pool)
    assert run is not None and run["scope"] == "C-100" and run["problems"] == [f.as_json() for f in found]


async def test_scrub_names_a_body_that_is_no_longer_canonical(locker: Locker, pool: asyncpg.Pool) -> None:
    await make_case(locker)
    async with pool.acquire() as conn:
        await conn.execute("SET session_replication_role = replica")
        await conn.execute(
            "UPDATE entries SET body = convert_to(replace(convert_from(body, 'UTF8'), '\"camera\":', "
            "'\"camera\": '), 'UTF8') WHERE case_id = 'C-100' AND seq = 1"
        )
    found = await scrub(locker, "C-100")  # the entry names an object; scrub still runs to the end
    problems = [str(p) for p in found if p.code.startswith(("entry_", "root_"))]
    assert [p.split(":")[0] for p in problems] == ["case C-100 entry 1", "case C-100 entry 2", "case C-100"]
    assert "body is not canonical JSON" in problems[0]
    assert "does not link to entry 1" in problems[1]
    assert "recompute to root" in problems[2]
