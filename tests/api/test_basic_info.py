"""Basic enforcement information over HTTP (issue 13 item 7): staff draft, approve and publish a page,
the portal shows it without sign-in, a law change asks for its update."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.api.test_disclosure_gates import call

BODY = "行政复议：自知道该行政行为之日起六十日内向本级人民政府申请；行政诉讼：六个月内向人民法院起诉。"


async def test_basic_information_pages_over_http(file_api: Api) -> None:
    status, body = await call(file_api, "investigator", "/api/v1/basic-info",
                              {"kind": "remedies", "title": "救济渠道", "body": BODY})
    assert status == 403
    status, body = await call(file_api, "disclosure", "/api/v1/basic-info",
                              {"kind": "nonsense", "title": "救济渠道", "body": BODY})
    assert status == 422
    status, page = await call(file_api, "disclosure", "/api/v1/basic-info",
                              {"kind": "remedies", "title": "救济渠道", "body": BODY, "category": "*"})
    assert status == 201 and page["state"] == "draft"
    base = f"/api/v1/basic-info/{page['id']}"
    status, body = await call(file_api, "disclosure", f"{base}/approve")
    assert status == 403 and body["error"] == "separation_of_duties"
    assert (await call(file_api, "dina", f"{base}/approve"))[0] == 200
    status, body = await call(file_api, "disclosure", f"{base}/publish")
    assert status == 200 and body["state"] == "published"
    status, public = await file_api.call("GET", "/public/api/basic-info")
    assert status == 200 and [p["body"] for p in public["pages"]] == [BODY]
    status, change = await call(file_api, "admin", "/api/v1/law-changes", {
        "title": "职能调整", "effective": "2026-09-21", "categories": ["*"]})
    assert status == 201 and change["basic_info"]["affected"] == [page["id"]]
    status, listed = await file_api.call("GET", "/api/v1/basic-info", "reviewer")
    assert status == 200 and [u["page_id"] for u in listed["updates"]] == [page["id"]]
    status, body = await call(file_api, "disclosure", f"{base}/update",
                              {"body": BODY + "另可申请听证。", "reason": "职能调整", "law_change": change["id"]})
    assert status == 200 and body["public_history"][0]["text"] == BODY
    status, listed = await file_api.call("GET", "/api/v1/basic-info", "reviewer")
    assert listed["updates"] == []
    status, body = await call(file_api, "disclosure", f"{base}/withdraw")
    assert status == 422 and "reason" in body["message"]
