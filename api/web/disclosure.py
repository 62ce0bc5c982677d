"""Disclosure staff pages (公示): the records and what is due, drafting, one record beside its public
preview with the actions its state allows, and the linked-evidence check.

Every step goes through ``services.disclosure`` exactly as the API's twin does (``api/disclosures.py``),
so each is an attributed ``disclosure.*`` / ``review.*`` entry in the case log.  A refused step
(publishing a major decision before its legal review, a takedown without its explanation ...) shows
the page again with the rule's own message.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from yarl import URL

from api.appkeys import LOCKER, PRINCIPAL
from api.disclosures import ACTIONS
from api.web import forms, i18n
from api.web.forms import Form, FormError, Refused
from api.web.render import page, redirect
from api.web.timeline import Event, describe
from foundation import clock
from policy import lifecycle, masking, secrecy
from policy.errors import PolicyError
from policy.lifecycle import EXPLAINED_TAKEDOWNS, STATES, TAKEDOWN_REASONS, TRANSITIONS
from policy.review import MAJOR_CRITERIA
from policy.takedown import PARTY_TYPES, parse_iso_date
from services import decisions, disclosure, publication_check
from services.disclosure import OPTIONAL_TEXT, REQUIRED, Disclosure
from services.locker import Locker
from services.permissions import DISCLOSURE, HANDLING_SIDE

#: Raw fields in the order the page shows them (the two lists last).
RAW_FIELDS = (*REQUIRED, *OPTIONAL_TEXT, "other_names", "excluded_fields")
#: Fields a correction or update may change: everything but the decision number and party type.
EDITABLE = tuple(f for f in REQUIRED + OPTIONAL_TEXT if f not in ("decision_no", "party_type"))
#: Fields a record may keep from publication (the private ones are never published anyway).
EXCLUDABLE = tuple(masking.PUBLIC_FIELDS)
#: Long text gets a text area.
LONG_FIELDS = frozenset({"violation", "legal_basis", "penalty", "party_address"})
#: ``?done=`` values that show a notice after a step (never free text from the URL).
DONE = frozenset({"treated", "created", "flagged", "approve", "publish", "correct", "update", "take_down", "revoke",
                  "withdraw", "disputed", "resolved"})
#: The form posts this with the excluded-field checkboxes, so "none ticked" is told from "not in the form".
EXCLUDED_SHOWN = "excluded_fields_shown"
#: Records per page of ``/disclosure``.
PAGE_SIZE = 100
#: Due takedowns and updates named in the summary (each kind); the rest are counted.
DUE_SHOWN = 50


@dataclass
class Row:
    """A record in the list, with its schedule: takedown due or overdue, law-change updates outstanding."""

    d: Disclosure
    updates: list[dict[str, Any]] = field(default_factory=list)
    takedown_due_now: bool = False
    takedown_overdue: bool = False

    @property
    def overdue(self) -> bool:
        return self.takedown_overdue or any(u["overdue"] for u in self.updates)


def _as_of(request: web.Request) -> tuple[dt.date, str | None]:
    """The day the schedule is read for: ``?today=YYYY-MM-DD`` (to look ahead or back), else the bureau's today."""
    given = request.query.get("today", "")
    if not given:
        return clock.today(), None
    try:
        return parse_iso_date(given), None
    except PolicyError as exc:
        return clock.today(), str(exc)


def schedule(records: list[Disclosure], due: disclosure.Due, today: dt.date) -> list[Row]:
    """Each record with its outstanding updates and whether its takedown date has come (or passed)."""
    updates: dict[str, list[dict[str, Any]]] = {}
    for update in due.updates:
        updates.setdefault(update["disclosure_id"], []).append(update)
    rows = []
    for d in records:
        due_on = d.takedown_due if d.state == "published" else None  # only a record still up can be due
        rows.append(Row(d, updates.get(d.id, []), takedown_due_now=due_on is not None and due_on <= today,
                        takedown_overdue=due_on is not None and due_on < today))
    return rows


async def records(request: web.Request) -> web.StreamResponse:
    """``/disclosure``: the records with status and schedule, newest first, a page at a time, filtered
    by state; what is due at the top (the first ``DUE_SHOWN`` of each kind named, the rest counted)."""
    pool = request.app[LOCKER].pool
    state = request.query.get("state", "")
    state = state if state in STATES else ""
    asked = request.query.get("page", "1")
    number = int(asked) if asked.isdigit() and 0 < int(asked) <= 100_000 else 1
    today, error = _as_of(request)
    due, due_withheld = await disclosure.due_for(pool, today, who=request[PRINCIPAL])
    found, withheld = await disclosure.records_for(pool, who=request[PRINCIPAL], state=state or None,
                                                   limit=PAGE_SIZE + 1, offset=(number - 1) * PAGE_SIZE)
    rows = schedule(found[:PAGE_SIZE], due, today)
    return page(request, "disclosures.html", {
        "rows": rows, "withheld": withheld + due_withheld, "state": state, "states": list(STATES), "today": today,
        "error": error,
        "due": due, "overdue_updates": sum(1 for u in due.updates if u["overdue"]), "due_shown": DUE_SHOWN,
        "can_act": request[PRINCIPAL].role in DISCLOSURE,
        "page": number, "has_next": len(found) + withheld > PAGE_SIZE,
    }, status=400 if error else 200)


# -- drafting ------------------------------------------------------------------------------------------


def _draft_context(values: dict[str, Any]) -> dict[str, Any]:
    return {"values": values, "party_types": PARTY_TYPES, "excludable": EXCLUDABLE, "long_fields": LONG_FIELDS,
            "error": None}


async def new_form(request: web.Request) -> web.StreamResponse:
    """The draft form; ``?case=`` fills in the case."""
    return page(request, "disclosure_new.html", _draft_context({"case": request.query.get("case", "")[:64]}))


def _record_fields(form: Form) -> dict[str, Any]:
    fields: dict[str, Any] = {name: forms.text(form, name) for name in REQUIRED + OPTIONAL_TEXT}
    others = forms.text_list(forms.text(form, "other_names"))
    excluded = forms.choices(form, "excluded_fields")
    if others:
        fields["other_names"] = others
    if excluded:
        fields["excluded_fields"] = excluded
    return fields


async def create(request: web.Request) -> web.StreamResponse:
    """Save a draft; on a refusal the form comes back filled in, with the reason."""
    form = await request.post()

    async def save() -> Disclosure:
        return await disclosure.create(request.app[LOCKER], forms.text(form, "case", 64), _record_fields(form),
                                       who=request[PRINCIPAL])

    done = await forms.attempt(save())
    if isinstance(done, Refused):
        return page(request, "disclosure_new.html", {**_draft_context(_typed(form)), "error": done.message},
                    status=done.status)
    return redirect(_record_url(done.id, "created"))


def _record_url(disclosure_id: str, done: str) -> str:
    return str(URL.build(path=f"/disclosure/{disclosure_id}", query={"done": done}))


# -- one record ------------------------------------------------------------------------------------------


def available(d: Disclosure, *, pending_updates: bool) -> set[str]:
    """The forms the record's state allows: lifecycle steps, flagging major, recording a disagreement."""
    # a step the review gate stops (§四) is not offered: the page says a review is needed instead
    steps = {action for action, step in TRANSITIONS.items() if d.state in step.source_states
             and not lifecycle.review_blocks(action, major=bool(d.major), review_passed=d.review_state == "passed")}
    if not pending_updates:
        steps.discard("update")  # an update answers a recorded law change
    if d.state == "draft":
        steps.add("major")
    if d.review_state == "failed":
        steps.add("dispute")
    return steps


async def history(locker: Locker, d: Disclosure, t: i18n.Translator, *, withhold_opinions: bool) -> list[Event]:
    """The record's own entries in its case log (``disclosure.*``, ``review.*``), as sentences.

    A legal-review opinion is the case's own text (RULES §三): a viewer who may not read a restricted
    case sees that a review happened and its outcome, not what the reviewer wrote.
    """
    events = []
    for row in await locker.log.entries_of_kinds(d.case_id, ("disclosure.", "review.")):
        entry = json.loads(row.body)
        if entry.get("disclosure") != d.id:
            continue
        if withhold_opinions and "opinion" in entry:
            entry["opinion"] = t("rv.opinion_withheld")
            row = dataclasses.replace(row, body=json.dumps(entry, ensure_ascii=False).encode())
        events.append(describe(row, t))
    return events


async def record_view(request: web.Request, disclosure_id: str, *, error: str | None = None, status: int = 200,
                      failed: str = "", values: dict[str, Any] | None = None,
                      links: dict[str, Any] | None = None) -> web.Response:
    """The record page: raw beside masked, state, history, reviews, and the forms its state allows.

    ``failed`` names the form a refusal came from (it opens again, with ``values`` as typed).
    """
    locker = request.app[LOCKER]
    t = i18n.translator(i18n.choose(request))
    d = await disclosure.read(locker.pool, disclosure_id, who=request[PRINCIPAL])  # RULES §三: the case's
    preview = d.preview()
    leaked = masking.leaks(preview.text + json.dumps(preview.fields, ensure_ascii=False), d.record)
    due = await disclosure.due(locker.pool, clock.today())
    pending = [u for u in due.updates if u["disclosure_id"] == d.id]
    [row] = schedule([d], due, clock.today())
    can_act = request[PRINCIPAL].role in DISCLOSURE
    done = request.query.get("done", "") if request.method == "GET" else ""
    actions = available(d, pending_updates=bool(pending)) if can_act else set()
    level = await disclosure.case_level(locker.pool, d.case_id)
    # The publication check (fails closed at approval and publication): what staff must mask or clear.
    checked = await publication_check.suspects(locker, d.id, who=request[PRINCIPAL]) if can_act else None
    return page(request, "disclosure.html", {
        "checked": checked,
        "d": d, "row": row, "preview": preview, "leaked": len(leaked), "treatment": d.treatment(),
        "determination": await decisions.determination(locker.pool, d.case_id, d.decision_no),
        "level": level, "needs_treatment": secrecy.needs_treatment(level),
        "can_treat": request[PRINCIPAL].role in HANDLING_SIDE and d.state == "draft",
        "treatable": secrecy.TEXT_FIELDS,
        "history": await history(locker, d, t, withhold_opinions=False),
        "reviews": await disclosure.reviews(locker.pool, d.id), "pending": pending,
        "raw_withheld": None, "actions": actions, "can_act": can_act,
        "raw_fields": RAW_FIELDS, "editable": EDITABLE, "excludable": EXCLUDABLE, "long_fields": LONG_FIELDS,
        "criteria": list(MAJOR_CRITERIA), "takedown_reasons": list(TAKEDOWN_REASONS),
        "explained": sorted(EXPLAINED_TAKEDOWNS),
        "error": error, "failed": failed, "values": values or {}, "links": links,
        "notice": t(f"done.{done}") if done in DONE else "",
    }, status=status)


async def show(request: web.Request) -> web.StreamResponse:
    return await record_view(request, request.match_info["id"])


def _changes(form: Form, record: dict[str, Any]) -> dict[str, Any]:
    """The fields a correction form changes (only those in the form, only when they differ)."""
    changes: dict[str, Any] = {}
    for name in EDITABLE:
        if name in form and forms.text(form, name) != str(record.get(name, "")):
            changes[name] = forms.text(form, name)
    if "other_names" in form:
        others = forms.text_list(forms.text(form, "other_names"))
        if others != list(record.get("other_names", [])):
            changes["other_names"] = others
    if EXCLUDED_SHOWN in form:
        excluded = forms.choices(form, "excluded_fields")
        if set(excluded) != set(record.get("excluded_fields", [])):
            changes["excluded_fields"] = excluded
    return changes


def _step_args(action: str, form: Form, d: Disclosure) -> dict[str, Any]:
    """What ``disclosure.transition`` needs for ``action``, from its form."""
    args: dict[str, Any] = {"reason": forms.text(form, "reason", 2000) or None}
    if action == "take_down":
        args.update(takedown_reason=forms.text(form, "takedown_reason", 40) or None,
                    explanation=forms.text(form, "explanation") or None)
    if action in ("correct", "update"):
        args["changes"] = _changes(form, d.record)
    if action == "update":
        chosen = forms.text(form, "law_change", 20)
        if not chosen.isdigit():
            raise FormError("pick the law change this update answers")
        args["law_change"] = int(chosen)
    return args


def _typed(form: Form) -> dict[str, Any]:
    """What the user typed into a refused form, to show it again."""
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "_csrf"} | {
        "excluded_fields": forms.choices(form, "excluded_fields"), "criteria": forms.choices(form, "criteria")}


async def act(request: web.Request) -> web.StreamResponse:
    """One lifecycle step (approve, publish, correct, update, take-down, revoke, withdraw)."""
    action = ACTIONS.get(request.match_info["action"])
    if action is None:
        raise web.HTTPNotFound()
    disclosure_id = request.match_info["id"]
    locker = request.app[LOCKER]
    form = await request.post()
    d = await disclosure.read(locker.pool, disclosure_id, who=request[PRINCIPAL])  # else the restricted page

    async def step() -> Disclosure:
        return await disclosure.transition(locker, disclosure_id, action, who=request[PRINCIPAL],
                                           today=clock.today(), **_step_args(action, form, d))

    done = await forms.attempt(step())
    if isinstance(done, Refused):
        return await record_view(request, disclosure_id, error=done.message, status=done.status, failed=action,
                                 values=_typed(form))
    return redirect(_record_url(disclosure_id, action))


async def flag_major(request: web.Request) -> web.StreamResponse:
    """Flag the decision major by the §四(二) criteria ticked (at least one)."""
    disclosure_id = request.match_info["id"]
    form = await request.post()
    done = await forms.attempt(disclosure.flag_major(request.app[LOCKER], disclosure_id,
                                                     forms.choices(form, "criteria"),
                                                     who=request[PRINCIPAL]))
    if isinstance(done, Refused):
        return await record_view(request, disclosure_id, error=done.message, status=done.status, failed="major",
                                 values=_typed(form))
    return redirect(_record_url(disclosure_id, "flagged"))


async def dispute(request: web.Request) -> web.StreamResponse:
    """The handling side disagrees with a failed legal review: record it (``review.disputed``) with reasons."""
    disclosure_id = request.match_info["id"]
    form = await request.post()
    done = await forms.attempt(disclosure.record_review(
        request.app[LOCKER], disclosure_id, who=request[PRINCIPAL], outcome="disputed", checklist={},
        opinion=forms.text(form, "opinion")))
    if isinstance(done, Refused):
        return await record_view(request, disclosure_id, error=done.message, status=done.status, failed="dispute",
                                 values=_typed(form))
    return redirect(_record_url(disclosure_id, "disputed"))


async def check_links(request: web.Request) -> web.StreamResponse:
    """Check the record's linked evidence now (an access: logged as ``evidence.accessed``) and show the result.

    It lists the case's evidence, so it is for those who may read the case (RULES §三).
    """
    disclosure_id = request.match_info["id"]
    result = await disclosure.check_links(request.app[LOCKER], disclosure_id, who=request[PRINCIPAL])
    return await record_view(request, disclosure_id, links=result)


def _treatment_payload(form: Form, record: dict[str, Any]) -> dict[str, Any]:
    """The treatment form as the service takes it: ticked fields, and one ``passage => replacement`` a
    line (the field is the first text field that holds the passage)."""
    rewritten = []
    for line in forms.text(form, "passages").splitlines():
        passage, _, replacement = line.partition("=>")
        if not passage.strip():
            continue
        where = next((f for f in secrecy.TEXT_FIELDS if passage.strip() in str(record.get(f, ""))), "violation")
        rewritten.append({"field": where, "passage": passage.strip(), "replacement": replacement.strip()})
    return {"withheld": forms.choices(form, "withheld"), "rewritten": rewritten,
            "reason": forms.text(form, "treatment_reason", 2000)}


async def treat(request: web.Request) -> web.StreamResponse:
    """Record the secrets treatment (§二 作适当处理) shown to the approver beside the preview."""
    disclosure_id = request.match_info["id"]
    form = await request.post()
    d = await disclosure.read(request.app[LOCKER].pool, disclosure_id, who=request[PRINCIPAL])
    done = await forms.attempt(disclosure.record_treatment(request.app[LOCKER], disclosure_id,
                                                           _treatment_payload(form, d.record),
                                                           who=request[PRINCIPAL]))
    if isinstance(done, Refused):
        return await record_view(request, disclosure_id, error=done.message, status=done.status, failed="treat",
                                 values=_typed(form))
    return redirect(_record_url(disclosure_id, "treated"))


async def resolve_finding(request: web.Request) -> web.StreamResponse:
    """Resolve one publication-check finding: mask it (a draft) or clear it as not personal data, with why."""
    disclosure_id = request.match_info["id"]
    form = await request.post()
    done = await forms.attempt(publication_check.resolve(
        request.app[LOCKER], disclosure_id, forms.text(form, "finding", 500),
        resolution=forms.text(form, "resolution", 20), reason=forms.text(form, "reason", 2000),
        who=request[PRINCIPAL]))
    if isinstance(done, Refused):
        return await record_view(request, disclosure_id, error=done.message, status=done.status, failed="findings",
                                 values=_typed(form))
    return redirect(_record_url(disclosure_id, "resolved") + "#findings")
