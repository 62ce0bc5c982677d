"""Disclosure, legal review, retention, law-change and public pages over HTTP, through their forms.

Each step posts the form a browser would (with the session's CSRF token) and checks what a user would
notice: the state moves, the case log gains the attributed entry, and a refused step shows the rule's
own message.  Every response of the public portal is scanned for the raw personal data of a record.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from markupsafe import escape

from api.web.i18n import ZH
from policy.review import CHECKLIST, MAJOR_CRITERIA
from services import decisions
from tests.acting import determined
from tests.web.conftest import CASE, PERSONAL, RAW, RECORD, Reply, Visitor, Web

Form = list[tuple[str, str]]


async def post(visitor: Visitor, path: str, form: Form | dict[str, str] | None = None) -> Reply:
    """Post a form as a browser does: repeated names for checkboxes, the session's CSRF token."""
    pairs = list(form.items()) if isinstance(form, dict) else list(form or [])
    return await visitor.request("POST", path, data=[*pairs, ("_csrf", visitor.csrf)])


async def draft(visitor: Visitor, **overrides: str) -> str:
    """A draft made through the form; its id."""
    assert (await visitor.get("/disclosure/new")).status == 200
    decision_no = overrides.get("decision_no", RECORD["decision_no"])
    case = overrides.get("case", CASE)
    if decision_no.strip() and await visitor.site.locker.log.case_exists(case) and not await \
            decisions.determination(visitor.site.locker.pool, case, decision_no):
        await determined(visitor.site.locker, case, decision_no)
    reply = await post(visitor, "/disclosure/new", {"case": CASE, **RECORD, **overrides})
    assert reply.status == 303, (reply.status, alert(reply))
    m = re.fullmatch(r"/disclosure/(D-[0-9a-f]+)\?done=created", reply.location)
    assert m, reply.location
    return m.group(1)


async def published(visitor: Visitor, **overrides: str) -> str:
    rid = await draft(visitor, **overrides)
    for action in ("approve", "publish"):
        who = await visitor.colleague() if action == "approve" else visitor
        reply = await post(who, f"/disclosure/{rid}/{action}")
        assert reply.status == 303, (action, reply.status, alert(reply))
    return rid


def alert(reply: Reply) -> str:
    """The text of the page's alert (the refusal shown to the user), unescaped."""
    m = re.search(r'role="alert"[^>]*>(.*?)</p>', reply.text, re.S)
    return html.unescape(m.group(1)) if m else ""


def state_of(reply: Reply) -> str:
    m = re.search(r'id="record-state" data-state="([a-z_]+)"', reply.text)
    assert m, reply.text[:3000]
    return m.group(1)


async def entries(web_app: Web, case: str = CASE) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in await web_app.locker.log.entries(case)]


def section(reply: Reply, element_id: str) -> str:
    m = re.search(rf'<section[^>]*id="{element_id}".*?</section>', reply.text, re.S)
    assert m, element_id
    return m.group(0)


async def test_draft_approve_publish_correct_and_take_down_through_the_forms(web_app: Web) -> None:
    dora = await web_app.sign_in("disclosure", **{"Accept-Language": "en"})
    blank = await post(dora, "/disclosure/new", {"case": CASE, **RECORD, "penalty": ""})
    assert blank.status == 422 and "'penalty' is required" in alert(blank)
    assert 'value="京朝城管罚字〔2026〕第0421号"' in blank.text  # what was typed comes back
    unknown = await post(dora, "/disclosure/new", {**RECORD, "case": "NO-SUCH"})
    assert unknown.status == 404 and "NO-SUCH" in alert(unknown)

    rid = await draft(dora, other_names="张三")
    page = await dora.get(f"/disclosure/{rid}?done=created")
    assert page.status == 200 and state_of(page) == "draft" and "Draft saved." in page.text
    raw, preview = section(page, "raw-record"), section(page, "public-preview")
    assert "欧阳娜娜" in raw and RAW["party_id_no"] in raw  # staff see the raw record ...
    assert "欧阳**" in preview  # ... beside the masked preview, which shows none of it
    assert not [v for v in PERSONAL if v in preview]
    assert f'href="/cases/{CASE}"' in page.text

    early = await post(dora, f"/disclosure/{rid}/publish")
    assert early.status == 409 and alert(early) == "cannot publish a record that is draft"
    assert (await post(await dora.colleague(), f"/disclosure/{rid}/approve")).status == 303
    assert (await post(dora, f"/disclosure/{rid}/publish")).status == 303
    page = await dora.get(f"/disclosure/{rid}")
    assert state_of(page) == "published" and 'id="act-correct"' in page.text and 'id="act-approve"' not in page.text

    fix = {"penalty": "罚款人民币300元", "violation": RECORD["violation"], "legal_basis": RECORD["legal_basis"]}
    refused = await post(dora, f"/disclosure/{rid}/correct", fix)
    assert refused.status == 422 and alert(refused) == "correct needs a non-empty reason"
    assert "<details class=\"panel action\" id=\"act-correct\" open>" in refused.text
    assert "罚款人民币300元" in section(refused, "actions")  # the correction typed is kept
    same = await post(dora, f"/disclosure/{rid}/correct", {"penalty": RECORD["penalty"], "reason": "x"})
    assert same.status == 422 and "name the fields that change" in alert(same)
    assert (await post(dora, f"/disclosure/{rid}/correct", {**fix, "reason": "amount mistyped"})).status == 303

    unexplained = await post(dora, f"/disclosure/{rid}/take-down", {"takedown_reason": "decision_revoked"})
    assert unexplained.status == 422 and "must publish an explanation" in alert(unexplained)
    notice = "该处罚决定已被人民法院判决撤销。"
    done = await post(dora, f"/disclosure/{rid}/take-down", {"takedown_reason": "decision_revoked",
                                                             "explanation": notice, "reason": "court judgment"})
    assert done.status == 303 and done.location == f"/disclosure/{rid}?done=take_down"
    page = await dora.get(done.location)
    assert state_of(page) == "taken_down" and "Taken down." in page.text and notice in page.text
    assert 'id="act-' not in page.text and "No action applies in this state." in page.text

    log = [e for e in await entries(web_app) if e.get("disclosure") == rid]
    assert [e["kind"] for e in log] == ["disclosure.created", "disclosure.approved", "disclosure.published",
                                        "disclosure.corrected", "disclosure.taken_down"]
    assert [e["actor"] for e in log] == ["disclosure:disclosure", "disclosure:dina", *["disclosure:disclosure"] * 3]
    corrected = log[3]
    assert corrected["reason"] == "amount mistyped" and corrected["changed"] == ["penalty"]
    assert "500元" in corrected["previous_public_text"] and "300元" in corrected["public_text"]
    assert log[4]["explanation"] == notice and log[4]["end_reason"] == "decision_revoked"
    history = section(page, "history")
    assert f"{rid} corrected; reason: amount mistyped" in history
    assert f"{rid} taken down: the penalty decision was revoked" in history

    portal = await web_app.visitor().get("/public")
    assert f'data-id="{rid}"' in section(portal, "notices") and notice in portal.text  # the notice shows ...
    assert f'data-id="{rid}"' not in section(portal, "published")  # ... the record does not


async def test_revoke_a_published_record_and_withdraw_a_draft(web_app: Web) -> None:
    dora = await web_app.sign_in("disclosure", **{"Accept-Language": "zh-CN"})
    rid = await published(dora)
    refused = await post(dora, f"/disclosure/{rid}/revoke")
    assert refused.status == 422 and "reason" in alert(refused)
    assert (await post(dora, f"/disclosure/{rid}/revoke", {"reason": "不应公开：涉及未成年人"})).status == 303
    page = await dora.get(f"/disclosure/{rid}?done=revoke")
    assert state_of(page) == "revoked" and "已撤销。" in page.text and "不应公开而公开" in page.text

    other = await draft(dora, decision_no="京朝城管罚字〔2026〕第0422号")
    early = await post(dora, f"/disclosure/{other}/revoke", {"reason": "x"})
    assert early.status == 409 and "withdraw it instead" in alert(early)
    assert (await post(dora, f"/disclosure/{other}/withdraw", {"reason": "重复录入"})).status == 303
    assert state_of(await dora.get(f"/disclosure/{other}")) == "withdrawn"
    kinds = [e["kind"] for e in await entries(web_app) if e.get("disclosure") in (rid, other)]
    assert kinds.count("disclosure.revoked") == 1 and kinds.count("disclosure.withdrawn") == 1
    assert (await post(dora, f"/disclosure/{rid}/explode")).status == 404


async def test_a_major_decision_waits_for_legal_review(web_app: Web) -> None:
    dora = await web_app.sign_in("disclosure", **{"Accept-Language": "en"})
    rex = await web_app.sign_in("reviewer", **{"Accept-Language": "en"})
    rid = await draft(dora)
    none = await post(dora, f"/disclosure/{rid}/major")
    assert none.status == 422 and "at least one §四(二) criterion" in alert(none)
    flagged = await post(dora, f"/disclosure/{rid}/major", [("criteria", "after_hearing"), ("criteria", "complex")])
    assert flagged.status == 303
    page = await dora.get(f"/disclosure/{rid}")
    assert MAJOR_CRITERIA["after_hearing"][0] in page.text and 'id="review-needed"' in page.text
    assert 'id="act-approve"' not in page.text  # Approve is not offered before a passed review
    refused = await post(await dora.colleague(), f"/disclosure/{rid}/approve")
    assert refused.status == 409 and "法制审核" in alert(refused) and "flagged major" in alert(refused)

    queue = await rex.get("/review")
    assert queue.status == 200 and f'data-id="{rid}"' in queue.text
    form = await rex.get(f"/review/{rid}")
    for code, (en, _) in CHECKLIST.items():
        assert f'value="{code}"' in form.text and escape(en) in form.text
    partial = await post(rex, f"/review/{rid}", [("checklist", "authority"), ("outcome", "passed"),
                                                 ("opinion", "ok")])
    assert partial.status == 422 and "not satisfied: " in alert(partial)
    assert escape(CHECKLIST["procedure"][0]) in alert(partial)
    assert 'value="authority" checked' in partial.text  # the ticks come back
    passed = await post(rex, f"/review/{rid}", [*(("checklist", c) for c in CHECKLIST), ("outcome", "passed"),
                                                ("opinion", "主体合法，程序合法。")])
    assert passed.status == 303 and passed.location == f"/review/{rid}?done=passed"
    assert f'data-id="{rid}"' not in (await rex.get("/review")).text  # it leaves the queue
    assert (await post(await dora.colleague(), f"/disclosure/{rid}/approve")).status == 303

    # The reviewer reopens it (new facts) before publication: publication is refused again.
    failed = await post(rex, f"/review/{rid}", [("outcome", "failed"), ("opinion", "新证据：需补充听证笔录。")])
    assert failed.status == 303
    refused = await post(dora, f"/disclosure/{rid}/publish")
    assert refused.status == 409
    assert "cannot be recorded, approved or published until a legal review (法制审核)" in alert(refused)
    page = await dora.get(f"/disclosure/{rid}")
    assert 'id="act-dispute"' in page.text
    disputed = await post(dora, f"/disclosure/{rid}/dispute", {"opinion": "听证笔录已在卷第3页。"})
    assert disputed.status == 303
    assert (await post(rex, f"/review/{rid}", [*(("checklist", c) for c in CHECKLIST), ("outcome", "passed"),
                                               ("opinion", "补正后通过。")])).status == 303
    assert (await post(dora, f"/disclosure/{rid}/publish")).status == 303
    reviews = await rex.get(f"/review/{rid}")
    assert [m for m in re.findall(r'<tr data-outcome="([a-z]+)"', reviews.text)] == [
        "passed", "failed", "disputed", "passed"]
    log = [e for e in await entries(web_app) if e.get("disclosure") == rid and e["kind"].startswith("review.")]
    assert [(e["kind"], e["actor"]) for e in log] == [
        ("review.passed", "reviewer:reviewer"), ("review.failed", "reviewer:reviewer"),
        ("review.disputed", "disclosure:disclosure"), ("review.passed", "reviewer:reviewer")]


async def test_the_case_handler_may_not_review_it(web_app: Web) -> None:
    await web_app.locker.log.open_case("CASE-R", "investigator:investigator", title="handled by the reviewer",
                                       handler="reviewer:reviewer")
    dora = await web_app.sign_in("disclosure")
    rid = await draft(dora, case="CASE-R", decision_no="R-1")
    assert (await post(dora, f"/disclosure/{rid}/major", {"criteria": "major_rights"})).status == 303
    rex = await web_app.sign_in("reviewer", **{"Accept-Language": "en"})
    page = await rex.get(f"/review/{rid}")
    assert 'id="case-handler">reviewer:reviewer<' in page.text and 'id="own-case"' in page.text
    refused = await post(rex, f"/review/{rid}", [*(("checklist", c) for c in CHECKLIST), ("outcome", "passed"),
                                                 ("opinion", "ok")])
    assert refused.status == 403
    assert alert(refused) == ("reviewer handles this case: a legal review must be by someone other than the case "
                              "handler (§四)")
    assert not [e for e in await entries(web_app, "CASE-R") if e["kind"].startswith("review.")]
    admin = await web_app.sign_in("admin")
    assert 'id="reviewer-only"' in (await admin.get(f"/review/{rid}")).text  # admins look, reviewers review
    assert (await post(admin, f"/review/{rid}", {"outcome": "passed"})).status == 403


async def test_the_public_portal_shows_no_raw_personal_data(web_app: Web) -> None:
    dora = await web_app.sign_in("disclosure")
    rid = await published(dora, other_names="张三",
                          violation=RECORD["violation"] + "证人张三（身份证110105491231002）在场。")
    legal = await published(dora, decision_no="京朝城管罚字〔2026〕第0500号", party_type="legal",
                            party_name="北京某某餐饮有限公司", party_id_no="", party_phone="", party_address="",
                            violation="北京某某餐饮有限公司占道经营。")
    secrets = (*PERSONAL, "张三", "110105491231002")
    replies = [
        await web_app.visitor().get("/public"),
        await web_app.visitor(**{"Accept-Language": "en-US,en;q=0.9"}).get("/public"),
        await web_app.visitor().get("/public?lang=en"),
        await dora.get("/public"),
        await web_app.visitor().get("/public/api/records"),
    ]
    for reply in replies:
        assert reply.status == 200
        leaked = [v for v in secrets if v in reply.text or escape(v) in reply.text]
        assert not leaked, leaked
    zh, en, switched, staff, api = replies
    for page in (zh, en, switched):
        assert f'data-id="{rid}"' in page.text and f'data-id="{legal}"' in page.text
        assert "欧阳**" in page.text and "北京某某餐饮有限公司" in page.text  # a company's name is public
        assert '<nav class="main"' not in page.text and 'id="staff-signin"' in page.text  # no staff nav
        assert "signout" not in page.text
    assert "行政执法结果公示" in zh.text and "自然人" in zh.text and "违法事实" in zh.text
    assert "Enforcement decisions published" in en.text and "natural person" in en.text
    assert "Enforcement decisions published" in switched.text
    assert '<nav class="main"' in staff.text and 'data-nav="/disclosure"' in staff.text  # staff keep their bar
    size, _ = await web_app.locker.log.head(CASE)
    checkpoint = await web_app.locker.log.checkpoint(CASE)
    assert checkpoint.root.hex() in zh.text and f"{checkpoint.size} " in zh.text and checkpoint.size <= size
    assert rid in api.text


async def test_the_records_list_flags_what_is_due_and_overdue(web_app: Web) -> None:
    dora = await web_app.sign_in("disclosure", **{"Accept-Language": "en"})
    rid = await published(dora)
    waiting = await draft(dora, decision_no="京朝城管罚字〔2026〕第0423号")
    admin = await web_app.sign_in("admin", **{"Accept-Language": "en"})
    recorded = await post(admin, "/admin/law-changes", {"title": "《北京市市容环境卫生条例》修订",
                                                        "effective": "2026-09-21", "categories": "市容环境, 交通"})
    assert recorded.status == 303
    page = await admin.get(recorded.location)
    assert "Recorded: updates due by 2026-10-26; 1 published record affected." in page.text
    assert re.search(r'<td class="num">1</td>\s*<td class="num">0</td>', page.text)  # affected, updated

    listing = await dora.get("/disclosure?today=2026-10-27")
    assert "Updates outstanding after law changes: 1, overdue: 1" in listing.text
    row = re.search(rf'<tr data-id="{rid}"[^>]*>.*?</tr>', listing.text, re.S)
    assert row and 'class="overdue"' in row.group(0) and "by 2026-10-26" in row.group(0)
    assert "Published" in listing.text and "natural person" in row.group(0)
    on_time = await dora.get("/disclosure?today=2026-10-26")
    row = re.search(rf'<tr data-id="{rid}"[^>]*>.*?</tr>', on_time.text, re.S)
    assert row and "OVERDUE" not in row.group(0)
    later = await dora.get("/disclosure?today=2031-01-01")  # past the 2-year takedown date too
    assert "Published records past their takedown date: 1" in later.text
    drafts = await dora.get("/disclosure?state=draft")
    assert f'data-id="{waiting}"' in drafts.text and f'data-id="{rid}"' not in drafts.text
    assert (await dora.get("/disclosure?today=27.10.2026")).status == 400

    page = await dora.get(f"/disclosure/{rid}")
    assert 'id="act-update"' in page.text and "by 2026-10-26" in page.text
    change = re.search(r'<option value="(\d+)">', section(page, "actions"))
    assert change
    new_basis = "《北京市市容环境卫生条例》（2026年修订）第二十六条"
    updated = await post(dora, f"/disclosure/{rid}/update", {"law_change": change.group(1), "reason": "新条文",
                                                             "legal_basis": new_basis})
    assert updated.status == 303
    assert "overdue" not in (await dora.get("/disclosure?today=2026-10-27")).text.split('id="disclosures"')[1]
    assert 'id="act-update"' not in (await dora.get(f"/disclosure/{rid}")).text
    log = [e for e in await entries(web_app) if e.get("disclosure") == rid]
    assert [e["kind"] for e in log][-2:] == ["disclosure.update_required", "disclosure.updated"]
    assert log[-1]["law_change"] == int(change.group(1))


async def test_law_changes_compute_the_deadline_and_refuse_dates_beyond_the_calendar(web_app: Web) -> None:
    admin = await web_app.sign_in("admin", **{"Accept-Language": "zh-CN"})
    page = await admin.get("/admin/law-changes?effective=2026-09-21")
    assert page.status == 200 and "2026-09-21 生效：更新期限为 2026-10-26（第 20 个工作日）。" in page.text
    beyond = await admin.get("/admin/law-changes?effective=2031-03-01")
    assert beyond.status == 422 and "outside the working-day calendar" in alert(beyond)
    refused = await post(admin, "/admin/law-changes",
                         {"title": "x", "effective": "2031-03-01", "categories": "市容环境"})
    assert refused.status == 422 and "outside the working-day calendar" in alert(refused)
    assert 'value="2031-03-01"' in refused.text
    no_title = await post(admin, "/admin/law-changes", {"title": "", "effective": "2026-09-21", "categories": "a"})
    assert no_title.status == 422 and alert(no_title)
    assert "尚未记录法律法规变更。" in (await admin.get("/admin/law-changes")).text


async def test_the_linked_evidence_check(web_app: Web) -> None:
    dora = await web_app.sign_in("disclosure", **{"Accept-Language": "en"})
    rid = await published(dora)
    before = len(await entries(web_app))
    page = await post(dora, f"/disclosure/{rid}/links")
    assert page.status == 200 and 'id="links-verdict"' in page.text
    rows = re.findall(r'<tr data-blake3="([0-9a-f]{64})" data-ok="(\d)">', page.text)
    # every object of the case: the recordings and the text records (the raw disclosure record among them)
    assert {b for b, _ in rows} >= set(web_app.objects.values())
    checks = section(page, "links")
    assert checks.count('data-check="exists"><span class="ok">✓') == len(rows)
    assert checks.count('data-check="proof_valid"><span class="ok">✓') == len(rows)
    accessed = (await entries(web_app))[before:]
    assert [(e["kind"], e["action"], e["actor"]) for e in accessed] == [
        ("evidence.accessed", "verify", "disclosure:disclosure")]
    ivy = await web_app.sign_in("investigator")
    assert (await post(ivy, f"/disclosure/{rid}/links")).status == 200  # readers may check too


async def test_an_investigator_sees_disclosures_but_has_no_actions(web_app: Web) -> None:
    dora = await web_app.sign_in("disclosure")
    rid = await draft(dora)
    ivy = await web_app.sign_in("investigator", **{"Accept-Language": "en"})
    listing = await ivy.get("/disclosure")
    assert listing.status == 200 and f'data-id="{rid}"' in listing.text and 'id="new-draft"' not in listing.text
    page = await ivy.get(f"/disclosure/{rid}")
    assert 'id="view-only"' in page.text and 'action="/disclosure/' + rid + '/approve"' not in page.text
    assert (await post(ivy, f"/disclosure/{rid}/approve")).status == 403
    assert (await ivy.get("/disclosure/new")).status == 403
    case = await ivy.get(f"/cases/{CASE}")
    assert f'href="/disclosure/{rid}"' in case.text
    assert f"Disclosure draft {rid} created" in case.text  # the timeline reads disclosure entries too


async def test_retention_classes_case_retention_and_legal_holds(web_app: Web) -> None:
    admin = await web_app.sign_in("admin", **{"Accept-Language": "en"})
    page = await admin.get(f"/admin/retention?case={CASE}")
    assert page.status == 200 and 'data-class="standard"' in page.text
    assert all(f'<tr data-blake3="{b}">' in section(page, "case-retention") for b in web_app.objects.values())
    assert "No evidence is past its retention." in page.text
    assert escape("no case 'NOPE'") in (await admin.get("/admin/retention?case=NOPE")).text

    unexplained = await post(admin, "/admin/retention/classes", {"name": "litigation", "years": "30",
                                                                 "trigger": "case_closed"})
    assert unexplained.status == 422 and "reason is required" in alert(unexplained)
    assert 'value="litigation"' in unexplained.text
    bad = await post(admin, "/admin/retention/classes", {"name": "x", "years": "many", "trigger": "recorded",
                                                         "reason": "r"})
    assert bad.status == 422 and alert(bad) == "Years, months and days are whole numbers, 0 or more."
    saved = await post(admin, "/admin/retention/classes", {"name": "litigation", "years": "30",
                                                           "trigger": "case_closed", "reason": "court order"})
    assert saved.status == 303
    assert 'data-class="litigation"' in (await admin.get(saved.location)).text
    governance = [e["kind"] for e in await entries(web_app, "governance")]
    assert "retention.class_set" in governance

    assigned = await post(admin, f"/cases/{CASE}/retention", {"class": "litigation", "reason": "lawsuit",
                                                              "from": "admin"})
    assert assigned.status == 303 and assigned.location == f"/admin/retention?case={CASE}&done=assigned"
    missing = await post(admin, f"/cases/{CASE}/retention", {"class": "nope", "reason": "x", "from": "admin"})
    assert missing.status == 422 and "no retention class 'nope'" in alert(missing)

    original = web_app.objects["original"]
    placed = await post(admin, "/holds", {"case": CASE, "blake3": original, "reason": "诉讼保全", "from": "admin"})
    assert placed.status == 303
    page = await admin.get(placed.location)
    assert "Legal hold placed." in page.text and "诉讼保全" in section(page, "holds")
    hold = re.search(r'<tr data-hold="(\d+)" data-active="1">', page.text)
    assert hold

    ivy = await web_app.sign_in("investigator", **{"Accept-Language": "en"})
    case = await ivy.get(f"/cases/{CASE}")
    assert 'id="place-hold"' in case.text and "诉讼保全" in section(case, "case-holds")
    refused = await post(ivy, f"/holds/{hold.group(1)}/lift", {"reason": "done", "case": CASE})
    assert refused.status == 403 and "only an admin or its placer" in alert(refused)
    assert 'id="case-id">CASE-1<' in refused.text  # the investigator gets the case page back, not the admin's
    mine = await post(ivy, "/holds", {"case": CASE, "reason": "complaint"})
    assert mine.status == 303 and mine.location == f"/cases/{CASE}?done=hold_placed"
    page = await ivy.get(mine.location)
    mine_id = re.findall(r'<tr data-hold="(\d+)">', section(page, "case-holds"))[-1]
    assert (await post(ivy, f"/holds/{mine_id}/lift", {"reason": "withdrawn", "case": CASE})).status == 303
    lifted = await post(admin, f"/holds/{hold.group(1)}/lift", {"reason": "judgment final", "from": "admin",
                                                                "case": CASE})
    assert lifted.status == 303
    page = await admin.get(lifted.location)
    assert "Legal hold lifted." in page.text and "judgment final" in page.text
    dora = await web_app.sign_in("disclosure")
    assert (await post(dora, "/holds", {"case": CASE, "reason": "x"})).status == 403
    assert (await dora.get("/admin/retention")).status == 403
    kinds = [e["kind"] for e in await entries(web_app)]
    assert kinds.count("hold.placed") == 2 and kinds.count("hold.lifted") == 2
    assert "retention.assigned" in kinds

    closed = await post(admin, f"/cases/{CASE}/close", {"reason": "结案", "from": "admin"})
    assert closed.status == 303
    again = await post(admin, f"/cases/{CASE}/close", {"reason": "again", "from": "admin"})
    assert again.status == 422 and "already closed" in alert(again)


def test_every_new_string_is_translated() -> None:
    for key in ("state.published", "action.take_down", "takedown.emergency", "party.natural", "check.facts",
                "criterion.complex"):
        assert ZH[key]
    assert ZH["party.natural"] == "自然人" and ZH["state.taken_down"] == "已撤下" and ZH["action.withdraw"] == "撤回"
    assert ZH["field.decision_no"] == "决定文号" and ZH["hold.title"] == "法律保全"


async def test_the_record_list_pages_and_the_due_summary_counts_what_it_does_not_name(
    web_app: Web, monkeypatch: Any
) -> None:
    import api.web.disclosure as pages

    monkeypatch.setattr(pages, "PAGE_SIZE", 2)
    monkeypatch.setattr(pages, "DUE_SHOWN", 1)
    dora = await web_app.sign_in("disclosure")
    made = [await published(dora, decision_no=f"京朝城管罚字〔2020〕第05{i:02d}号", decision_date="2020-01-02")
            for i in range(5)]
    ids = lambda reply: re.findall(r'<tr data-id="(D-[0-9a-f]+)"', reply.text)  # noqa: E731
    first = await dora.get("/disclosure")
    assert len(ids(first)) == 2 and 'id="next-page"' in first.text and 'id="prev-page"' not in first.text
    seen = ids(first) + ids(await dora.get("/disclosure?page=2")) + ids(last := await dora.get("/disclosure?page=3"))
    assert sorted(seen) == sorted(made)  # every record once across the pages
    assert 'id="next-page"' not in last.text and 'id="prev-page"' in last.text
    assert ids(await dora.get("/disclosure?page=0")) == ids(first)  # a bad page number is the first page
    assert 'href="/disclosure?state=published&amp;page=2"' in (await dora.get("/disclosure?state=published")).text
    # Published today, so due for takedown only years on: look ahead to then.
    later = await dora.get("/disclosure?today=2040-01-01")
    assert later.status == 200
    more = later.text.split('id="more-takedowns"')[1][:80]
    assert "另有 4 条" in more  # five due: one named, four counted (the default language is Chinese)
