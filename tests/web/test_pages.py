"""Pages by role (driven from the web route table), evidence access, export, admin, languages, timeline."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import zipfile
from pathlib import Path

import pytest

from api.appkeys import SETTINGS
from api.web.i18n import EN, ZH, from_accept_language
from api.web.nav import NAV
from api.web.routes import WEB_ROUTES, WebRoute
from integrity.bundle_files import verify_bundle
from services import disclosure
from services.permissions import READERS
from storage import principals
from storage.log import Draft
from storage.objects import bytes_source
from tests.acting import principal
from tests.web.conftest import CASE, RECORD, STAFF_ROLES, Web

NOBODY = "nobody"
NO_HOLD = "999999"
POLICY_TERMS = ("公示", "撤下", "更正", "更新", "撤销", "撤回", "法制审核", "重大执法决定", "审核意见", "文号",
                "当事人", "自然人", "法人", "其他组织", "违法事实", "处罚依据", "处罚决定", "决定日期", "公示日期",
                "撤下日期", "更新期限", "逾期", "证据", "留存期限", "法律保全", "法律法规变更", "案件", "执法记录仪",
                "全过程记录", "调查取证", "启动", "审核决定", "送达执行", "访问事由", "校验")


def concrete(route: WebRoute, web_app: Web, disclosure_id: str = "") -> str:
    values = {"case": CASE, "blake3": web_app.objects["original"], "name": NOBODY, "id": disclosure_id,
              "action": "approve", "hold": NO_HOLD, "principal": NOBODY, "seq": "0",
              "upload": "00000000-0000-4000-8000-000000000000",
              "project": "no-such-project", "render": "00000000-0000-4000-8000-000000000000"}
    path = route.path
    for key, value in values.items():
        path = path.replace("{" + key + "}", value)
    return path + ("?purpose=role+matrix" if "/objects/" in route.path and route.method == "GET" else "")


@pytest.mark.parametrize("route", [r for r in WEB_ROUTES if r.roles is not None],
                         ids=lambda r: f"{r.method} {r.path}")
async def test_role_matrix(web_app: Web, route: WebRoute) -> None:
    """Signed out: sign-in redirect (pages) or 401 (data); each role: allowed, or 403, as the table says."""
    assert route.roles is not None
    draft = await disclosure.create(web_app.locker, CASE, RECORD, who=principal("disclosure:dina")) \
        if "{id}" in route.path else None
    path = concrete(route, web_app, draft.id if draft else "")
    form = {"purpose": "role matrix"} if route.method == "POST" else None
    anonymous = web_app.visitor()
    reply = await anonymous.request(route.method, path, data=form)
    if route.kind == "data":
        assert reply.status == 401, (route.path, reply.status)
    else:
        assert reply.status == 303 and reply.location.startswith("/signin"), (route.path, reply.status)
    for role in STAFF_ROLES:
        visitor = await web_app.sign_in(role)
        if route.method == "POST":
            reply = await visitor.request("POST", path, data={**(form or {}), "_csrf": visitor.csrf},
                                          headers={"X-CSRF-Token": visitor.csrf})
        else:
            reply = await visitor.get(path)
        if role in route.roles:
            assert reply.status not in (401, 403) and reply.status < 500, (role, route.path, reply.status,
                                                                           reply.text[:500])
            assert not reply.location.startswith("/signin") or route.path == "/signout", (role, route.path)
        else:
            assert reply.status == 403, (role, route.path, reply.status)


async def test_every_page_route_is_guarded() -> None:
    """Only the sign-in page and form, the public portal (and its published renders, served while their
    record is published: services.release) and a share's link (its token is the credential, checked by
    services.shares) work without a session."""
    assert {(r.method, r.path) for r in WEB_ROUTES if r.roles is None} == {
        ("GET", "/signin"), ("POST", "/signin"), ("GET", "/public"), ("GET", "/s/{token}"),
        ("GET", "/s/{token}/objects/{blake3}"), ("GET", "/s/{token}/bundle"), ("GET", "/s/{token}/verify/{blake3}"),
        ("GET", "/public/records/{id}/media/{blake3}")}
    assert all(r.roles and "station" not in r.roles for r in WEB_ROUTES if r.roles is not None)


def test_nav_matches_the_route_table() -> None:
    """An item's roles are its page's (a page open to everyone, the portal, is in every staff bar)."""
    pages = {r.path: r.roles for r in WEB_ROUTES if r.method == "GET"}
    for item in NAV:
        assert item.path in pages, f"{item.path} has no page"
        assert item.roles == (pages[item.path] or STAFF_ROLES), item.path
        assert not item.later, f"{item.path} exists now: drop its 'later' mark"


async def test_each_role_sees_only_its_nav(web_app: Web) -> None:
    for role in STAFF_ROLES:
        page = (await (await web_app.sign_in(role)).get("/cases")).text
        shown = set(re.findall(r'data-nav="([^"]+)"', page))
        assert shown == {item.path for item in NAV if role in item.roles}, role
    assert (await (await web_app.sign_in("admin")).get("/")).location == "/admin"
    assert (await (await web_app.sign_in("investigator")).get("/")).location == "/cases"
    assert (await (await web_app.sign_in("disclosure")).get("/")).location == "/disclosure"
    assert (await (await web_app.sign_in("reviewer")).get("/")).location == "/review"


async def test_case_search(web_app: Web) -> None:
    visitor = await web_app.sign_in("disclosure")
    await web_app.locker.log.open_case("OTHER-9", "investigator:investigator", title="other")
    for query, present, absent in (({"id": "CASE"}, CASE, "OTHER-9"), ({"officer": "officer-7"}, CASE, "OTHER-9"),
                                   ({"station": "dock-1"}, CASE, "OTHER-9"),
                                   ({"from": "2026-11-20", "to": "2026-11-20"}, CASE, "OTHER-9"),
                                   ({"from": "2099-01-01"}, None, CASE), ({}, "OTHER-9", None)):
        reply = await visitor.get("/cases", params=query)
        assert reply.status == 200
        if present:
            assert f'href="/cases/{present}"' in reply.text, query
        if absent:
            assert f'href="/cases/{absent}"' not in reply.text, query
    assert (await visitor.get("/cases", params={"from": "20.11.2026"})).status == 400


async def test_case_page_shows_evidence_records_checkpoint_and_timeline(web_app: Web) -> None:
    locker = web_app.locker
    await locker.log.append(CASE, Draft("custom.note", "admin:admin", {"reason": "litigation <script>x</script>",
                                                                       "until": "2030-01-01"}))
    visitor = await web_app.sign_in("investigator", **{"Accept-Language": "en"})
    page = (await visitor.get(f"/cases/{CASE}")).text
    size, root = await locker.log.head(CASE)
    assert f'id="tree-size">{size}<' in page and root.hex() in page
    assert "✓ signature valid" in page
    o, p = web_app.objects["original"], web_app.objects["proxy"]
    assert f'data-original="{o}"' in page  # the proxy row names its original
    assert page.index(f'data-blake3="{o}"') < page.index(f'data-blake3="{p}"')
    assert "CAM7_0001.MP4" in page and "2026-11-20 16:00:00 UTC+08:00" in page and "KiB" in page
    assert f'href="/cases/{CASE}/play/{p}"' in page  # Play plays the proxy
    assert "inspection.txt" in page and "investigation and evidence collection" in page
    assert "Recording CAM7_0001.MP4 ingested from camera CAM7 (officer officer-7) by station dock-1" in page
    assert "Proxy CAM7_0001.proxy.mp4 made from original " + o[:12] in page
    assert "Case opened: Street vending 占道经营" in page
    assert "Event custom.note" in page and "litigation &lt;script&gt;" in page  # unknown kinds: every field
    assert "<script>x</script>" not in page  # autoescaped
    assert page.count('class="verify small"') == 3
    zh = (await web_app.sign_in("investigator", **{"Accept-Language": "zh-CN,zh;q=0.9"})).http
    async with zh.get(web_app.base + f"/cases/{CASE}") as resp:
        text = await resp.text()
    assert "执法记录仪 CAM7 的录像 CAM7_0001.MP4" in text and "调查取证" in text and "全过程记录" in text
    assert (await visitor.get("/cases/NO-SUCH")).status == 404


async def test_reading_evidence_needs_an_access_reason_and_is_logged(web_app: Web) -> None:
    visitor = await web_app.sign_in("reviewer")
    proxy = web_app.objects["proxy"]
    player = f"/cases/{CASE}/play/{proxy}"
    ask = await visitor.get(player)
    assert ask.status == 200 and 'id="purpose-form"' in ask.text and "<video" not in ask.text
    blank = await visitor.get(player, params={"purpose": "   "})
    assert blank.status == 400 and 'id="purpose-error"' in blank.text
    before, _ = await web_app.locker.log.head(CASE)
    raw = f"/cases/{CASE}/objects/{proxy}"
    assert (await visitor.get(raw)).status == 400  # the server enforces it, not only the form
    assert (await visitor.get(raw, params={"purpose": ""})).status == 400
    assert (await web_app.locker.log.head(CASE))[0] == before  # refused reads are not reads

    page = await visitor.get(player, params={"purpose": "法制审核", "intent": "play"})
    assert page.status == 200
    src = re.search(r'<video id="player" controls preload="metadata" src="([^"]+)"', page.text)
    assert src
    url = src.group(1).replace("&amp;", "&")
    whole = await visitor.get(url)
    assert whole.status == 200 and whole.body == b"proxy bytes " * 3000
    assert "sandbox" in whole.headers["Content-Security-Policy"]
    part = await visitor.get(url, headers={"Range": "bytes=12-23"})
    assert part.status == 206 and part.body == b"proxy bytes " and part.headers["Accept-Ranges"] == "bytes"
    rows = await web_app.locker.log.entries(CASE, before)
    accesses = [r for r in rows if r.kind == "evidence.accessed"]
    assert len(accesses) == 1  # seeks by one viewer for one reason share an entry
    assert accesses[0].actor == "reviewer:reviewer"
    assert b'"purpose":"\xe6\xb3\x95\xe5\x88\xb6\xe5\xae\xa1\xe6\xa0\xb8"' in accesses[0].body
    assert b'"action":"view"' in accesses[0].body

    download = await visitor.get(player, params={"purpose": "court", "intent": "download"})
    assert download.status == 303 and "download=1" in download.location
    got = await visitor.get(download.location)
    assert got.status == 200 and "attachment" in got.headers["Content-Disposition"]
    assert any(b'"action":"download"' in r.body for r in await web_app.locker.log.entries(CASE, before))


async def test_text_records_open_sandboxed_after_a_reason(web_app: Web) -> None:
    visitor = await web_app.sign_in("investigator")
    player = f"/cases/{CASE}/play/{web_app.objects['record']}"
    ask = await visitor.get(player)
    assert 'value="open"' in ask.text and 'value="play"' not in ask.text
    page = await visitor.get(player, params={"purpose": "legal review", "intent": "open"})
    link = re.search(r'href="([^"]+)" id="open-link"', page.text)
    assert page.status == 200 and link and "<video" not in page.text
    got = await visitor.get(link.group(1).replace("&amp;", "&"))
    assert got.status == 200 and got.body == "现场检查笔录\n".encode()
    assert got.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"  # never runs as our page


async def test_a_viewer_leaving_mid_stream_is_not_an_error(web_app: Web, caplog: pytest.LogCaptureFixture) -> None:
    """A video element abandons ranges as it seeks: the server just stops, and logs no error."""
    stored = await web_app.locker.add_object(CASE, bytes_source(os.urandom(16 * 1024 * 1024)),
                                             kind="evidence.ingested", actor="station:dock-1",
                                             fields={"file_name": "long.mp4", "media_type": "video/mp4"})
    visitor = await web_app.sign_in("investigator")
    url = web_app.base + f"/cases/{CASE}/objects/{json.loads(stored.body)['blake3']}?purpose=seek"
    async with visitor.http.get(url) as resp:
        assert resp.status == 200
        await resp.content.read(64 * 1024)
        resp.close()
    await asyncio.sleep(0.5)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert (await visitor.get(f"/cases/{CASE}")).status == 200  # and the server carries on


async def test_disclosure_staff_may_see_cases_but_not_evidence_content(web_app: Web) -> None:
    visitor = await web_app.sign_in("disclosure")
    page = await visitor.get(f"/cases/{CASE}")
    assert page.status == 200 and "/play/" not in page.text and 'class="verify' not in page.text
    assert "disclosure" not in READERS
    assert (await visitor.get(f"/cases/{CASE}/play/{web_app.objects['proxy']}", params={"purpose": "x"})).status == 403
    raw = await visitor.get(f"/cases/{CASE}/objects/{web_app.objects['proxy']}", params={"purpose": "x"})
    assert raw.status == 403 and raw.body != b"proxy bytes " * 3000


async def test_objects_outside_the_case_are_not_served(web_app: Web) -> None:
    visitor = await web_app.sign_in("investigator")
    await web_app.locker.log.open_case("CASE-2", "investigator:investigator")
    other = f"/cases/CASE-2/objects/{web_app.objects['proxy']}"
    assert (await visitor.get(other, params={"purpose": "x"})).status == 404
    assert (await visitor.get(f"/cases/{CASE}/objects/{'ab' * 32}", params={"purpose": "x"})).status == 404
    assert (await visitor.get(f"/cases/{CASE}/objects/not-a-hash", params={"purpose": "x"})).status == 400


async def test_verify_now_rehashes_the_stored_object(web_app: Web) -> None:
    visitor = await web_app.sign_in("investigator")
    await visitor.get(f"/cases/{CASE}")
    for name in ("original", "proxy", "record"):
        reply = await visitor.request("POST", f"/cases/{CASE}/objects/{web_app.objects[name]}/verify",
                                      headers={"X-CSRF-Token": visitor.csrf})
        assert reply.status == 200
        answer = json.loads(reply.body)
        assert answer["match"] is True and answer["now"]["blake3"] == web_app.objects[name]


async def test_export_streams_a_bundle_that_verifies(web_app: Web, tmp_path: Path) -> None:
    visitor = await web_app.sign_in("investigator")
    await visitor.get(f"/cases/{CASE}")
    refused = await visitor.post(f"/cases/{CASE}/export", {"purpose": "  "})
    assert refused.status == 400
    reply = await visitor.post(f"/cases/{CASE}/export", {"purpose": "court bundle"})
    assert reply.status == 200 and reply.headers["Content-Type"] == "application/zip"
    assert reply.headers["Content-Disposition"] == f'attachment; filename="{CASE}-bundle.zip"'
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(reply.body)
    report = verify_bundle(bundle, [web_app.locker.log.signer.vkey])
    assert report.ok, report.as_json()
    assert {o.blake3 for o in report.objects} == set(web_app.objects.values())
    names = zipfile.ZipFile(io.BytesIO(reply.body)).namelist()
    assert f"objects/{web_app.objects['original']}" in names
    assert report.entries[-1]["kind"] == "evidence.accessed" and report.entries[-1]["purpose"] == "court bundle"
    assert report.entries[-1]["actor"] == "investigator:investigator"
    exports = web_app.app[SETTINGS].home / "tmp" / "exports"
    for _ in range(50):  # the handler removes it just after the last byte is sent
        if not list(exports.iterdir()):
            break
        await asyncio.sleep(0.05)
    assert list(exports.iterdir()) == []  # the temp file is gone


async def test_admin_adds_users_shows_the_token_once_and_revokes(web_app: Web) -> None:
    web_app.no_cache()
    admin = await web_app.sign_in("admin", **{"Accept-Language": "en"})
    page = await admin.get("/admin")
    assert web_app.locker.log.signer.vkey in page.text and web_app.locker.log.signer.key_id.hex() in page.text
    for slot in ("/admin/retention", "/admin/law-changes", "/disclosure", "/review", "/public"):
        assert f'href="{slot}"' in page.text
    reply = await admin.post("/admin/principals", {"name": "carol", "role": "investigator"})
    token = re.search(r'id="issued-token">(cst_[A-Za-z0-9_-]+)<', reply.text)
    assert reply.status == 200 and token and "shown this once" in reply.text
    assert token.group(1) not in (await admin.get("/admin")).text
    carol = await web_app.sign_in("carol", token=token.group(1))
    duplicate = await admin.post("/admin/principals", {"name": "carol", "role": "admin"})
    assert duplicate.status == 409 and 'id="admin-error"' in duplicate.text
    bad = await admin.post("/admin/principals", {"name": "x y", "role": "investigator"})
    assert bad.status == 422 and "Put a Chinese name in the display name" in bad.text  # not the browser's bare pattern
    dock = await admin.post("/admin/principals", {"name": "dock-9", "role": "station"})
    assert dock.status == 200  # stations are added here too; their tokens cannot sign in

    revoked = await admin.post("/admin/principals/carol/revoke")
    assert revoked.status == 303 and "Revoked the token of carol" in (await admin.get(revoked.location)).text
    assert (await carol.get("/cases")).status == 303
    reissued = await admin.post("/admin/principals/carol/reissue")
    new = re.search(r'id="issued-token">(cst_[A-Za-z0-9_-]+)<', reissued.text)
    assert new and new.group(1) != token.group(1)
    assert await principals.by_token(web_app.locker.pool, new.group(1)) is not None
    assert await principals.by_token(web_app.locker.pool, token.group(1)) is None
    assert (await admin.post("/admin/principals/nobody/revoke")).status == 404


async def test_language_from_accept_language_and_the_switch(web_app: Web) -> None:
    en = await web_app.sign_in("investigator", **{"Accept-Language": "en-GB,en;q=0.9"})
    assert "Find cases" in (await en.get("/cases")).text
    zh = await web_app.sign_in("investigator", **{"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    page = (await zh.get("/cases")).text
    assert "案件检索" in page and '<html lang="zh-CN">' in page and 'href="/cases?lang=en"' in page
    switched = await zh.get("/cases", params={"lang": "en"})
    assert "Find cases" in switched.text
    assert "Find cases" in (await zh.get("/cases")).text  # remembered in a cookie, beats Accept-Language
    assert "案件检索" in (await zh.get("/cases", params={"lang": "zh"})).text
    anonymous = web_app.visitor(**{"Accept-Language": "fr-FR, en;q=0.5"})
    assert "Sign in" in (await anonymous.get("/signin")).text


@pytest.mark.parametrize(("header", "lang"), [("zh-CN,zh;q=0.9", "zh"), ("en-US", "en"), ("fr, en;q=0.1", "en"),
                                              ("en;q=0.2, zh-TW;q=0.8", "zh"), ("de", None), ("", None),
                                              ("zh;q=0, en", "en")])
def test_accept_language(header: str, lang: str | None) -> None:
    assert from_accept_language(header) == lang


def test_both_languages_have_every_string_and_the_policy_terms() -> None:
    assert set(ZH) == set(EN)
    chinese = "".join(ZH.values())
    for term in POLICY_TERMS:
        assert term in chinese, term


async def test_pages_carry_security_headers(web_app: Web) -> None:
    visitor = await web_app.sign_in("investigator")
    for path in ("/cases", f"/cases/{CASE}", "/verify", "/signin", "/disclosure", "/public"):
        reply = await visitor.get(path)
        csp = reply.headers["Content-Security-Policy"]
        assert "script-src 'self' 'wasm-unsafe-eval'" in csp and "frame-ancestors 'none'" in csp, path
        assert reply.headers["X-Frame-Options"] == "DENY" and reply.headers["Cache-Control"] == "no-store"
        assert "<script>" not in reply.text  # no inline script: the CSP would block it anyway


async def test_static_files_and_the_verify_twin(web_app: Web) -> None:
    visitor = await web_app.sign_in("disclosure")
    for name in ("custody.css", "custody-ui.js", "verify-page.js"):
        assert (await visitor.get(f"/static/{name}")).status == 200
    assert (await visitor.get("/static/../templates/base.html")).status in (403, 404)
    assert (await visitor.get("/static/")).status in (403, 404)
    page = await visitor.get("/verify")
    assert page.status == 200 and 'src="/static/verify-page.js"' in page.text and 'data-strings="{' in page.text
    hexd = web_app.objects["original"]
    twin = json.loads((await visitor.get(f"/ui/api/verify/{hexd}")).body)
    assert twin["found"] and twin["matches"][0]["case"] == CASE and twin["matches"][0]["kind"] == "evidence.ingested"
    assert json.loads((await visitor.get(f"/ui/api/verify/{'0' * 64}")).body)["found"] is False
    assert (await web_app.visitor().get(f"/ui/api/verify/{hexd}")).status == 401
