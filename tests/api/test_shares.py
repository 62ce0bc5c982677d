"""Shares over HTTP: staff make and revoke them; a recipient opens /s/{token} with no account."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from blake3 import blake3

from integrity.bundle_files import verify_bundle
from services import shares
from tests.api.conftest import Api

CLIP = b"shared body camera clip " * 5000
SHARE = {"organisation": "City procuratorate", "person": "Prosecutor Li", "purpose": "indictment review", "days": 14}


async def fetch(api: Api, path: str, **kw: object) -> tuple[int, bytes, dict[str, str]]:
    async with api.http.get(api.base + path, **kw) as resp:  # type: ignore[arg-type]
        return resp.status, await resp.read(), dict(resp.headers)


async def test_share_link_download_verify_revoke(file_api: Api) -> None:
    await file_api.upload(CLIP)
    clip = blake3(CLIP).hexdigest()
    status, body = await file_api.call("POST", "/api/v1/cases/CASE-1/shares", "investigator",
                                       json={**SHARE, "items": [clip], "max_downloads": 1})
    assert status == 201 and body["token"].startswith("csh_") and body["link"].endswith("/s/" + body["token"])
    token, share_id = body["token"], body["id"]

    status, page, headers = await fetch(file_api, f"/s/{token}?lang=en")
    assert status == 200 and b"clip.mp4" in page and b"Prosecutor Li" in page and clip.encode() in page
    assert headers["Referrer-Policy"] == "no-referrer" and "no-store" in headers["Cache-Control"]
    status, data, headers = await fetch(file_api, f"/s/{token}/objects/{clip}")
    assert status == 200 and data == CLIP and "clip.mp4" in headers["Content-Disposition"]
    status, data, _ = await fetch(file_api, f"/s/{token}/objects/{clip}")  # the limit is one download
    assert status == 410 and json.loads(data)["error"] == "download_limit_reached"
    status, data, _ = await fetch(file_api, f"/s/{token}/verify/{clip}")
    answer = json.loads(data)
    assert status == 200 and answer["found"] and answer["matches"][0]["case"] == "CASE-1"
    status, data, _ = await fetch(file_api, f"/s/{token}/verify/{blake3(b'other').hexdigest()}")
    assert status == 200 and not json.loads(data)["found"]

    status, body = await file_api.call("GET", "/api/v1/cases/CASE-1/shares", "investigator")
    assert status == 200 and [(s["id"], s["downloads"], s["items"]) for s in body["shares"]] == [(share_id, 1, [clip])]
    assert "token" not in body["shares"][0]
    status, body = await file_api.call("GET", "/api/v1/cases/CASE-1/shares", "reviewer")
    assert status == 403

    status, body = await file_api.call("POST", f"/api/v1/cases/CASE-1/shares/{share_id}/revoke", "investigator",
                                       json={"reason": "case closed"})
    assert status == 200 and body["revoked_by"] == "investigator:investigator"
    # Revoked, unknown: the same answer, at once.
    answers = set()
    for probe in (token, "csh_" + "B" * 43):
        status, page, _ = await fetch(file_api, f"/s/{probe}?lang=en")
        assert status == 404 and b"unknown, expired or revoked" in page
        answers.add(page.replace(probe.encode(), b""))
        status, data, _ = await fetch(file_api, f"/s/{probe}/objects/{clip}")
        assert status == 404 and json.loads(data) == {"error": "share_not_found", "message": shares.NOT_FOUND_MESSAGE}
    assert len(answers) == 1
    status, page, _ = await fetch(file_api, f"/s/{token}?lang=zh")
    assert status == 404 and "链接未知、已过期或已撤销".encode() in page

    kinds = [(r.kind, json.loads(r.body).get("share")) for r in await file_api.locker.log.entries("CASE-1")
             if r.kind.startswith("share.")]
    assert kinds == [("share.created", share_id), ("share.viewed", share_id), ("share.downloaded", share_id),
                     ("share.revoked", share_id)]


async def test_bad_share_input_is_a_clear_4xx(file_api: Api) -> None:
    for bad in ({**SHARE, "days": 0}, {**SHARE, "days": "7"}, {k: v for k, v in SHARE.items() if k != "person"},
                {**SHARE, "items": ["00" * 32]}, {**SHARE, "max_downloads": 0}):
        status, body = await file_api.call("POST", "/api/v1/cases/CASE-1/shares", "investigator", json=bad)
        assert status in (400, 422), (bad, status, body)
    status, body = await file_api.call("POST", "/api/v1/cases/CASE-1/shares", "station", json=SHARE)
    assert status == 403
    status, body = await file_api.call("GET", "/api/v1/cases/CASE-1/shares", "investigator")
    assert body["shares"] == []


async def test_bad_tokens_back_off(file_api: Api) -> None:
    statuses = [(await fetch(file_api, f"/s/csh_{n:043d}"))[0] for n in range(25)]
    assert statuses[:19] == [404] * 19 and 429 in statuses[19:]


async def test_a_whole_case_share_gives_the_court_bundle(file_api: Api, tmp_path: Path) -> None:
    await file_api.upload(CLIP)
    status, body = await file_api.call("POST", "/api/v1/cases/CASE-1/shares", "investigator", json=SHARE)
    assert status == 201 and body["items"] is None
    status, data, headers = await fetch(file_api, f"/s/{body['token']}/bundle")
    assert status == 200 and headers["Content-Disposition"] == 'attachment; filename="CASE-1-bundle.zip"'
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(data)
    report = verify_bundle(bundle)
    assert report.ok and len(report.objects) == 1
    with zipfile.ZipFile(bundle) as z:
        assert "clip.mp4" in z.read("INDEX.html").decode() and z.read("SHA256SUMS").endswith(
            f"  objects/{blake3(CLIP).hexdigest()}\n".encode())
