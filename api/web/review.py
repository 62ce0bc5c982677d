"""Legal review pages (法制审核, policy §四): the queue of major decisions and the review form.

A decision flagged major waits here until a reviewer passes it; a failed review goes back to the
handling side, which may record a disagreement (on the disclosure page), and returns to the queue.
Only the reviewer role records a review, never the case's own handler: ``services.disclosure``
refuses that (``SelfReview``) and the page shows the rule.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from yarl import URL

from api.appkeys import LOCKER, PRINCIPAL
from api.web import forms, i18n
from api.web.disclosure import RAW_FIELDS
from api.web.forms import FormError, Refused
from api.web.render import page, redirect
from policy import masking
from policy.review import CHECKLIST, OUTCOMES, ChecklistIncomplete
from services import disclosure
from services.disclosure import Disclosure

#: Review states that keep a major decision in the queue.
WAITING = ("pending", "failed", "disputed")
#: Records looked at for the queue (the domain lists records newest first, without a "major" filter).
QUEUE_SCAN_LIMIT = 10_000
#: States in which a review can still change the outcome: before approval and publication, and a
#: published decision whose substance is to be corrected (a correction needs a new passed review).
UNDECIDED = ("draft", "approved", "published")
#: The role that records a review (others with the page's roles may look).
REVIEWER_ROLE = "reviewer"
DONE = frozenset({*OUTCOMES, "coordinated"})


async def queue(request: web.Request) -> web.StreamResponse:
    """``/review``: major decisions whose review is pending, failed or disputed, oldest first."""
    rows, withheld = await disclosure.records_for(request.app[LOCKER].pool, who=request[PRINCIPAL],
                                                  limit=QUEUE_SCAN_LIMIT)
    waiting = sorted((d for d in rows if d.major and d.review_state in WAITING), key=lambda d: d.created_at)
    return page(request, "review_queue.html", {"rows": waiting, "withheld": withheld})


async def review_view(request: web.Request, disclosure_id: str, *, error: str | None = None, status: int = 200,
                      typed: dict[str, Any] | None = None) -> web.Response:
    """The record (raw and masked), its case, past reviews and the §四(三) checklist form."""
    pool = request.app[LOCKER].pool
    t = i18n.translator(i18n.choose(request))
    d = await disclosure.read(pool, disclosure_id, who=request[PRINCIPAL])  # RULES §三: the case's material
    preview = d.preview()
    done = request.query.get("done", "") if request.method == "GET" else ""
    handler, handler_id = await disclosure.case_handler_of(pool, d.case_id)
    return page(request, "review.html", {
        "d": d, "preview": preview, "reviews": await disclosure.reviews(pool, d.id),
        "handler": handler, "own_case": handler_id is not None and handler_id == request[PRINCIPAL].id,
        "checklist": list(CHECKLIST), "raw_fields": RAW_FIELDS,
        "raw_withheld": None, "treatment": d.treatment(),
        # A reviewer may reopen a passed review until the decision is published (new facts, say).
        "can_review": request[PRINCIPAL].role == REVIEWER_ROLE and bool(d.major) and d.state in UNDECIDED,
        "leaked": len(masking.leaks(preview.text + json.dumps(preview.fields, ensure_ascii=False), d.record)),
        "error": error, "typed": typed or {"ticked": [], "opinion": ""},
        "notice": t(f"done.{done}") if done in DONE else "",
    }, status=status)


async def show(request: web.Request) -> web.StreamResponse:
    return await review_view(request, request.match_info["id"])


async def submit(request: web.Request) -> web.StreamResponse:
    """Pass or fail: the button pressed is the outcome; the ticked items are the checklist."""
    disclosure_id = request.match_info["id"]
    form = await request.post()
    ticked = forms.choices(form, "checklist")
    outcome = form.get("outcome")

    async def record() -> Disclosure:
        if outcome not in OUTCOMES:
            raise FormError("press Pass or Fail (审核通过 / 审核未通过)")
        return await disclosure.record_review(
            request.app[LOCKER], disclosure_id, who=request[PRINCIPAL], outcome=str(outcome),
            checklist={code: code in ticked for code in CHECKLIST}, opinion=forms.text(form, "opinion"))

    done = await forms.attempt(record())
    if isinstance(done, Refused):
        opinion = form.get("opinion")
        message = done.message
        if isinstance(done.error, ChecklistIncomplete):
            t = i18n.translator(i18n.choose(request))
            items = t("list.sep").join(t(f"check.{c}") for c in done.error.open_items)
            message = t("review.not_satisfied", items=items)
        return await review_view(request, disclosure_id, error=message, status=done.status,
                                 typed={"ticked": ticked, "opinion": opinion if isinstance(opinion, str) else ""})
    return redirect(str(URL.build(path=f"/review/{disclosure_id}", query={"done": str(outcome)})))


async def coordinate(request: web.Request) -> web.StreamResponse:
    """The coordinator (bureau head) decides a disputed review (§四(四)): proceed, or the failed review stands."""
    disclosure_id = request.match_info["id"]
    form = await request.post()
    decision = form.get("decision")
    done = await forms.attempt(disclosure.record_review(
        request.app[LOCKER], disclosure_id, who=request[PRINCIPAL], outcome="coordinated", checklist={},
        opinion=forms.text(form, "opinion"), decision=decision if isinstance(decision, str) else None))
    if isinstance(done, Refused):
        return await review_view(request, disclosure_id, error=done.message, status=done.status)
    return redirect(str(URL.build(path=f"/review/{disclosure_id}", query={"done": "coordinated"})))
