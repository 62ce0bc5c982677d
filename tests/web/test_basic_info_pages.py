"""The disclosure desk's basic-information pages on the web (issue 13 item 7), zh and en."""

from __future__ import annotations

import re

from tests.web.conftest import Web
from tests.web.test_disclosure_pages import alert, post

BODY = "行政复议：自知道该行政行为之日起六十日内申请。"


async def test_a_page_is_drafted_approved_and_published_on_the_web(web_app: Web) -> None:
    dora = await web_app.sign_in("disclosure", **{"Accept-Language": "zh-CN"})
    assert "行政执法基本信息" in (await dora.get("/basic-info")).text
    bad = await post(dora, "/basic-info", {"kind": "remedies", "title": "救济", "body": "电话13812345678"})
    assert bad.status == 422 and "personal data" in alert(bad)
    made = await post(dora, "/basic-info", {"kind": "remedies", "title": "救济渠道", "body": BODY, "category": "*"})
    assert made.status == 303
    page = await dora.get("/basic-info")
    m = re.search(r'<tr data-id="(B-[0-9a-f]+)" data-state="draft">', page.text)
    assert m and "救济渠道" in page.text
    pid = m.group(1)
    own = await post(dora, f"/basic-info/{pid}/approve")
    assert own.status == 403 and "another person approves" in alert(own)
    dina = await dora.colleague()
    assert (await post(dina, f"/basic-info/{pid}/approve")).status == 303
    assert (await post(dora, f"/basic-info/{pid}/publish")).status == 303
    assert BODY in (await dora.get("/public")).text
    en = await web_app.sign_in("disclosure", **{"Accept-Language": "en"})
    assert f'data-id="{pid}" data-state="published"' in (await en.get("/basic-info")).text
    assert (await (await web_app.sign_in("investigator")).get("/basic-info")).status == 403
