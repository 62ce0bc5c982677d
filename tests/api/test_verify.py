"""Verification endpoints and the raw log material, checked the way a third party would."""

from __future__ import annotations

import json
import os

from blake3 import blake3

from integrity import merkle
from integrity.checkpoint import open_checkpoint
from integrity.hashing import digest_bytes
from integrity.receipt import verify_receipt
from storage.filestore import FileStore
from tests.api.conftest import Api


async def test_log_material_lets_an_outsider_rebuild_everything(file_api: Api) -> None:
    for i in range(6):
        await file_api.upload(os.urandom(1000 + i))
    status, old_note = await file_api.call("GET", "/api/v1/cases/CASE-1/checkpoint", "disclosure")
    assert status == 200
    old, _ = open_checkpoint(old_note, await file_api.vkeys())
    for i in range(3):
        await file_api.upload(os.urandom(2000 + i))
    status, note = await file_api.call("GET", "/api/v1/cases/CASE-1/checkpoint", "disclosure")
    new, _ = open_checkpoint(note, await file_api.vkeys())
    status, lines = await file_api.call("GET", f"/api/v1/cases/CASE-1/entries?start=0&end={new.size}", "reviewer")
    bodies = lines.split(b"\n")[:-1]
    assert len(bodies) == new.size
    leaves = [merkle.leaf_hash(b) for b in bodies]
    assert merkle.root_from_leaf_hashes(leaves) == new.root
    assert merkle.root_from_leaf_hashes(leaves[: old.size]) == old.root
    status, body = await file_api.call(
        "GET", f"/api/v1/cases/CASE-1/proofs/consistency?old={old.size}&new={new.size}", "reviewer")
    merkle.verify_consistency(old.size, new.size, old.root, new.root, [bytes.fromhex(h) for h in body["proof"]])
    for index in (0, 3, new.size - 1):
        status, body = await file_api.call(
            "GET", f"/api/v1/cases/CASE-1/proofs/inclusion?index={index}&size={new.size}", "reviewer")
        merkle.verify_inclusion(leaves[index], index, new.size, [bytes.fromhex(h) for h in body["proof"]], new.root)
    status, old_again = await file_api.call("GET", f"/api/v1/cases/CASE-1/checkpoint?size={old.size}", "reviewer")
    assert old_again == old_note  # every checkpoint handed out stays available
    status, receipt = await file_api.call("GET", "/api/v1/cases/CASE-1/receipts/2", "disclosure")
    assert verify_receipt(receipt, await file_api.vkeys())["seq"] == 2


async def test_verify_by_hash_and_by_posted_file(file_api: Api) -> None:
    data = os.urandom(50_000)
    await file_api.upload(data)
    hexd = blake3(data).hexdigest()
    status, answer = await file_api.call("GET", f"/api/v1/verify/{hexd}?case=CASE-1", "disclosure")
    assert status == 200 and answer["found"]
    entry = verify_receipt(answer["matches"][0], await file_api.vkeys(), digest_bytes(data))
    assert entry["kind"] == "evidence.ingested"
    status, answer = await file_api.call("POST", "/api/v1/verify?case=CASE-1", "investigator", data=data)
    assert answer["found"] and answer["sha256"] == digest_bytes(data).sha256
    assert not await file_api.locker.log.entries_for_object("ff" * 32)
    status, answer = await file_api.call("POST", "/api/v1/verify", "investigator", data=data + b"!")
    assert status == 200 and not answer["found"]
    status, answer = await file_api.call("GET", f"/api/v1/verify/{hexd}?case=OTHER", "investigator")
    assert not answer["found"]


async def test_verify_stored_object_now(file_api: Api) -> None:
    data = os.urandom(4000)
    await file_api.upload(data)
    hexd = blake3(data).hexdigest()
    status, body = await file_api.call("POST", f"/api/v1/objects/{hexd}/verify", "investigator")
    assert status == 200 and body["match"] and body["recorded"]["size"] == 4000
    store = file_api.locker.store
    assert isinstance(store, FileStore)
    path = store.root / "blake3" / hexd[:2] / hexd
    path.chmod(0o644)
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    status, body = await file_api.call("POST", f"/api/v1/objects/{hexd}/verify", "investigator")
    assert status == 200 and not body["match"] and body["now"]["blake3"] != hexd
    status, body = await file_api.call("POST", f"/api/v1/objects/{'a' * 64}/verify", "investigator")
    assert status == 404


async def test_case_search_by_officer_station_and_dates(file_api: Api) -> None:
    await file_api.open_case("CASE-2")
    await file_api.upload(os.urandom(900), case="CASE-2", officer="officer-9", recorded_at="2026-03-01T10:00:00Z")
    await file_api.upload(os.urandom(901), case="CASE-1", officer="officer-7", recorded_at="2026-11-01T10:00:00Z")

    async def ids(query: str) -> list[str]:
        status, body = await file_api.call("GET", f"/api/v1/cases?{query}", "investigator")
        assert status == 200, body
        return sorted(c["id"] for c in body["cases"])

    assert await ids("officer=officer-9") == ["CASE-2"]
    assert await ids("station=station") == ["CASE-1", "CASE-2"]
    assert await ids("from=2026-06-01&to=2026-12-31") == ["CASE-1"]
    assert await ids("id=SE-2") == ["CASE-2"]
    status, _ = await file_api.call("GET", "/api/v1/cases?from=last-week", "investigator")
    assert status == 400
    status, case = await file_api.call("GET", "/api/v1/cases/CASE-2", "reviewer")
    assert case["size"] == 2 and case["evidence"][0]["officer"] == "officer-9"
    assert json.loads(json.dumps(case))["checkpoint"].startswith("evidence.test/case/CASE-2\n2\n")
