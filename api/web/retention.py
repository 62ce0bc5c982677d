"""Retention (留存期限) and legal holds (法律保全): the admin page, and the forms investigators share.

Role sets are the API's (``api/routes.py``): retention classes are changed by ADMIN; assigning a class,
closing a case and placing or lifting a hold are INVESTIGATORS' (investigator and admin), and lifting
is further limited to the hold's placer or an admin by ``services.retention``.  The hold forms are on
this page and on the case page; a form says which page it came from (``from=admin``), and the answer
goes back there: the next page on success, the same page with the refusal's message otherwise.  Only
an admin ever gets the admin page back.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from yarl import URL

from api.access import readable, require_read, withheld
from api.appkeys import LOCKER, PRINCIPAL
from api.web import cases, forms, i18n
from api.web.forms import Form, Refused
from api.web.render import error_page, page, redirect
from policy.retention import DEFAULT_CLASSES, TRIGGERS, RetentionClass
from services import retention
from storage.log import CaseNotFound

#: The disposition preview lists at most this many objects of each kind (the counts are exact).
PREVIEW_ROWS = 200
DONE = frozenset({"class", "assigned", "closed", "hold_placed", "hold_lifted"})
REASON_MAX_CHARS = 2000
HOLD_ID_MAX_DIGITS = 18  # hold ids are PostgreSQL bigints


async def retention_view(request: web.Request, *, error: str | None = None, status: int = 200,
                         case_id: str | None = None, typed: dict[str, str] | None = None) -> web.Response:
    """Classes, one case's retention (``?case=``), every legal hold, and what disposition would do now."""
    locker = request.app[LOCKER]
    t = i18n.translator(i18n.choose(request))
    case_id = (request.query.get("case", "") if case_id is None else case_id).strip()[:64]
    objects: list[dict[str, Any]] | None = None
    lookup_error = ""
    if case_id:
        if not await locker.log.case_exists(case_id):
            lookup_error = str(CaseNotFound(case_id))
        elif level := await withheld(request, case_id):  # RULES §三: an admin needs a grant too
            lookup_error = t("access.lookup_withheld", case=case_id, level=t(f"restriction.{level}"))
        else:
            objects = await retention.case_objects(locker.pool, case_id)
    report = await retention.plan_disposition(locker)
    done = request.query.get("done", "") if request.method == "GET" else ""
    holds = await retention.list_holds(locker.pool, None, active_only=False)
    shown = await readable(request, {h.case_id for h in holds})  # a hold's reason is its case's
    return page(request, "retention.html", {
        "classes": await retention.list_classes(locker.pool), "triggers": TRIGGERS,
        "class_words": _class_words(t),
        "holds": [h for h in holds if h.case_id in shown],
        "holds_withheld": sum(1 for h in holds if h.case_id not in shown),
        "case_id": case_id, "objects": objects, "lookup_error": lookup_error,
        "would": report.disposed[:PREVIEW_ROWS], "would_count": len(report.disposed),
        "held": report.held[:PREVIEW_ROWS], "held_count": len(report.held),
        "error": error, "typed": typed or {}, "notice": t(f"done.{done}") if done in DONE else "",
    }, status=status)


async def show(request: web.Request) -> web.StreamResponse:
    return await retention_view(request)


async def set_class(request: web.Request) -> web.StreamResponse:
    """Create or change a retention class (a governance-log entry, with the reason)."""
    form = await request.post()
    t = i18n.translator(i18n.choose(request))

    async def save() -> None:
        bad = t("ret.bad_number")
        cls = RetentionClass(name=forms.text(form, "name", 64), years=forms.count(form, "years", bad),
                             months=forms.count(form, "months", bad), days=forms.count(form, "days", bad),
                             trigger=forms.text(form, "trigger", 20),  # type: ignore[arg-type]  # checked by the class
                             description=forms.text(form, "description", 500))
        await retention.set_class(request.app[LOCKER], cls, who=request[PRINCIPAL],
                                  reason=forms.text(form, "reason", REASON_MAX_CHARS))

    done = await forms.attempt(save())
    if isinstance(done, Refused):
        return await retention_view(request, error=done.message, status=done.status, typed=_typed(form))
    return redirect("/admin/retention?done=class")


def _typed(form: Form) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "_csrf"}


async def _answer(request: web.Request, form: Form, case_id: str, result: object, done: str) -> web.StreamResponse:
    """Back to the page the form came from: onward on success, the same page with the refusal otherwise."""
    to_admin = form.get("from") == "admin" and request[PRINCIPAL].role == "admin"
    if isinstance(result, Refused):
        if to_admin:
            return await retention_view(request, error=result.message, status=result.status, case_id=case_id,
                                        typed=_typed(form))
        # The case page only for a case this user may read: the form's ``case`` is whatever was posted.
        if case_id and await request.app[LOCKER].log.case_exists(case_id) and not await withheld(request, case_id):
            return await cases.case_view(request, case_id, error=result.message, status=result.status)
        return error_page(request, result.status, result.message)
    if to_admin:
        return redirect(str(URL("/admin/retention").with_query(case=case_id, done=done)))
    return redirect(str(URL(f"/cases/{case_id}").with_query(done=done)))


async def assign(request: web.Request) -> web.StreamResponse:
    """Assign a class to the case or one item of it (the longest applicable period wins)."""
    case_id = request.match_info["case"]
    form = await request.post()
    result = await forms.attempt(retention.assign_class(
        request.app[LOCKER], case_id, forms.text(form, "class", 64), blake3=forms.text(form, "blake3", 64) or None,
        who=request[PRINCIPAL], reason=forms.text(form, "reason", REASON_MAX_CHARS)))
    return await _answer(request, form, case_id, result, "assigned")


async def close(request: web.Request) -> web.StreamResponse:
    """Record the case as closed: the clocks counted from closure start."""
    case_id = request.match_info["case"]
    form = await request.post()
    result = await forms.attempt(retention.close_case(request.app[LOCKER], case_id, who=request[PRINCIPAL],
                                                      reason=forms.text(form, "reason", REASON_MAX_CHARS)))
    return await _answer(request, form, case_id, result, "closed")


async def place_hold(request: web.Request) -> web.StreamResponse:
    """Hold a case (all its evidence, present and future) or one item of it."""
    form = await request.post()
    case_id = forms.text(form, "case", 64)
    await require_read(request, case_id)  # a refusal is the restricted-case page
    result = await forms.attempt(retention.place_hold(
        request.app[LOCKER], case_id, blake3=forms.text(form, "blake3", 64) or None,
        reason=forms.text(form, "reason", REASON_MAX_CHARS), who=request[PRINCIPAL]))
    return await _answer(request, form, case_id, result, "hold_placed")


async def lift_hold(request: web.Request) -> web.StreamResponse:
    """Lift a hold (its placer or an admin), with the reason."""
    form = await request.post()
    raw = request.match_info["hold"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > HOLD_ID_MAX_DIGITS:
        raise web.HTTPNotFound()
    who = request[PRINCIPAL]
    held = await forms.attempt(retention.get_hold(request.app[LOCKER].pool, int(raw)))
    if isinstance(held, retention.Hold):
        await require_read(request, held.case_id)
    result = await forms.attempt(retention.lift_hold(request.app[LOCKER], int(raw), who=who,
                                                     reason=forms.text(form, "reason", REASON_MAX_CHARS)))
    case_id = result.case_id if isinstance(result, retention.Hold) else forms.text(form, "case", 64)
    return await _answer(request, form, case_id, result, "hold_lifted")


def _class_words(t: i18n.Translator) -> dict[tuple[str, str], str]:
    """The built-in classes' descriptions in the page's language, by (name, description as stored): an
    administrator's own description is shown as they wrote it."""
    return {(c.name, c.description): t(f"retclass.{c.name}") for c in DEFAULT_CLASSES}
