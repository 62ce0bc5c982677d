"""Restricted-access cases in the staff pages (RULES §三): the 403 page, the lock in search, the forms."""

from __future__ import annotations

import json
import re

from api.access import ACCESS
from services import disclosure, restriction
from storage import principals
from storage.principals import Principal
from tests import acting
from tests.acting import principal
from tests.web.conftest import CASE, RAW, RECORD, Reply, Visitor, Web

TITLE = "Street vending"


async def _as(web_app: Web, name: str) -> Principal:
    """The principal ``name`` as the database holds it (the handler is matched by its id)."""
    holder = await principals.by_name(web_app.locker.pool, name)
    assert holder is not None
    return holder.principal


async def restrict(web_app: Web, level: str = "privacy") -> None:
    """CASE-1 (handled by ``investigator``) restricted; ``outsider`` is an investigator without a grant."""
    _, web_app.tokens["outsider"] = await acting.add_principal(web_app.locker, "outsider", "investigator")
    holder = await principals.by_name(web_app.locker.pool, "investigator")
    assert holder is not None  # the handler acts as itself, by its id
    await restriction.set_level(web_app.locker, CASE, level, who=holder.principal, reason="a minor is filmed")
    web_app.app[ACCESS].clear()


async def post(visitor: Visitor, path: str, form: dict[str, str], *, csrf: bool = True) -> Reply:
    return await visitor.post(path, form, csrf=csrf)


async def test_a_user_without_a_grant_gets_the_restricted_page(web_app: Web) -> None:
    await restrict(web_app)
    visitor = await web_app.sign_in("outsider", **{"Accept-Language": "en"})
    for path in (f"/cases/{CASE}", f"/cases/{CASE}/play/{web_app.objects['original']}"):
        reply = await visitor.get(path)
        assert reply.status == 403, path
        assert 'id="restricted"' in reply.text and 'data-restriction="privacy"' in reply.text
        assert "personal privacy" in reply.text and "investigator:investigator" in reply.text  # whom to ask
        assert TITLE not in reply.text and "CAM7_0001" not in reply.text
        assert 'id="self-grant"' not in reply.text  # that form is an administrator's
    data = await visitor.get(f"/cases/{CASE}/objects/{web_app.objects['original']}?purpose=curious")
    assert data.status == 403 and json.loads(data.body)["error"] == "restricted"
    zh = await web_app.sign_in("outsider", **{"Accept-Language": "zh-CN"})
    assert "个人隐私" in (await zh.get(f"/cases/{CASE}")).text


async def test_search_shows_a_lock_and_no_title(web_app: Web) -> None:
    await restrict(web_app, "trade_secret")
    outsider = await web_app.sign_in("outsider", **{"Accept-Language": "en"})
    reply = await outsider.get("/cases")
    row = re.search(rf'<tr class="restricted" data-case="{CASE}".*?</tr>', reply.text, re.S)
    assert reply.status == 200 and row and "🔒 trade secret" in row.group(0)
    assert TITLE not in reply.text
    assert f'data-case="{CASE}"' not in (await outsider.get("/cases", params={"officer": "officer-7"})).text
    handler = await web_app.sign_in("investigator", **{"Accept-Language": "en"})
    reply = await handler.get("/cases")
    assert TITLE in reply.text and "🔒 trade secret" in reply.text and 'class="restricted"' not in reply.text


async def test_the_grant_and_revoke_forms(web_app: Web) -> None:
    await restrict(web_app)
    handler = await web_app.sign_in("investigator", **{"Accept-Language": "en"})
    page = await handler.get(f"/cases/{CASE}")
    assert page.status == 200 and 'id="restriction-banner"' in page.text and 'id="grant-form"' in page.text
    form = {"principal": "outsider", "reason": "second officer"}
    refused = await post(handler, f"/cases/{CASE}/grants", form, csrf=False)
    assert refused.status == 403 and not await restriction.grants(web_app.locker.pool, CASE)
    reply = await post(handler, f"/cases/{CASE}/grants", form)
    assert reply.status == 303 and reply.location == f"/cases/{CASE}?done=granted"
    page = await handler.get(reply.location)
    assert 'data-principal="outsider"' in page.text and "Access granted." in page.text

    outsider = await web_app.sign_in("outsider")
    assert (await outsider.get(f"/cases/{CASE}")).status == 200
    blank = await post(handler, f"/cases/{CASE}/grants/outsider/revoke", {"reason": ""})
    assert blank.status == 422 and 'id="case-error"' in blank.text
    reply = await post(handler, f"/cases/{CASE}/grants/outsider/revoke", {"reason": "moved to another unit"})
    assert reply.status == 303 and reply.location == f"/cases/{CASE}?done=grant_revoked"
    assert (await outsider.get(f"/cases/{CASE}")).status == 403
    kinds = [(r.kind, json.loads(r.body).get("principal")) for r in await web_app.locker.log.entries(CASE)
             if r.kind.startswith("access.")]
    assert kinds == [("access.restricted", None), ("access.granted", "outsider"),
                     ("access.grant_revoked", "outsider")]
    timeline = (await handler.get(f"/cases/{CASE}")).text
    assert "investigator:investigator granted outsider access to the case; reason: second officer" in timeline


async def test_levels_through_the_form_and_the_admin_self_grant(web_app: Web) -> None:
    await restrict(web_app)
    handler = await web_app.sign_in("investigator", **{"Accept-Language": "en"})
    page = await handler.get(f"/cases/{CASE}")
    offered = re.findall(r'<option value="([a-z_]+)">', re.search(r'id="restriction-form".*?</form>', page.text,
                                                                 re.S).group(0))  # type: ignore[union-attr]
    assert offered == ["trade_secret", "state_secret"]  # an investigator only raises
    lowered = await post(handler, f"/cases/{CASE}/restriction", {"level": "none", "reason": "done"})
    assert lowered.status == 403 and "administrator" in lowered.text
    reply = await post(handler, f"/cases/{CASE}/restriction", {"level": "state_secret", "reason": "annex"})
    assert reply.status == 303
    page = await handler.get(reply.location)
    assert 'data-restriction="state_secret"' in page.text and "classified information system" in page.text

    admin = await web_app.sign_in("admin", **{"Accept-Language": "en"})
    refused = await admin.get(f"/cases/{CASE}")
    assert refused.status == 403 and 'id="self-grant"' in refused.text
    reply = await post(admin, f"/cases/{CASE}/grants", {"principal": "admin", "reason": "complaint audit"})
    assert reply.status == 303
    page = await admin.get(f"/cases/{CASE}")
    assert page.status == 200
    offered = re.findall(r'<option value="([a-z_]+)">', re.search(r'id="restriction-form".*?</form>', page.text,
                                                                 re.S).group(0))  # type: ignore[union-attr]
    assert offered == ["none", "privacy", "trade_secret"]  # an administrator may also lower


async def test_a_restricted_case_record_is_for_those_who_may_read_the_case(web_app: Web) -> None:
    """Issue 13 item 1: the record page, the list, the review page and every form follow need to know; a
    grantee sees the raw record, the secrets treatment form, and the treatment beside the preview."""
    d = await disclosure.create(web_app.locker, CASE, RECORD, who=principal("disclosure:disclosure"))
    await restrict(web_app)
    dora = await web_app.sign_in("disclosure", **{"Accept-Language": "en"})
    reply = await dora.get(f"/disclosure/{d.id}")
    assert reply.status == 403 and 'id="restricted"' in reply.text
    assert not any(value in reply.text for value in RAW.values()) and "欧阳**" not in reply.text
    listing = await dora.get("/disclosure")
    assert d.id not in listing.text and 'data-withheld="1"' in listing.text
    for path, form in ((f"/disclosure/{d.id}/correct", {"penalty": "罚款300元", "reason": "typo"}),
                       (f"/disclosure/{d.id}/approve", {}), (f"/disclosure/{d.id}/links", {})):
        refused = await dora.post(path, form)
        assert refused.status == 403 and 'id="restricted"' in refused.text, path
    review = await (await web_app.sign_in("reviewer")).get(f"/review/{d.id}")
    assert review.status == 403 and not any(value in review.text for value in RAW.values())
    await restriction.grant(web_app.locker, CASE, "disclosure", who=await _as(web_app, "investigator"),
                            reason="correcting the record")
    web_app.app[ACCESS].clear()
    reply = await dora.get(f"/disclosure/{d.id}")
    assert 'id="raw-record"' in reply.text and RAW["party_phone"] in reply.text
    assert 'id="treatment-needed"' in reply.text and 'id="act-treat"' in reply.text
    treated = await dora.post(f"/disclosure/{d.id}/secrets-treatment",
                              {"withheld": "legal_basis", "passages": "占道经营 => 违规经营",
                               "treatment_reason": "the street names the minor's home"})
    assert treated.status == 303
    page = await dora.get(f"/disclosure/{d.id}")
    assert 'id="treatment-reason"' in page.text and "the street names the minor&#39;s home" in page.text
    assert 'id="treatment-needed"' not in page.text and "<del>占道经营</del>" in page.text


async def test_hold_forms_never_show_a_restricted_case(web_app: Web) -> None:
    await restrict(web_app)
    outsider = await web_app.sign_in("outsider")
    # A refused form answers with the case page of the posted case, but only one the user may read.
    reply = await post(outsider, "/holds/999999/lift", {"case": CASE, "reason": "x"})
    assert reply.status == 404 and TITLE not in reply.text and 'id="timeline"' not in reply.text
    reply = await post(outsider, "/holds", {"case": CASE, "reason": "x"})
    assert reply.status == 403 and 'id="restricted"' in reply.text
    assert not await web_app.locker.pool.fetchval("SELECT count(*) FROM holds")


async def test_a_review_opinion_is_withheld_like_the_raw_record(web_app: Web) -> None:
    from policy.review import CHECKLIST, MAJOR_CRITERIA

    opinion = "当事人系未成年人，家庭住址须核实 OPINION-7f3a"
    d = await disclosure.create(web_app.locker, CASE, RECORD, who=principal("disclosure:disclosure"))
    await disclosure.flag_major(web_app.locker, d.id, [next(iter(MAJOR_CRITERIA))],
                                who=principal("disclosure:disclosure"))
    await disclosure.record_review(web_app.locker, d.id, who=principal("reviewer:reviewer"), outcome="failed",
                                   checklist={code: False for code in CHECKLIST}, opinion=opinion)
    dora = await web_app.sign_in("disclosure", **{"Accept-Language": "en"})
    assert opinion in (await dora.get(f"/disclosure/{d.id}")).text  # an open case: shown
    await restrict(web_app)
    for path in (f"/disclosure/{d.id}", "/review", f"/review/{d.id}", "/disclosure"):
        reply = await dora.get(path)
        assert "OPINION-7f3a" not in reply.text, path


async def test_the_handler_hands_the_case_over_from_its_page(web_app: Web) -> None:
    _, web_app.tokens["bo"] = await acting.add_principal(web_app.locker, "bo", "investigator")
    ann = await web_app.sign_in("investigator", **{"Accept-Language": "en"})
    page = await ann.get(f"/cases/{CASE}")
    assert 'id="handover-form"' in page.text
    refused = await post(ann, f"/cases/{CASE}/handover", {"to": "station", "reason": "r"})
    assert refused.status == 422 and "investigator" in refused.text  # shown on the case page
    moved = await post(ann, f"/cases/{CASE}/handover", {"to": "bo", "reason": "ann on leave"})
    assert moved.status == 303 and moved.location.endswith("done=handed_over")
    page = await ann.get(moved.location)
    assert "Case handed over." in page.text and 'id="handover-form"' not in page.text  # no longer the handler
    assert "handed the case from investigator:investigator to investigator:bo" in page.text  # the timeline
    bo = await web_app.sign_in("bo", **{"Accept-Language": "en"})
    assert 'id="handover-form"' in (await bo.get(f"/cases/{CASE}")).text
    kinds = [r.kind for r in await web_app.locker.log.entries(CASE)]
    assert kinds.count("case.handed_over") == 1
