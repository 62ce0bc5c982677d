"""The calendar and law changes over HTTP (issue 13 item 5): a year added through the API or by another
process is used at once; a record approved before a change gets its deadline when it is published."""

from __future__ import annotations

from api.appkeys import SETTINGS
from services import calendar
from services.permissions import operator
from tests.api.conftest import Api
from tests.api.test_disclosure_gates import RECORD, call
from tests.policy.test_workdays import YEAR_2027

YEAR_2028 = YEAR_2027.replace("2027", "2028").replace("2028-09-26", "2028-09-30")


async def test_a_year_added_is_used_at_once(file_api: Api) -> None:
    path = "/api/v1/calendar/add-working-days?date=2027-09-20&n=20"
    status, body = await file_api.call("GET", path, "investigator")
    assert status == 422 and "2027" in body["message"]
    status, body = await call(file_api, "disclosure", "/api/v1/calendar/years", {"toml": YEAR_2027})
    assert status == 403
    status, body = await call(file_api, "admin", "/api/v1/calendar/years", {"toml": "year = 2027\n"})
    assert status == 422 and "holidays" in body["message"]
    status, body = await call(file_api, "admin", "/api/v1/calendar/years", {"toml": YEAR_2027})
    assert status == 201, body
    assert body["year"] == 2027 and body["source"] == "test notice for 2027"
    status, body = await file_api.call("GET", path, "investigator")
    assert status == 200 and body["result"] == "2027-10-19"
    # Another process (`custody calendar add-year`) writes the directory: this server sees it too.
    await calendar.add_year_text(file_api.locker, YEAR_2028, file_api.app[SETTINGS].calendar_dir, who=operator())
    status, body = await file_api.call("GET", "/api/v1/calendar/add-working-days?date=2028-03-01&n=1", "investigator")
    assert status == 200 and body["result"] == "2028-03-02"
    status, body = await file_api.call("GET", "/api/v1/calendar/years", "investigator")
    assert [y["year"] for y in body["years"]][-2:] == [2027, 2028]


async def test_an_approved_record_gets_its_deadline_at_publication(file_api: Api) -> None:
    status, d = await call(file_api, "disclosure", "/api/v1/disclosures", {"case": "CASE-1", **RECORD})
    assert (await call(file_api, "dina", f"/api/v1/disclosures/{d['id']}/approve"))[0] == 200
    status, change = await call(file_api, "admin", "/api/v1/law-changes", {
        "title": "条例修订", "effective": "2026-09-21", "categories": ["市容环境"]})
    assert status == 201 and change["affected"] == [] and change["awaiting_publication"] == [d["id"]]
    status, due = await file_api.call("GET", "/api/v1/disclosure-due?today=2026-10-12", "disclosure")
    assert due["updates"] == []
    publish = f"/api/v1/disclosures/{d['id']}/publish"
    status, body = await call(file_api, "disclosure", publish)
    if status == 422:  # today's 20 working days reach a year the packaged calendar lacks: add it first
        assert "add-year" in body["message"]
        assert (await call(file_api, "admin", "/api/v1/calendar/years", {"toml": YEAR_2027}))[0] == 201
        status, body = await call(file_api, "disclosure", publish)
    assert status == 200, body
    published = body
    status, due = await file_api.call("GET", f"/api/v1/disclosure-due?today={published['published_on']}",
                                      "disclosure")
    [update] = due["updates"]
    assert update["disclosure_id"] == d["id"] and update["due"] > change["update_due"]
