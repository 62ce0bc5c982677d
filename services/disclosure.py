"""Disclosure records (公示), legal review (法制审核) and law changes, made executable.

A record links a decision to its case and moves draft → approved → published → (corrected/updated)
→ taken down or revoked (or is withdrawn before publication).  The rules live in ``policy``
(pure); this module keeps the rows and appends one ``disclosure.*`` / ``review.*`` entry per step to
the case's log, with actor and reason, so nothing is ever a silent edit.  The public text is made by
the masking rules at publication and correction and checked for leaks before it is stored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from foundation.errors import CustodyError, Status
from integrity.checkpoint import parse_checkpoint_body
from integrity.errors import IntegrityError
from integrity.hashing import object_key
from integrity.receipt import verify_receipt
from policy import lifecycle, log_state, masking, restriction, review, secrecy
from policy.cases import GOVERNANCE_CASE
from policy.errors import DutiesNotSeparated, PolicyError, ReviewRequired, TreatmentRequired
from policy.takedown import PARTY_TYPES, parse_iso_date, takedown_due
from policy.workdays import WorkCalendar
from services import basic_info, case_access, decisions, evidence, publication_check, retention
from services import calendar as work_calendar
from services.decisions import LogDisagrees
from services.locker import Locker
from services.permissions import authorize
from services.restriction import access_many, require_read
from storage import disclosure_deadlines
from storage import disclosures as rows
from storage.log import Appended, CaseNotFound, Draft
from storage.objects import StoreError, bytes_source
from storage.principals import Principal

REQUIRED = ("decision_no", "party_type", "party_name", "violation", "legal_basis", "penalty", "decision_date")
OPTIONAL_TEXT = ("party_id_no", "party_phone", "party_address", "category")
MAX_FIELD_CHARS = 20_000

logger = logging.getLogger(__name__)


class DisclosureError(CustodyError):
    status = Status.INVALID
    code = "disclosure"


class DisclosureNotFound(DisclosureError):
    status = Status.NOT_FOUND
    code = "disclosure_not_found"


class DecisionExists(DisclosureError):
    status = Status.CONFLICT
    code = "decision_exists"


@dataclass(frozen=True, slots=True)
class Disclosure:
    id: str
    case_id: str
    decision_no: str
    party_type: str
    category: str
    decision_date: dt.date
    record: dict[str, Any]
    public_text: str | None
    public_fields: dict[str, Any] | None
    state: str
    major: list[str]
    review_state: str
    published_on: dt.date | None
    takedown_due: dt.date | None
    ended_on: dt.date | None
    end_reason: str | None
    notice: str | None
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    supersedes: str | None = None
    created_by_id: int | None = None
    approved_by: str | None = None
    approved_by_id: int | None = None
    published_by: str | None = None
    published_by_id: int | None = None
    pending_end: dict[str, Any] | None = None
    secrets_treatment: dict[str, Any] | None = None
    public_size: int | None = None
    public_root: bytes | None = None
    public_checkpoint: str | None = None
    corrected_on: dt.date | None = None
    public_history: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    review_used_seq: int | None = None

    def treatment(self) -> secrecy.Treatment | None:
        """The recorded secrets treatment (trade-secret and privacy cases), if any."""
        return secrecy.from_json(self.secrets_treatment) if self.secrets_treatment else None

    def preview(self) -> masking.PublicText:
        """The public text as it would be published now: the secrets treatment applied, then masking."""
        return masking.public_view(secrecy.apply(self.record, self.treatment()))


def validate_record(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The raw record, checked: required fields, party type, ISO decision date, sizes."""
    record: dict[str, Any] = {}
    for name in REQUIRED + OPTIONAL_TEXT:
        value = fields.get(name)
        if value is None or value == "":
            if name in REQUIRED:
                raise DisclosureError(f"field {name!r} is required")
            continue
        if not isinstance(value, str) or len(value) > MAX_FIELD_CHARS:
            raise DisclosureError(f"field {name!r} must be text of at most {MAX_FIELD_CHARS} characters")
        record[name] = value.strip()
    if record["party_type"] not in PARTY_TYPES:
        raise DisclosureError(f"party_type must be one of {', '.join(PARTY_TYPES)}, not {record['party_type']!r}")
    parse_iso_date(record["decision_date"])
    for name in ("other_names", "excluded_fields", "masked_values"):
        value = fields.get(name) or []
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise DisclosureError(f"field {name!r} must be a list of strings")
        if value:
            record[name] = list(value)
    unknown = set(fields) - set(REQUIRED + OPTIONAL_TEXT + ("other_names", "excluded_fields", "masked_values"))
    if unknown:
        raise DisclosureError(f"unknown fields: {', '.join(sorted(unknown))}")
    return record


def _public(record: Mapping[str, Any], treatment: secrecy.Treatment | None) -> masking.PublicText:
    """The text to publish: the secrets treatment applied, masked, then checked before it is stored."""
    view = masking.public_view(secrecy.apply(record, treatment))
    _personal_data_gate(view, record, treatment)
    return view


def _personal_data_gate(view: masking.PublicText, record: Mapping[str, Any],
                        treatment: secrecy.Treatment | None) -> None:
    """The last line before text goes public, at approval, publication, correction and update: refuse
    rather than publish personal data or a withheld passage.

    Values the record names are checked here; personal data anywhere else in the free text is the
    publication check's (``services.publication_check.require_resolved``, run by every gated step).
    """
    public = view.text + json.dumps(view.fields, ensure_ascii=False)
    if leaked := masking.leaks(public, record):
        raise DisclosureError("the public text would show personal data; edit the record "
                              f"({len(leaked)} value(s) not masked)")
    if withheld := secrecy.leaks(public, treatment):
        raise DisclosureError("the public text still shows a passage the secrets treatment withholds "
                              f"({len(withheld)} passage(s)); withhold the field that repeats it")


async def _store_raw(locker: Locker, case_id: str, disclosure_id: str, record: Mapping[str, Any], actor: str,
                     step: str) -> str:
    """The raw record (personal data) as a text record of the case, and its hash for the log entry.

    The log is permanent and travels in every bundle; the raw fields do not belong in it.  As a case
    record they are stored with the case (§三), read only with a stated purpose, and fall under the
    case's retention like any other record.
    """
    body = json.dumps(record, ensure_ascii=False, sort_keys=True, indent=1).encode()
    added = await locker.add_object(
        case_id, bytes_source(body), kind="record.added", actor=actor,
        fields={"stage": "decision", "file_name": f"disclosure-{disclosure_id}-{step}.json",
                "media_type": "application/json", "title": f"公示记录 {disclosure_id} ({step})"})
    return _object_hash(added.body)


def _preview_text(record: Mapping[str, Any]) -> str | None:
    try:
        return masking.public_view(record).text
    except PolicyError:
        return None


def _row(r: asyncpg.Record) -> Disclosure:
    return Disclosure(**dict(r))


#: The columns a step decides on, checked against the log before each step (``_as_logged``).
GATE_FIELDS = ("state", "major", "review_state")


async def _as_logged(locker: Locker, d: Disclosure) -> Disclosure:
    """``d`` if its state, major criteria and review state are what the case's log says, else refuse.

    The row is a cache of the log: a database edit that drops the major flag or passes a review must
    not let a decision through (issue 14: decide on verified state).  Costs one read of the case's
    ``disclosure.*``/``review.*`` entries.
    """
    entries = await locker.log.entries_of_kinds(d.case_id, ("disclosure.", "review."))
    logged = log_state.fold(json.loads(r.body) for r in entries).disclosures.get(d.id)
    table = {"state": d.state, "major": list(d.major), "review_state": d.review_state}
    if logged is None or any(logged.get(k) != table[k] for k in GATE_FIELDS):
        says = "no entries" if logged is None else {k: logged.get(k) for k in GATE_FIELDS}
        logger.error("INTEGRITY ALARM: disclosure record %s of case %s: the table says %s, the log says %s; "
                     "refusing to act on it (run custody scrub)", d.id, d.case_id, table, says)
        raise LogDisagrees(f"{d.id}: the database row disagrees with the case log ({table} against {says}); "
                           "nothing was done. An administrator should run custody scrub")
    return d


async def get(pool: asyncpg.Pool, disclosure_id: str) -> Disclosure:
    found = await rows.row(pool, disclosure_id)
    if found is None:
        raise DisclosureNotFound(f"no disclosure record {disclosure_id!r}")
    return _row(found)


async def list_records(pool: asyncpg.Pool, *, state: str | None = None, case_id: str | None = None,
                       limit: int = 500, offset: int = 0) -> list[Disclosure]:
    """Every record (no need-to-know filter: for the scheduled jobs; people get ``records_for``)."""
    return [_row(r) for r in await rows.rows(pool, state=state, case_id=case_id, limit=limit, offset=offset)]


# -- need to know (RULES §三): a record is its case's, for whoever may read the case ------------------


async def read(pool: asyncpg.Pool, disclosure_id: str, *, who: Principal) -> Disclosure:
    """One record, for someone who may read its case (else ``Restricted``, 403): its raw fields, its
    preview, its reviews and every field derived from them are the case's material."""
    d = await get(pool, disclosure_id)
    await require_read(pool, d.case_id, who)
    return d


async def visible(pool: asyncpg.Pool, records: list[Disclosure], *, who: Principal) -> tuple[list[Disclosure], int]:
    """The records of ``records`` whose case ``who`` may read, and how many were left out."""
    states = await access_many(pool, {d.case_id for d in records}, who.name)
    shown = [d for d in records if d.case_id in states and states[d.case_id].may_read(who.id)]
    return shown, len(records) - len(shown)


async def records_for(pool: asyncpg.Pool, *, who: Principal, state: str | None = None, case_id: str | None = None,
                      limit: int = 500, offset: int = 0) -> tuple[list[Disclosure], int]:
    """``list_records`` as ``who`` may see it: the records of restricted cases they may not read are
    left out and counted (like verification by hash's ``withheld``)."""
    return await visible(pool, await list_records(pool, state=state, case_id=case_id, limit=limit, offset=offset),
                         who=who)


async def due_for(pool: asyncpg.Pool, today: dt.date, *, who: Principal) -> tuple[Due, int]:
    """``due`` as ``who`` may see it; the second value counts what was left out."""
    found = await due(pool, today)
    takedowns, hidden = await visible(pool, found.takedowns, who=who)
    states = await access_many(pool, {u["case_id"] for u in found.updates}, who.name)
    updates = [u for u in found.updates if u["case_id"] in states and states[u["case_id"]].may_read(who.id)]
    return Due(takedowns, updates), hidden + len(found.updates) - len(updates)


async def case_level(pool: asyncpg.Pool, case_id: str) -> str:
    """The case's restriction level as its log says (``services.case_access``), never the row's."""
    state = await case_access.of_case(pool, case_id)
    if state is None:
        raise CaseNotFound(case_id)
    return str(state.level)


async def record_treatment(locker: Locker, disclosure_id: str, payload: Mapping[str, Any], *,
                           who: Principal) -> Disclosure:
    """Record the secrets treatment (§二 作适当处理) of a draft: what is withheld or rewritten, and why.

    Made by someone who may read the case; the passages themselves are stored with the case as a text
    record (they are the secret), the entry ``disclosure.secrets_treated`` names the fields and the reason.
    """
    authorize(who, "disclosure.treat")
    d = await read(locker.pool, disclosure_id, who=who)
    secrecy.refuse_state_secret(await case_level(locker.pool, d.case_id), "a secrets treatment")
    if d.state != "draft":
        raise DisclosureError(f"{disclosure_id} is {d.state}: the secrets treatment is recorded on a draft, "
                              "before approval")
    treatment = secrecy.check_treatment(payload, d.record, masking.PUBLIC_FIELDS)
    _public(d.record, treatment)  # a treatment that leaves a passage in the public text is refused now
    stored = {**treatment.as_json(), "by": who.actor, "by_id": who.id, "at": dt.datetime.now(dt.UTC).isoformat()}
    body = json.dumps(stored, ensure_ascii=False, sort_keys=True, indent=1).encode()
    added = await locker.add_object(
        d.case_id, bytes_source(body), kind="record.added", actor=who.actor,
        fields={"stage": "decision", "file_name": f"disclosure-{disclosure_id}-secrets-treatment.json",
                "media_type": "application/json", "title": f"公示前保密处理 {disclosure_id}"})
    row = await _update(locker.pool, disclosure_id, d.state, d.updated_at, {"secrets_treatment": stored})
    await locker.log.append(d.case_id, Draft("disclosure.secrets_treated", who.actor, {
        "disclosure": disclosure_id, "decision_no": d.decision_no, **treatment.summary(),
        "treatment_blake3": _object_hash(added.body)}))
    return _row(row)


async def create(locker: Locker, case_id: str, fields: Mapping[str, Any], *, who: Principal) -> Disclosure:
    """A draft record linked to its case (its raw fields are in the case log, never on a public route)."""
    authorize(who, "disclosure.create")
    actor = who.actor
    record = validate_record(fields)
    secrecy.refuse_state_secret(await case_level(locker.pool, case_id), "a disclosure record")
    await require_read(locker.pool, case_id, who)
    determined = await decisions.require_determination(locker.pool, case_id, record["decision_no"])
    major = determined.criteria
    cleared = await decisions.passed_review_seq(locker.pool, case_id, record["decision_no"]) is not None
    disclosure_id = "D-" + secrets.token_hex(5)
    # A withdrawn or revoked record of the same decision is replaced by this one, linked to it.
    supersedes = await rows.superseded(locker.pool, record["decision_no"])
    try:
        row = await rows.insert(
            locker.pool, disclosure_id, case_id, record, party_type=record["party_type"],
            category=record.get("category", ""), decision_date=parse_iso_date(record["decision_date"]),
            created_by=actor, created_by_id=who.id, supersedes=supersedes, major=major,
            review_state=("passed" if cleared else "pending") if major else "none")
    except rows.DecisionRowExists:
        raise DecisionExists(f"decision {record['decision_no']!r} already has a live disclosure record; correct "
                             "it, or withdraw (before publication) or revoke it and draft it again") from None
    raw = await _store_raw(locker, case_id, disclosure_id, record, actor, "created")
    await locker.log.append(case_id, Draft("disclosure.created", actor, {
        "disclosure": disclosure_id, "decision_no": record["decision_no"], "record_blake3": raw,
        "preview": _preview_text(record), **({"supersedes": supersedes} if supersedes else {}),
        # What the row starts with, from the determination and the decision's reviews: scrub folds it.
        **({"major": list(major), "review_state": row["review_state"]} if major else {})}))
    await retention.apply_retention(locker, case_id)  # a decision date starts the ``decision`` clocks
    return _row(row)


async def flag_major(locker: Locker, disclosure_id: str, criteria: list[str], *, who: Principal) -> Disclosure:
    """Flag the decision major by the §四(二) criteria: it now needs a passed legal review."""
    authorize(who, "disclosure.flag_major")
    actor = who.actor
    d = await read(locker.pool, disclosure_id, who=who)
    codes = list(review.check_flag(criteria))
    if d.state not in ("draft",):
        raise DisclosureError(f"only a draft can be flagged major (this record is {d.state})")
    row = await rows.flag_major(locker.pool, disclosure_id, codes)
    await locker.log.append(d.case_id, Draft("disclosure.flagged_major", actor,
                                             {"disclosure": disclosure_id, "criteria": codes}))
    return _row(row)


async def case_handler(pool: asyncpg.Pool, case_id: str) -> str:
    """The case handler as the case's log names it (``role:name``), for display."""
    return (await case_handler_of(pool, case_id))[0]


async def case_handler_of(pool: asyncpg.Pool, case_id: str) -> tuple[str, int | None]:
    """(display name, principal id) of the case handler, as the case's log says (``services.case_access``);
    the id decides, the name is only shown."""
    state = await case_access.of_case(pool, case_id)
    if state is None:
        raise CaseNotFound(case_id)
    return str(state.handler), state.handler_id


#: What a review entry's outcome sets the record's review state to.
_REVIEW_STATES = {"passed": "passed", "failed": "failed", "disputed": "disputed"}
#: A coordinator's decision on a dispute (§四(四)): go ahead (the head answers for it), or the failed
#: review stands.
COORDINATOR_DECISIONS = log_state.COORDINATED


async def record_review(locker: Locker, disclosure_id: str, *, who: Principal, outcome: str,
                        checklist: Mapping[str, bool], opinion: str, decision: str | None = None) -> Disclosure:
    """A legal review: passed, failed (with reasons), disputed (the handling unit disagrees), or
    coordinated (the coordinator — the bureau head — decides a dispute, §四(四)).

    The opinion is stored with the case as a text record (§三: stored together) and the review entry
    points at it.  Nobody who has ever handled the case reviews it, before a handover too.
    """
    action = {"disputed": "review.dispute", "coordinated": "review.coordinate"}.get(outcome, "review.record")
    authorize(who, action)
    reviewer = who.actor
    d = await _as_logged(locker, await read(locker.pool, disclosure_id, who=who))
    if not d.major:
        raise DisclosureError(f"{disclosure_id} is not flagged major: no legal review is needed")
    if d.state not in ("draft", "approved", "published"):
        raise DisclosureError(f"{disclosure_id} is {d.state}: there is no decision left to review")
    state = outcome
    if outcome in ("passed", "failed"):
        # Principals by id: the current handler, and anyone who ever handled the case (§四).
        _, handler_id = await case_handler_of(locker.pool, d.case_id)
        review.may_review(who.name, who.name if handler_id is not None and handler_id == who.id else None)
        review.may_review_decision(who.name, who.id, await decisions.handlers_ever(locker, d.case_id))
        review.check_review(outcome, checklist, opinion)
    elif outcome == "disputed":
        if d.review_state != "failed" or not opinion.strip():
            raise DisclosureError("a disagreement is recorded against a failed review, with the reasons")
    elif outcome == "coordinated":
        if d.review_state != "disputed" or decision not in COORDINATOR_DECISIONS or not opinion.strip():
            raise DisclosureError("the coordinator decides a disputed review: proceed or uphold, with the reasons")
        state = COORDINATOR_DECISIONS[decision]
    else:
        raise DisclosureError(f"unknown review outcome {outcome!r}")
    text = (f"法制审核意见 / legal review opinion\n决定 {d.decision_no} ({disclosure_id})\n"
            f"结论 / outcome: {outcome}\n审核人 / by: {reviewer}\n\n{opinion}\n").encode()
    added = await locker.add_object(
        d.case_id, bytes_source(text), kind="record.added", actor=reviewer,
        fields={"stage": "decision", "file_name": f"review-{disclosure_id}-{outcome}.txt",
                "media_type": "text/plain; charset=utf-8", "title": f"法制审核 {outcome}"})
    record_b3 = _object_hash(added.body)
    written: list[Any] = []

    async def review_rows(conn: Any, case: str, seq: int) -> None:  # the review and its state commit with the entry
        await rows.insert_review(conn, disclosure_id, reviewer=reviewer, reviewer_id=who.id, outcome=outcome,
                                 checklist=checklist, opinion=opinion, record_blake3=record_b3, seq=seq,
                                 case_id=case, decision_no=d.decision_no, decision=decision)
        written.append(await rows.set_review_state(conn, disclosure_id, state))

    await locker.log.append(d.case_id, Draft(f"review.{outcome}", reviewer, {
        "disclosure": disclosure_id, "decision_no": d.decision_no, "checklist": dict(checklist),
        "opinion_blake3": record_b3, "opinion": opinion, **({"decision": decision} if decision else {})},
        rows=review_rows))
    return _row(written[0])


def _object_hash(entry_body: bytes) -> str:
    """The object hash an entry names (entries are canonical JSON)."""
    return str(json.loads(entry_body)["blake3"])


async def reviews(pool: asyncpg.Pool, disclosure_id: str) -> list[dict[str, Any]]:
    return await rows.reviews(pool, disclosure_id)


async def transition(locker: Locker, disclosure_id: str, action: str, *, who: Principal, today: dt.date,
                     reason: str | None = None, explanation: str | None = None, takedown_reason: str | None = None,
                     changes: Mapping[str, Any] | None = None, law_change: int | None = None) -> Disclosure:
    """Apply one lifecycle step (approve, publish, correct, update, take_down, revoke, withdraw)."""
    authorize(who, "disclosure.act")
    # Every step is on the case's material (RULES §三), and decided on what the log says of the record.
    d = await _as_logged(locker, await read(locker.pool, disclosure_id, who=who))
    level = await case_level(locker.pool, d.case_id)
    if action in ("approve", "publish", "correct", "update"):
        secrecy.refuse_state_secret(level, f"{lifecycle.ACTIONS[action][0]} {disclosure_id}")
    if action == "approve" and secrecy.needs_treatment(level) and d.treatment() is None:
        raise TreatmentRequired(
            f"{disclosure_id} belongs to a {restriction.label(level)} case: record its secrets treatment (which "
            "fields or passages are withheld or rewritten, and why) before it is approved (§二: 作适当处理后公开)")
    lifecycle.check_duties(action, actor=who.actor, drafter=d.created_by, approver=d.approved_by,
                           separate=locker.separate_duties)
    review_seq = await _review_for(locker, d, action, changes)
    if action == "update":
        await _check_law_change(locker.pool, d, law_change)
    if lifecycle.needs_second_person(action, major=bool(d.major), separate=locker.separate_duties,
                                     takedown_reason=takedown_reason or (d.pending_end or {}).get("takedown_reason")):
        pending = d.pending_end
        if not pending or pending.get("action") != action:
            return await _request_end(locker, d, action, who=who, today=today, reason=reason,
                                      explanation=explanation, takedown_reason=takedown_reason)
        if pending["by"] == who.actor:
            raise DutiesNotSeparated(f"{who.actor} asked for this {lifecycle.ACTIONS[action][0]}: another person "
                                     "confirms the end of a major decision (§二, CUSTODY_SEPARATE_DUTIES)")
        reason = reason or pending.get("reason")
        explanation = explanation or pending.get("explanation")
        takedown_reason = takedown_reason or pending.get("takedown_reason")
    return await _transition(locker, disclosure_id, action, actor=who.actor, today=today, reason=reason,
                             explanation=explanation, takedown_reason=takedown_reason, changes=changes,
                             law_change=law_change, actor_id=who.id, review_seq=review_seq)


async def _check_law_change(pool: asyncpg.Pool, d: Disclosure, law_change: int | None) -> None:
    """An update answers a recorded law change that touches this record: it names it, and it must exist."""
    if law_change is None:
        raise DisclosureError("an update names the law change it answers (law_change); a correction that "
                              "answers none is a correction")
    if not await rows.law_change_touches(pool, law_change, d.id):
        raise DisclosureError(f"law change {law_change} is unknown or does not touch {d.id}")


#: Fields whose correction changes the substance of a reviewed major decision (penalty, legal basis,
#: facts, party): it needs a new passed review (§四).
SUBSTANTIVE = frozenset({"penalty", "legal_basis", "violation", "party_name"})


async def _review_for(locker: Locker, d: Disclosure, action: str, changes: Mapping[str, Any] | None) -> int | None:
    """The passed review a major decision's publication or substantive correction rests on (None when
    none is needed); a substantive correction needs a review newer than the one the public text rests on."""
    if not d.major or action not in ("publish", "correct", "update"):
        return None
    seq = await decisions.passed_review_seq(locker.pool, d.case_id, d.decision_no)
    substantive = sorted(SUBSTANTIVE & {k for k, v in (changes or {}).items() if d.record.get(k) != v})
    if action == "publish" or not substantive:
        return seq if action == "publish" else None
    if seq is None or seq <= (d.review_used_seq if d.review_used_seq is not None else -1):
        raise ReviewRequired(action, d.decision_no, (
            f"decision {d.decision_no} is major and was reviewed: correcting {', '.join(substantive)} changes its "
            "substance and needs a new passed legal review (法制审核) first (§四)"))
    return seq


async def _request_end(locker: Locker, d: Disclosure, action: str, *, who: Principal, today: dt.date,
                       reason: str | None, explanation: str | None, takedown_reason: str | None) -> Disclosure:
    """The first of two people ending a major decision: checked like the step itself, then kept waiting
    for a second person (``disclosure.end_requested``)."""
    lifecycle.plan(d.state, action, reason=reason, explanation=explanation, major=bool(d.major),
                   review_passed=True, today=today, due=d.takedown_due, takedown_reason=takedown_reason,
                   decision_no=d.decision_no)
    pending = {"action": action, "by": who.actor, "by_id": who.id, "at": today.isoformat(), "reason": reason,
               "explanation": explanation, "takedown_reason": takedown_reason}
    row = await _update(locker.pool, d.id, d.state, d.updated_at, {"pending_end": pending})
    await locker.log.append(d.case_id, Draft("disclosure.end_requested", who.actor, {
        "disclosure": d.id, "decision_no": d.decision_no, "action": action,
        **{k: v for k, v in pending.items() if k in ("reason", "explanation", "takedown_reason") and v}}))
    return _row(row)


async def _transition(locker: Locker, disclosure_id: str, action: str, *, actor: str, today: dt.date,
                      reason: str | None = None, explanation: str | None = None, takedown_reason: str | None = None,
                      changes: Mapping[str, Any] | None = None, law_change: int | None = None,
                      actor_id: int = 0, review_seq: int | None = None) -> Disclosure:
    d = await _as_logged(locker, await get(locker.pool, disclosure_id))
    changed = [k for k, v in (changes or {}).items() if d.record.get(k) != v]
    step = lifecycle.plan(d.state, action, reason=reason, explanation=explanation, major=bool(d.major),
                          review_passed=d.review_state == "passed", today=today, due=d.takedown_due,
                          takedown_reason=takedown_reason, changed=changed, decision_no=d.decision_no,
                          decision_date=d.decision_date)
    # Law changes recorded before publication start their 20 working days now (refused before any write
    # if the calendar cannot say when that is).
    deadlines = await _publication_deadlines(locker, disclosure_id, today) if action == "publish" else []
    # Publication fails closed: suspected personal data left in the public text blocks the step.
    await publication_check.require_resolved(locker, d.case_id, disclosure_id, action,
                                             secrecy.apply({**d.record, **(changes or {})}, d.treatment()))
    fields: dict[str, Any] = {"disclosure": disclosure_id, "decision_no": d.decision_no, "from": d.state,
                              "to": step.target}
    if reason:
        fields["reason"] = reason
    sets: dict[str, Any] = {"state": step.target}
    if review_seq is not None:
        sets["review_used_seq"] = review_seq
        fields["review_seq"] = review_seq
    if action == "approve":
        sets.update(approved_by=actor, approved_by_id=actor_id)
    if action == "publish":
        view = _public(d.record, d.treatment())
        due = takedown_due(today, d.party_type)
        sets.update(public_text=view.text, public_fields=view.fields, published_on=today, takedown_due=due,
                    published_by=actor, published_by_id=actor_id)
        fields.update(public_text=view.text, published_on=today.isoformat(), takedown_due=due.isoformat())
    elif action in ("correct", "update"):
        assert changes is not None  # plan() refused a step that changes nothing
        await _rewrite(locker, d, action, changes, changed, actor=actor, today=today, sets=sets, fields=fields)
        if law_change is not None:
            fields["law_change"] = law_change
    elif action in ("take_down", "revoke"):
        _end(d, action, today, takedown_reason, explanation, sets=sets, fields=fields)
    row = await _update(locker.pool, disclosure_id, d.state, d.updated_at, sets)
    appended = await locker.log.append(d.case_id, Draft(step.kind, actor, fields))
    if action in ("publish", "correct", "update"):
        row = await _stamp_public(locker, disclosure_id, appended)
    for change_id, title, due_on in deadlines:
        await disclosure_deadlines.set_due(locker.pool, disclosure_id, change_id, due_on)
        await locker.log.append(d.case_id, Draft("disclosure.update_required", actor, {
            "disclosure": disclosure_id, "law_change": change_id, "title": title, "update_due": due_on.isoformat(),
            "from_publication": today.isoformat()}))
    if action == "update":
        await rows.mark_updated(locker.pool, disclosure_id, law_change)
    if action in ("publish", "correct", "update"):
        await retention.apply_retention(locker, d.case_id)  # evidence kept at least to the takedown date
    return _row(row)


async def _publication_deadlines(locker: Locker, disclosure_id: str, today: dt.date
                                 ) -> list[tuple[int, str, dt.date]]:
    """(change, title, deadline) for each law change recorded while this record was not yet public: 20
    working days from publication, and never earlier than the change's own deadline."""
    waiting = await disclosure_deadlines.awaiting(locker.pool, disclosure_id)
    if not waiting:
        return []
    from_publication = work_calendar.of(locker).update_due(today)
    return [(change_id, title, max(own, from_publication)) for change_id, title, own in waiting]


def _end(d: Disclosure, action: str, today: dt.date, takedown_reason: str | None, explanation: str | None, *,
         sets: dict[str, Any], fields: dict[str, Any]) -> None:
    """A takedown or revocation: the end date and reason, the published explanation, who asked for it."""
    sets.update(ended_on=today, end_reason=takedown_reason or "published_in_error", pending_end=None)
    fields["end_reason"] = sets["end_reason"]
    if d.pending_end and d.pending_end.get("action") == action:
        fields["requested_by"] = d.pending_end["by"]
    if explanation:
        sets["notice"] = explanation
        fields["explanation"] = explanation


async def _rewrite(locker: Locker, d: Disclosure, action: str, changes: Mapping[str, Any], changed: list[str], *,
                   actor: str, today: dt.date, sets: dict[str, Any], fields: dict[str, Any]) -> None:
    """A correction or update: the new raw record (stored with the case), its public text, the history."""
    record = validate_record({**d.record, **changes})
    if record["party_type"] != d.party_type or record["decision_no"] != d.decision_no:
        raise DisclosureError("decision number and party type cannot be corrected; revoke and re-create")
    view = _public(record, d.treatment())
    sets.update(record=record, public_text=view.text, public_fields=view.fields,
                decision_date=parse_iso_date(record["decision_date"]), category=record.get("category", ""),
                public_history=[*d.public_history, {"text": d.public_text, "until": today.isoformat(),
                                                    "change": action}])
    if action == "correct":
        sets["corrected_on"] = today
    raw = await _store_raw(locker, d.case_id, d.id, record, actor, action)
    fields.update(changed=sorted(changed), record_blake3=raw, previous_public_text=d.public_text,
                  public_text=view.text)


async def _stamp_public(locker: Locker, disclosure_id: str, appended: Appended) -> Any:
    """Keep the checkpoint as of this change of the public text: the portal shows it, never the live log
    head (issue 14: later activity in the case is nobody's business)."""
    note = appended.checkpoint.decode()
    checkpoint = parse_checkpoint_body(note.split("\n\n", 1)[0] + "\n")
    return await rows.stamp_public(locker.pool, disclosure_id, appended.tree_size, checkpoint.root, note)


async def _update(pool: asyncpg.Pool, disclosure_id: str, expected_state: str, seen: dt.datetime,
                  sets: dict[str, Any]) -> Any:
    # Only if nobody changed the record since it was read: two corrections never overwrite each other.
    row = await rows.update_if_unchanged(pool, disclosure_id, expected_state, seen, sets)
    if row is None:  # someone else moved it first: refuse rather than overwrite their step
        raise DisclosureError(f"{disclosure_id} changed state meanwhile; reload and try again")
    return row


# -- schedules ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Due:
    takedowns: list[Disclosure]            # published, takedown date reached
    updates: list[dict[str, Any]]          # law-change updates not yet made (overdue flagged)


async def due(pool: asyncpg.Pool, today: dt.date) -> Due:
    return Due([_row(r) for r in await rows.due_takedowns(pool, today)], await rows.due_updates(pool, today))


async def take_down_expired(locker: Locker, today: dt.date, *, who: Principal) -> list[Disclosure]:
    """Take down every record whose period has expired (when the admin has enabled it)."""
    authorize(who, "disclosure.sweep")
    actor = who.actor
    done = []
    for d in (await due(locker.pool, today)).takedowns:
        done.append(await _transition(locker, d.id, "take_down", actor=actor, today=today,
                                     reason="period expired", takedown_reason="period_expired"))
    return done


async def record_law_change(locker: Locker, calendar: WorkCalendar, *, title: str, effective: dt.date,
                            categories: list[str], description: str, who: Principal) -> dict[str, Any]:
    """A law/mandate change: every affected published record must be updated within 20 working days."""
    authorize(who, "law_change.add")
    actor = who.actor
    if not title.strip() or not categories:
        raise DisclosureError("a law change needs a title and at least one category of record it touches")
    update_due = calendar.add_working_days(effective, 20)
    await retention.ensure_governance_log(locker)
    change_id, ids, awaiting = await rows.insert_law_change(locker.pool, title=title, effective=effective,
                                                            categories=categories, description=description,
                                                            update_due=update_due, recorded_by=actor)
    # A published record with no category cannot be matched: staff check it by hand (listed, logged).
    unclassified = [] if "*" in categories else await rows.unclassified_published(locker.pool)
    await locker.log.append(GOVERNANCE_CASE, Draft("law.changed", actor, {
        "law_change": change_id, "title": title, "effective": effective.isoformat(), "categories": categories,
        "description": description, "update_due": update_due.isoformat(), "affected": ids,
        "unclassified": unclassified, "awaiting_publication": awaiting}))
    for d in [await get(locker.pool, i) for i in ids + awaiting]:
        # Not yet public: the deadline is set (and logged again) when the record is published.
        due_text = update_due.isoformat() if d.id in ids else None
        await locker.log.append(d.case_id, Draft("disclosure.update_required", actor, {
            "disclosure": d.id, "law_change": change_id, "title": title, "update_due": due_text}))
    # The portal's basic information (§二 行政执法基本信息) of the same categories is updated too.
    pages = await basic_info.mark_for_law_change(locker, change_id, categories, update_due, who=who)
    return {"id": change_id, "update_due": update_due, "affected": ids, "unclassified": unclassified,
            "awaiting_publication": awaiting, "basic_info": pages}


async def law_changes(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    return await rows.law_changes(pool)


# -- the public side ---------------------------------------------------------------------------------


async def published(pool: asyncpg.Pool, *, text: str | None = None, limit: int = 50,
                    offset: int = 0) -> list[dict[str, Any]]:
    """Published records, newest first, masked text only, each with its case's signed checkpoint **as of
    publication** (or of the last change of its public text), never the live log head; ``text``: only
    records whose public text contains it (the masked text: searching it reveals nothing that is not
    already published).

    A restricted case is never named: its records show neither the case id nor the checkpoint note
    (whose origin line names the case), only the tree size and root as of publication.  A corrected
    record shows ``corrected_on`` and the public texts it replaced (``public_history``).
    """
    return [{**dict(r), "checkpoint_root": r["checkpoint_root"].hex() if r["checkpoint_root"] else None}
            for r in await rows.published(pool, text=text, limit=limit, offset=offset)]


async def notices(pool: asyncpg.Pool, *, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """Explanations published when a decision fell (revoked, confirmed illegal, re-made) or in an emergency,
    newest first."""
    # Only what was published: the decision number unless it was excluded from the public text.
    return [{"id": r["id"], "decision_no": (r["public_fields"] or {}).get("decision_no"), "end_reason": r["end_reason"],
             "notice": r["notice"], "ended_on": r["ended_on"]}
            for r in await rows.notices(pool, limit=limit, offset=offset)]


# -- linked evidence ----------------------------------------------------------------------------------


async def check_links(locker: Locker, disclosure_id: str, *, who: Principal) -> dict[str, Any]:
    """One call: the case's evidence exists, re-hashes to its entry now, its proof verifies, and its
    retention reaches the takedown date."""
    authorize(who, "disclosure.check_links")
    d = await read(locker.pool, disclosure_id, who=who)
    linked = await rows.linked_evidence(locker.pool, d.case_id)
    verifiers = locker.keys.verifiers()
    need = retention.day_start(d.takedown_due) if d.takedown_due else None
    items = []
    for r in linked:
        item: dict[str, Any] = {"blake3": r["blake3"], "seq": r["seq"], "kind": r["kind"], "size": r["size"]}
        try:
            result = await locker.store.verify(object_key(r["blake3"]))
            item["exists"] = True
            item["verifies"] = result.ok and result.digest.size == r["size"]
        except StoreError as exc:
            item.update(exists=False, verifies=False, error=str(exc))
        receipt = await locker.receipt(d.case_id, r["seq"])
        try:
            entry = verify_receipt(receipt.as_json(), verifiers)
            item["proof_valid"] = entry.get("blake3") == r["blake3"]
        except IntegrityError as exc:
            item.update(proof_valid=False, proof_error=str(exc))
        item["retain_until"] = r["retain_until"]
        item["retention_covers"] = bool(r["legal_hold"] or r["retention_open"] or need is None or (
            r["retain_until"] is not None and r["retain_until"] >= need))
        item["ok"] = all(item[k] for k in ("exists", "verifies", "proof_valid", "retention_covers"))
        items.append(item)
    await evidence.record_access(locker, d.case_id, who, action="verify",
                                 purpose=f"linked-evidence check for disclosure {disclosure_id}")
    return {"disclosure": disclosure_id, "case": d.case_id, "takedown_due": d.takedown_due,
            "ok": bool(items) and all(i["ok"] for i in items), "items": items}
