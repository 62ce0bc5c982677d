"""The working-day calendar's form on the law-changes page (issue 13 item 5): an administrator adds a
year and the running server counts in it at once, in both languages."""

from __future__ import annotations

from tests.policy.test_workdays import YEAR_2027
from tests.web.conftest import Web
from tests.web.test_disclosure_pages import alert, post


async def test_an_administrator_adds_a_year_and_it_is_used_at_once(web_app: Web) -> None:
    admin = await web_app.sign_in("admin", **{"Accept-Language": "zh-CN"})
    before = await admin.get("/admin/law-changes?effective=2027-09-20")
    assert before.status == 422 and 'data-year="2027"' not in before.text
    bad = await post(admin, "/admin/calendar/years", {"toml": "year = 2027\n"})
    assert bad.status == 422 and "holidays" in alert(bad) and "year = 2027" in bad.text
    added = await post(admin, "/admin/calendar/years", {"toml": YEAR_2027})
    assert added.status == 303
    page = await admin.get("/admin/law-changes?year_added=2027")
    assert "2027年日历已安装并启用。" in page.text and 'data-year="2027"' in page.text
    after = await admin.get("/admin/law-changes?effective=2027-09-20")
    assert after.status == 200 and "2027-10-19" in after.text
    en = await web_app.sign_in("admin", **{"Accept-Language": "en"})
    assert "Working-day calendar" in (await en.get("/admin/law-changes")).text
    clerk = await web_app.sign_in("disclosure")
    assert (await post(clerk, "/admin/calendar/years", {"toml": YEAR_2027})).status == 403
