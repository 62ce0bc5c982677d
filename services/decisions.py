"""The legal-review gate where the decision is made (法制审核, policy §四).

"未经法制审核或者审核未通过的，不得作出决定": the gate is at the decision itself, not at its publication.
Before a decision is recorded in a case — the 审核决定 stage record, and any disclosure draft of it —
the case handler records the **major-decision determination**: every §四(二) criterion answered, beside
what the product proposes from the facts it sees (``policy.review.propose``).  A major decision is then
recorded, approved or published only after a passed review (or a coordinator's decision to proceed,
§四(四)).  Each determination is a ``decision.determined`` entry in the case log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from foundation.errors import Status
from policy import restriction as restriction_rules
from policy import review
from policy.errors import DeterminationRequired, NotPermitted, PolicyError, ReviewRequired
from services.locker import Locker
from services.permissions import authorize
from services.restriction import require_read
from storage import decisions as rows
from storage import principals
from storage.log import CaseNotFound, Draft
from storage.principals import Principal

logger = logging.getLogger(__name__)


class LogDisagrees(PolicyError):
    """A decision's row says other than the case's log: nothing is decided on it (run custody scrub)."""

    status = Status.CONFLICT
    code = "log_disagrees"


@dataclass(frozen=True, slots=True)
class Determination:
    id: int
    case_id: str
    decision_no: str
    answers: dict[str, bool]
    facts: dict[str, Any]
    proposed: list[str]
    major: bool
    reason: str
    by_actor: str
    by_id: int
    seq: int
    at: Any

    @property
    def criteria(self) -> list[str]:
        return [c for c in review.MAJOR_CRITERIA if self.answers.get(c)]


async def determine(locker: Locker, case_id: str, decision_no: str, *, answers: Mapping[str, Any],
                    facts: Mapping[str, Any], reason: str = "", who: Principal) -> Determination:
    """The case handler's §四(二) determination for one decision; logged as ``decision.determined``."""
    authorize(who, "decision.determine")
    state = await require_read(locker.pool, case_id, who)
    if not restriction_rules.is_handler(who.id, state.handler_id):
        raise NotPermitted(f"the major-decision determination is the case handler's ({state.handler}), "
                           f"not {who.actor}'s (§四)")
    decision_no = (decision_no or "").strip()
    if not decision_no or len(decision_no) > 200:
        raise DeterminationRequired("a determination names its decision (文号, at most 200 characters)")
    proposed = review.propose(facts, restricted=state.level != "none", major_fine_yuan=locker.major_fine_yuan)
    criteria = review.check_determination(answers, proposed, reason)
    written: list[dict[str, Any]] = []

    async def determination_row(conn: Any, case: str, seq: int) -> None:  # commits with the entry
        written.append(await rows.insert_determination(
            conn, case, decision_no, answers=answers, facts=facts, proposed=proposed, major=bool(criteria),
            reason=reason.strip(), by_actor=who.actor, by_id=who.id, seq=seq))

    await locker.log.append(case_id, Draft("decision.determined", who.actor, {
        "decision_no": decision_no, "answers": dict(answers), "facts": dict(facts), "proposed": list(proposed),
        "major": bool(criteria), **({"reason": reason.strip()} if reason.strip() else {})}, rows=determination_row))
    return Determination(**written[0])


async def determination(pool: asyncpg.Pool, case_id: str, decision_no: str) -> Determination | None:
    """The latest determination of a decision, as the case's log records it.

    The ``determinations`` row is a cache: one that says other than the log (an edit that makes a major
    decision ordinary) is refused with an alarm, never used.
    """
    found = None
    for seq, body in await rows.logged(pool, case_id, "decision.determined"):
        entry = json.loads(body)
        if entry.get("decision_no") == decision_no:
            found = (seq, entry)
    row = await rows.latest_determination(pool, case_id, decision_no)
    if found is None and row is None:
        return None
    if found is None or row is None or row["seq"] != found[0] or bool(row["major"]) != bool(found[1].get("major")):
        logger.error("INTEGRITY ALARM: case %s, decision %r: the determinations table disagrees with the "
                     "case log; refusing to decide on it (run custody scrub)", case_id, decision_no)
        raise LogDisagrees(f"decision {decision_no!r} of case {case_id}: the determination in the database "
                           "disagrees with the case log; nothing was done. An administrator should run custody scrub")
    return Determination(**row)


async def require_determination(pool: asyncpg.Pool, case_id: str, decision_no: str) -> Determination:
    found = await determination(pool, case_id, decision_no)
    if found is None:
        raise DeterminationRequired(
            f"decision {decision_no!r} of case {case_id} has no major-decision determination: the case handler "
            "records it first (§四(二), POST /api/v1/cases/{case}/determinations, custody decision determine)")
    return found


async def passed_review_seq(pool: asyncpg.Pool, case_id: str, decision_no: str) -> int | None:
    """The log seq of the review that lets the decision go ahead now (the latest review passed, or a
    coordinator decided to proceed), else None: read from the case's ``review.*`` entries, never from
    the ``reviews`` rows, so a review row written into the database passes nothing."""
    latest: tuple[int, dict[str, Any]] | None = None
    for seq, body in await rows.logged(pool, case_id, "review."):
        entry = json.loads(body)
        if entry.get("decision_no") == decision_no:
            latest = (seq, entry)
    if latest is None:
        return None
    seq, entry = latest
    ok = entry["kind"] == "review.passed" or (entry["kind"] == "review.coordinated"
                                              and entry.get("decision") == "proceed")
    return seq if ok else None


async def require_cleared(pool: asyncpg.Pool, case_id: str, decision_no: str) -> None:
    """Refuse recording a decision that has no determination, or is major without a passed review."""
    found = await require_determination(pool, case_id, decision_no)
    if found.major and await passed_review_seq(pool, case_id, decision_no) is None:
        raise ReviewRequired("record", decision_no)


async def handlers_ever(locker: Locker, case_id: str) -> set[int]:
    """The principal id of everyone who has handled the case: the handler it was opened with and each
    handover's both ends.  An entry from before ids were logged names ``role:name``: the principal it
    named at that time (principals are never renamed or deleted)."""
    ids: set[int | None] = set()
    for row in await locker.log.entries_of_kinds(case_id, ("case.opened", "case.handed_over")):
        entry = json.loads(row.body)
        if row.kind == "case.opened":
            named = [("handler_id", entry.get("handler") or entry.get("actor"))]
        else:
            named = [("from_id", entry.get("from")), ("to_id", entry.get("to"))]
        for key, actor in named:
            if key in entry:
                ids.add(entry[key] if isinstance(entry[key], int) else None)
            elif isinstance(actor, str):
                ids.add(await principals.id_named(locker.pool, actor, str(entry.get("time"))))
    if not ids and not await locker.log.case_exists(case_id):
        raise CaseNotFound(case_id)
    return {i for i in ids if i is not None}
