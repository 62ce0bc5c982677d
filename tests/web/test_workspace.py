"""The staff workspace (issue 18): people, the audit view, local time, the governance log, and the
confusing bits fixed — through the services, the API and the pages of a real in-process server."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import zoneinfo

import aiohttp
import pytest

from api.web.cases import _date
from api.web.render import when
from foundation.errors import Forbidden, Invalid
from policy.cases import GOVERNANCE_CASE
from policy.people import ProfileError, check_login_name, check_profile
from services import accounts, audit
from services.retention import ensure_governance_log
from storage import principals
from tests.acting import principal
from tests.web.conftest import CASE, Web

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
ADMIN = principal("admin:admin")


async def api(web_app: Web, who: str, path: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as http, http.get(
            web_app.base + path, headers={"Authorization": f"Bearer {web_app.tokens[who]}"}) as resp:
        return resp.status, await resp.read()


# -- people ------------------------------------------------------------------------------------------


def test_display_fields_take_chinese_and_refuse_clearly() -> None:
    assert check_profile(" 王  小明 ", "jd-0421", "北京市朝阳区城管执法局").display_name == "王 小明"
    assert check_profile("阿卜杜拉·艾买提", "", "").display_name == "阿卜杜拉·艾买提"
    assert check_profile("", "jd-0421", "").badge_no == "JD-0421"
    for args, field in ((("王<script>", "", ""), "display_name"), (("x" * 65, "", ""), "display_name"),
                        (("", "京 0421", ""), "badge_no"), (("", "", "单位\x00"), "unit")):
        with pytest.raises(ProfileError) as refused:
            check_profile(*args)
        assert refused.value.field == field
    with pytest.raises(ProfileError, match="Chinese name in the display name"):
        check_login_name("王小明")


async def test_display_fields_are_set_by_admins_and_each_change_is_logged(web_app: Web) -> None:
    locker = web_app.locker
    with pytest.raises(Forbidden):
        await accounts.set_profile(locker, "investigator", display_name="王小明", badge_no="", unit="",
                                   who=principal("investigator:investigator"))
    await accounts.set_profile(locker, "investigator", display_name="王小明", badge_no="11010001", unit="朝阳分局",
                               who=ADMIN)
    await ensure_governance_log(locker)
    size, _ = await locker.log.head(GOVERNANCE_CASE)
    await accounts.set_profile(locker, "investigator", display_name="王小明", badge_no="11010001", unit="朝阳分局",
                               who=ADMIN)  # the same values again: nothing changes, nothing is logged
    assert (await locker.log.head(GOVERNANCE_CASE))[0] == size
    entries = [json.loads(r.body) for r in await locker.log.entries(GOVERNANCE_CASE, 0, size)
               if r.kind == "principal.profile_set"]
    assert entries[-1]["principal"] == "investigator" and entries[-1]["display_name"] == "王小明"
    assert entries[-1]["actor"] == "admin:admin" and entries[-1]["badge_no"] == "11010001"
    account = await principals.account(locker.pool, "investigator")
    assert account is not None and (account.display_name, account.unit) == ("王小明", "朝阳分局")
    assert account.name == "investigator"  # the login name never changes


async def test_admin_page_adds_and_edits_people_in_both_languages(web_app: Web) -> None:
    zh = await web_app.sign_in("admin", **{"Accept-Language": "zh-CN"})
    added = await zh.post("/admin/principals", {"name": "wang.xm", "role": "investigator", "display_name": "王小明",
                                                "badge_no": "11010002", "unit": "朝阳分局"})
    assert added.status == 200 and 'id="issued-token"' in added.text
    page = (await zh.get("/admin")).text
    assert "王小明" in page and "执法证号" in page and "11010002" in page and "朝阳分局" in page
    bad = await zh.post("/admin/principals", {"name": "王小明", "role": "investigator"})
    assert bad.status == 422 and "中文姓名请填在“显示姓名”中" in bad.text
    assert await principals.account(web_app.locker.pool, "王小明") is None
    bad_badge = await zh.post("/admin/principals", {"name": "li.si", "role": "investigator", "badge_no": "京0421"})
    assert bad_badge.status == 422 and "执法证号最多 32 个字符" in bad_badge.text
    assert await principals.account(web_app.locker.pool, "li.si") is None  # refused before it exists
    edited = await zh.post("/admin/principals/wang.xm/profile", {"display_name": "王晓明", "badge_no": "11010002",
                                                                  "unit": "朝阳分局"})
    assert edited.status == 303
    assert "已保存 wang.xm 的显示姓名" in (await zh.get(edited.location)).text
    en = await web_app.sign_in("admin", **{"Accept-Language": "en"})
    refused = await en.post("/admin/principals/wang.xm/profile", {"display_name": "王<b>", "badge_no": "", "unit": ""})
    assert refused.status == 422 and "letters of any script" in refused.text
    assert "Display name" in (await en.get("/admin")).text


# -- the audit view ----------------------------------------------------------------------------------


async def test_audit_lists_who_read_what_with_filters_receipts_and_csv(web_app: Web) -> None:
    reviewer = await web_app.sign_in("reviewer")
    proxy = web_app.objects["proxy"]
    read = await reviewer.get(f"/cases/{CASE}/objects/{proxy}", params={"purpose": "法制审核 audit"})
    assert read.status == 200
    got = await reviewer.get(f"/cases/{CASE}/objects/{proxy}", params={"purpose": "法制审核 audit", "download": "1"})
    assert got.status == 200

    rows = await audit.accesses(web_app.locker.pool, who=ADMIN, user="reviewer")
    assert {r.row.action for r in rows} == {"view", "download"}
    assert all(r.row.case_id == CASE and r.row.object == proxy and r.row.purpose == "法制审核 audit" for r in rows)
    assert [r.row.action for r in await audit.accesses(web_app.locker.pool, who=ADMIN, action="download")] == \
        ["download"]
    assert await audit.accesses(web_app.locker.pool, who=ADMIN, user="investigator") == []
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert await audit.accesses(web_app.locker.pool, who=ADMIN, since=later) == []
    with pytest.raises(Forbidden):
        await audit.accesses(web_app.locker.pool, who=principal("investigator:investigator"))
    with pytest.raises(Invalid):
        await audit.accesses(web_app.locker.pool, who=ADMIN, action="delete")

    status, body = await api(web_app, "admin", "/api/v1/audit/accesses?user=reviewer&access=view")
    assert status == 200, body
    [row] = json.loads(body)["accesses"]
    assert row["actor"] == "reviewer:reviewer" and row["at"].endswith("Z")  # the API keeps UTC
    assert (await api(web_app, "investigator", "/api/v1/audit/accesses"))[0] == 403
    assert (await api(web_app, "admin", "/api/v1/audit/accesses?access=nope"))[0] == 422

    admin = await web_app.sign_in("admin", **{"Accept-Language": "en"})
    page = await admin.get("/admin/audit", params={"user": "reviewer"})
    assert page.status == 200 and "Access audit" in page.text and page.text.count('data-action="') == 2
    assert f'href="/cases/{CASE}#entry-{row["seq"]}"' in page.text
    receipt = await admin.get(f"/ui/api/cases/{CASE}/receipts/{row['seq']}")
    assert receipt.status == 200 and json.loads(receipt.body)["entry"]
    entry_on_case_page = (await admin.get(f"/cases/{CASE}")).text
    assert f'id="entry-{row["seq"]}"' in entry_on_case_page
    zh = await web_app.sign_in("admin", **{"Accept-Language": "zh-CN"})
    zh_page = (await zh.get("/admin/audit", params={"action": "download"})).text
    assert "访问审计" in zh_page and "下载" in zh_page and zh_page.count('data-action="download"') == 1
    none = await zh.get("/admin/audit", params={"case": "NO-SUCH"})
    assert "没有符合筛选条件的访问记录" in none.text
    bad_date = await zh.get("/admin/audit", params={"from": "2026-13-01"})
    assert bad_date.status == 400

    exported = await admin.get("/admin/audit.csv", params={"user": "reviewer"})
    assert exported.status == 200 and exported.headers["Content-Type"].startswith("text/csv")
    text = exported.body.decode("utf-8")
    assert text.startswith("\ufeff")
    table = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert {r["action"] for r in table} == {"view", "download"} and table[0]["purpose"] == "法制审核 audit"
    assert table[0]["receipt"].startswith(f"/api/v1/cases/{CASE}/receipts/")
    investigator = await web_app.sign_in("investigator")
    assert (await investigator.get("/admin/audit")).status == 403


# -- local time, the governance log, and the smaller fixes ---------------------------------------------


def test_pages_show_and_search_in_the_bureaus_zone() -> None:
    assert when("2026-11-20T20:00:00Z", SHANGHAI) == "2026-11-21 04:00:00 UTC+08:00"
    assert when("2026-11-20T20:00:00Z") == "2026-11-20 20:00:00 UTC"
    # the day 2026-11-21 in Beijing starts at 16:00 UTC the day before, and "to" includes the whole day
    assert _date("2026-11-21", SHANGHAI) == dt.datetime(2026, 11, 20, 16, tzinfo=dt.UTC)
    assert _date("2026-11-21", SHANGHAI, end=True) == dt.datetime(2026, 11, 21, 16, tzinfo=dt.UTC)


async def test_governance_log_is_listed_only_to_admins_with_its_title(web_app: Web) -> None:
    await ensure_governance_log(web_app.locker)
    investigator = await web_app.sign_in("investigator", **{"Accept-Language": "en"})
    listing = (await investigator.get("/cases")).text
    assert f'data-case="{CASE}"' in listing and f'data-case="{GOVERNANCE_CASE}"' not in listing
    assert "local time (Asia/Shanghai)" in listing
    status, body = await api(web_app, "investigator", "/api/v1/cases")
    assert status == 200 and GOVERNANCE_CASE not in [c["id"] for c in json.loads(body)["cases"]]
    page = (await investigator.get(f"/cases/{GOVERNANCE_CASE}")).text
    assert "Bureau governance log" in page
    for form in ("place-hold", "grant-form", "handover-form", "restriction-form"):
        assert f'id="{form}"' not in page
    admin = await web_app.sign_in("admin", **{"Accept-Language": "zh-CN"})
    assert f'data-case="{GOVERNANCE_CASE}"' in (await admin.get("/cases")).text
    assert "本局治理日志" in (await admin.get(f"/cases/{GOVERNANCE_CASE}")).text
    status, body = await api(web_app, "admin", "/api/v1/cases")
    assert GOVERNANCE_CASE in [c["id"] for c in json.loads(body)["cases"]]


async def test_case_page_order_labels_and_chinese_words(web_app: Web) -> None:
    zh = await web_app.sign_in("investigator", **{"Accept-Language": "zh-CN"})
    page = (await zh.get(f"/cases/{CASE}")).text
    assert page.index('id="case-evidence"') < page.index('id="place-hold"') < page.index('id="timeline"')
    assert page.index('id="case-evidence"') < page.index('id="export-form"')
    assert 'class="skip-link" href="#case-evidence"' in page and 'aria-label="主导航"' in page
    assert "播放副本" in page  # Play on an original says it plays the proxy
    assert 'class="row read-record"' in page  # a text record is read from the list, with its reason
    timeline = page[page.index('id="timeline"'):]
    assert "<dt>file_name</dt>" not in timeline and "<dt>文件名</dt>" in timeline
    assert "<dt>camera</dt>" not in timeline and "<dt>执法记录仪</dt>" in timeline
    assert "2026-11-20 16:00:00 UTC+08:00" in page


async def test_a_text_record_is_shown_inline_after_its_reason(web_app: Web) -> None:
    reviewer = await web_app.sign_in("reviewer")
    record = web_app.objects["record"]
    player = await reviewer.get(f"/cases/{CASE}/play/{record}", params={"purpose": "阅读笔录", "intent": "open"})
    m = re.search(r'<pre class="record-text muted" id="record-text" data-text-src="([^"]+)"', player.text)
    assert player.status == 200 and m
    body = await reviewer.get(m.group(1).replace("&amp;", "&"))
    assert body.status == 200 and body.body.decode() == "现场检查笔录\n"


async def test_public_search_without_hits_says_so(web_app: Web) -> None:
    visitor = web_app.visitor(**{"Accept-Language": "en"})
    page = await visitor.get("/public", params={"q": "无此内容"})
    assert page.status == 200 and "No published record contains “无此内容”" in page.text
    assert "Nothing is published at present" not in page.text
