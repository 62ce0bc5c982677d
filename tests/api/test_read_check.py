"""Reads re-check the bytes: a truncated or bit-flipped object fails the read, raises the alarm and is
logged; verify-by-hash then says the stored bytes no longer match (issue 14, item 8)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import aiohttp
import pytest
from blake3 import blake3

from policy.review import MAJOR_CRITERIA
from storage.objects import bytes_source
from tests.api.conftest import Api


def _object_file(api: Api, hexd: str) -> Path:
    """Where the file store keeps the object (a direct edit of the store, as an intruder would make)."""
    path = Path(api.locker.store.root) / "blake3" / hexd[:2] / hexd  # type: ignore[attr-defined]
    assert path.is_file()
    return path


async def _damage(api: Api, data: bytes, how: str) -> str:
    await api.upload(data)
    hexd = blake3(data).hexdigest()
    path = _object_file(api, hexd)
    os.chmod(path, 0o644)
    raw = bytearray(path.read_bytes())
    if how == "truncate":
        raw = raw[: len(raw) // 2]
    else:
        raw[len(raw) // 3] ^= 0x01
    path.write_bytes(bytes(raw))
    return hexd


async def _entries(api: Api) -> list[dict[str, object]]:
    _, body = await api.call("GET", "/api/v1/cases/CASE-1/entries", "investigator")
    return [json.loads(line) for line in body.decode().splitlines()]


@pytest.mark.parametrize("how", ["truncate", "flip"])
async def test_a_damaged_object_fails_the_read_and_is_alarmed_and_logged(file_api: Api, how: str) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    hexd = await _damage(file_api, data, how)
    url = f"{file_api.base}/api/v1/cases/CASE-1/objects/{hexd}?purpose=court"
    timeout = aiohttp.ClientTimeout(total=10)
    if how == "truncate":
        async with file_api.http.get(url, headers=file_api.auth("investigator"), timeout=timeout) as resp:
            assert resp.status == 500  # detected before any header: no promise of a length it cannot keep
            assert (await resp.json())["error"] == "object_damaged"
    else:
        with pytest.raises(aiohttp.ClientPayloadError):
            async with file_api.http.get(url, headers=file_api.auth("investigator"), timeout=timeout) as resp:
                assert resp.status == 200
                received = await resp.read()
                assert blake3(received).hexdigest() == hexd  # never reached: the body breaks off
    failed = [e for e in await _entries(file_api) if e["kind"] == "evidence.check_failed"]
    assert len(failed) == 1 and failed[0]["blake3"] == hexd
    _, answer = await file_api.call("GET", f"/api/v1/verify/{hexd}", "investigator")
    assert answer["found"] is True
    assert answer["matches"][0]["stored_bytes_match"] is False
    _, metrics = await file_api.call("GET", "/metrics", "admin")
    if how == "flip":
        assert b"custody_read_check_failures_total 1.0" in metrics


async def test_an_intact_object_reads_whole_and_verifies(file_api: Api) -> None:
    data = os.urandom(2 * 1024 * 1024 + 5)
    await file_api.upload(data)
    hexd = blake3(data).hexdigest()
    status, body = await file_api.call("GET", f"/api/v1/cases/CASE-1/objects/{hexd}?purpose=court", "investigator")
    assert status == 200 and body == data
    _, answer = await file_api.call("GET", f"/api/v1/verify/{hexd}", "investigator")
    assert answer["matches"][0]["stored_bytes_match"] is True


async def test_a_share_download_of_a_flipped_object_breaks_off_and_is_logged(file_api: Api) -> None:
    """A recipient's download is re-hashed as it streams, like a staff read: the body breaks off short of
    its length (a broken download, never a silent bad file) and the failed check is logged under the share."""
    data = os.urandom(2 * 1024 * 1024 + 5)
    intact = os.urandom(300_000)
    await file_api.upload(intact)
    hexd = await _damage(file_api, data, "flip")
    status, share = await file_api.call("POST", "/api/v1/cases/CASE-1/shares", "investigator", json={
        "organisation": "区人民法院", "person": "王书记员", "purpose": "庭审", "days": 3,
        "items": [hexd, blake3(intact).hexdigest()]})
    assert status == 201, share
    timeout = aiohttp.ClientTimeout(total=10)
    async with file_api.http.get(f"{share['link']}/objects/{blake3(intact).hexdigest()}", timeout=timeout) as resp:
        assert resp.status == 200 and await resp.read() == intact  # an intact object arrives whole
    with pytest.raises(aiohttp.ClientPayloadError):
        async with file_api.http.get(f"{share['link']}/objects/{hexd}", timeout=timeout) as resp:
            assert resp.status == 200
            received = await resp.read()
            assert blake3(received).hexdigest() == hexd  # never reached: the body breaks off
    failed = [e for e in await _entries(file_api) if e["kind"] == "evidence.check_failed"]
    assert [(e["blake3"], e["actor"]) for e in failed] == [(hexd, f"share:{share['id']}")]


async def test_a_flipped_render_on_the_portal_breaks_off_and_is_logged(file_api: Api) -> None:
    """The portal's renders go through the same re-hashing read: a flipped byte never arrives whole."""
    data = os.urandom(1024 * 1024 + 3)
    await file_api.upload(os.urandom(1000))  # the case exists, as a station made it
    await file_api.locker.add_object("CASE-1", bytes_source(data), kind="evidence.redacted",
                                     actor="investigator:investigator",
                                     fields={"file_name": "clip.redacted.mp4", "media_type": "video/mp4"})
    hexd = blake3(data).hexdigest()
    decision = "城管罚字〔2026〕第88号"
    status, body = await file_api.call("POST", "/api/v1/cases/CASE-1/determinations", "investigator", json={
        "decision_no": decision, "answers": dict.fromkeys(MAJOR_CRITERIA, False)})
    assert status == 201, body
    status, d = await file_api.call("POST", "/api/v1/disclosures", "disclosure", json={
        "case": "CASE-1", "decision_no": decision, "party_type": "legal", "party_name": "某某有限公司",
        "violation": "占道经营", "legal_basis": "条例第三十六条", "penalty": "罚款人民币200元",
        "decision_date": "2026-09-20"})
    assert status == 201, d
    for who, path, body in (("disclosure", "attachments", {"blake3": hexd}), ("dina", "approve", {}),
                            ("disclosure", "publish", {})):
        status, answer = await file_api.call("POST", f"/api/v1/disclosures/{d['id']}/{path}", who, json=body)
        assert status < 300, answer
    url = f"{file_api.base}/public/records/{d['id']}/media/{hexd}"
    timeout = aiohttp.ClientTimeout(total=10)
    async with file_api.http.get(url, timeout=timeout) as resp:
        assert resp.status == 200 and await resp.read() == data
    path = _object_file(file_api, hexd)
    os.chmod(path, 0o644)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(aiohttp.ClientPayloadError):
        async with file_api.http.get(url, timeout=timeout) as resp:
            assert resp.status == 200
            await resp.read()
    failed = [e for e in await _entries(file_api) if e["kind"] == "evidence.check_failed"]
    assert [(e["blake3"], e["actor"]) for e in failed] == [(hexd, "public:portal")]
