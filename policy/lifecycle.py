"""A disclosure record's life: states, the actions between them, and what each action must carry.

Policy §二 names the paths a published result can take, and RULES.md asks that each be "an explained,
attributed, permanent entry — never a silent edit":

- published in error (不应当公开而公开) → revoked immediately (``revoke``, with the reason);
- wrong or changed (错误或者发生变更) → corrected (``correct``), or updated after a change of law or
  mandate (``update``, within 20 working days, see ``workdays``);
- period run (公开满5年 / 自然人满2年) → may be taken down (``take_down``, ``period_expired``);
- the decision revoked, confirmed illegal or ordered re-made (被依法撤销、确认违法或者要求重新作出) →
  taken down promptly "并作出必要的说明", with an explanation that is itself published;
- serious consequences (可能或者已经造成严重后果) → emergency handling (``take_down``, ``emergency``).

§四 gates the way in: a decision flagged major cannot be approved or published until its legal review
has passed.  A record that never got published leaves by ``withdraw``.

``plan`` answers "may this happen, and what entry does it make?"; recording the entry is the caller's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date

from policy.errors import DutiesNotSeparated
from policy.errors import IllegalTransition as IllegalTransition  # re-exported: plan's errors
from policy.errors import NotDue as NotDue
from policy.errors import NothingChanged as NothingChanged
from policy.errors import PolicyError as PolicyError
from policy.errors import ReasonRequired as ReasonRequired
from policy.errors import ReviewRequired as ReviewRequired

#: State → (English, Chinese).
STATES: Mapping[str, tuple[str, str]] = {
    "draft": ("draft", "草稿"),
    "approved": ("approved", "已审批"),
    "published": ("published", "已公示"),
    "taken_down": ("taken down", "已撤下"),
    "revoked": ("revoked", "已撤销"),
    "withdrawn": ("withdrawn", "已撤回"),
}
INITIAL_STATE = "draft"

#: Action → (English, Chinese).
ACTIONS: Mapping[str, tuple[str, str]] = {
    "approve": ("approve", "审批"),
    "publish": ("publish", "公示"),
    "correct": ("correct", "更正"),
    "update": ("update", "更新"),
    "take_down": ("take down", "撤下"),
    "revoke": ("revoke", "撤销"),
    "withdraw": ("withdraw", "撤回"),
}

#: Takedown reason → (English, Chinese).
#: Steps that rewrite the raw record: only for those who may read its case (RULES §三), like the record.
RAW_ACTIONS = frozenset({"correct", "update"})

TAKEDOWN_REASONS: Mapping[str, tuple[str, str]] = {
    "period_expired": ("the publication period has run", "公开期满撤下"),
    "decision_revoked": ("the penalty decision was revoked", "原行政处罚决定被依法撤销"),
    "confirmed_illegal": ("the penalty decision was confirmed illegal", "原行政处罚决定被确认违法"),
    "ordered_remade": ("the penalty decision must be re-made", "原行政处罚决定被要求重新作出"),
    "emergency": ("emergency handling of serious consequences", "紧急处置"),
}
#: Takedowns that must publish an explanation: §二 "作出必要的说明", and an emergency must say why.
EXPLAINED_TAKEDOWNS = frozenset({"decision_revoked", "confirmed_illegal", "ordered_remade", "emergency"})
#: Upper bound on a reason or explanation, in characters.
TEXT_MAX_CHARS = 20_000


@dataclass(frozen=True, slots=True)
class Transition:
    """One action: where it may start, where it ends, what log entry it makes and what it must carry."""

    action: str
    #: The log entry kind recorded for it (``disclosure.published`` ...).
    kind: str
    source_states: frozenset[str]
    target: str
    #: A free-text reason is required (kept in the log).
    needs_reason: bool
    #: An explanation is required, published with the record as its notice.
    needs_explanation: bool
    #: A decision flagged major needs a passed legal review first (§四).
    needs_review: bool = False
    #: The change must name the fields it changes.
    needs_changes: bool = False


def _t(action: str, kind: str, sources: Collection[str], target: str, **flags: bool) -> Transition:
    flags.setdefault("needs_reason", False)
    flags.setdefault("needs_explanation", False)
    return Transition(action, f"disclosure.{kind}", frozenset(sources), target, **flags)


#: Action → its transition.
TRANSITIONS: Mapping[str, Transition] = {
    t.action: t
    for t in (
        _t("approve", "approved", {"draft"}, "approved", needs_review=True),
        _t("publish", "published", {"approved"}, "published", needs_review=True),
        _t("correct", "corrected", {"published"}, "published", needs_reason=True, needs_changes=True),
        _t("update", "updated", {"published"}, "published", needs_reason=True, needs_changes=True),
        # Whether an explanation is needed depends on the takedown reason; plan() fills it in.
        _t("take_down", "taken_down", {"published"}, "taken_down"),
        _t("revoke", "revoked", {"published"}, "revoked", needs_reason=True),
        _t("withdraw", "withdrawn", {"draft", "approved"}, "withdrawn", needs_reason=True),
    )
}


def _text(value: str | None, action: str, what: str) -> bool:
    """Whether ``value`` is given (non-blank); over-long text is an error."""
    if value is None:
        return False
    if not isinstance(value, str):
        raise PolicyError(f"{action}: {what} must be text")
    if len(value) > TEXT_MAX_CHARS:
        raise PolicyError(f"{action}: the {what} is {len(value)} characters; the limit is {TEXT_MAX_CHARS}")
    return bool(value.strip())


def _illegal(state: str, action: str) -> IllegalTransition:
    if action == "revoke" and state in ("draft", "approved"):
        return IllegalTransition(
            state, action, f"cannot revoke a record that is {state}: it was never published; withdraw it instead"
        )
    if action == "withdraw" and state == "published":
        return IllegalTransition(
            state, action, "cannot withdraw a published record: revoke it (published in error) or take it down"
        )
    return IllegalTransition(state, action)


def _plan_takedown(
    transition: Transition, takedown_reason: str | None, has_explanation: bool, today: date | None, due: date | None
) -> Transition:
    if not takedown_reason:
        raise ReasonRequired(
            "take_down", "takedown_reason", "take down needs a takedown reason: " + ", ".join(TAKEDOWN_REASONS)
        )
    if takedown_reason not in TAKEDOWN_REASONS:
        raise PolicyError(f"unknown takedown reason {takedown_reason!r}; known: {', '.join(TAKEDOWN_REASONS)}")
    if takedown_reason in EXPLAINED_TAKEDOWNS:
        if not has_explanation:
            raise ReasonRequired(
                "take_down",
                "explanation",
                f"a takedown because {TAKEDOWN_REASONS[takedown_reason][0]} must publish an explanation "
                "(§二: 作出必要的说明)",
            )
        return dataclasses.replace(transition, needs_explanation=True)
    if today is None or due is None:
        raise PolicyError("a period_expired takedown needs today's date and the record's takedown due date")
    if today < due:
        raise NotDue(
            f"the publication period has not run: this record may be taken down on or after {due.isoformat()} "
            f"(today is {today.isoformat()})"
        )
    return transition


def plan(
    state: str,
    action: str,
    *,
    reason: str | None,
    explanation: str | None,
    major: bool,
    review_passed: bool,
    today: date | None = None,
    due: date | None = None,
    takedown_reason: str | None = None,
    changed: Collection[str] = (),
    decision_no: str | None = None,
    decision_date: date | None = None,
) -> Transition:
    """Check that ``action`` may be taken on a record in ``state`` with what is given; return its transition.

    ``major``/``review_passed`` are the §四 flag and whether a legal review has passed; ``today`` and
    ``due`` (the takedown due date) are needed for a ``period_expired`` takedown; ``changed`` names the
    fields a correction or update changes; ``decision_no`` only makes messages specific.  Errors, in the
    order checked: ``PolicyError`` (unknown state or action), ``IllegalTransition``, ``ReviewRequired``,
    ``ReasonRequired``, ``NothingChanged``, ``NotDue``.
    """
    if state not in STATES:
        raise PolicyError(f"unknown disclosure state {state!r}; known: {', '.join(STATES)}")
    if action not in TRANSITIONS:
        raise PolicyError(f"unknown disclosure action {action!r}; known: {', '.join(TRANSITIONS)}")
    transition = TRANSITIONS[action]
    if state not in transition.source_states:
        raise _illegal(state, action)
    if review_blocks(action, major=major, review_passed=review_passed):
        raise ReviewRequired(action, decision_no)
    if action == "publish" and decision_date is not None and today is not None and today < decision_date:
        raise NotDue(f"a decision is published on or after the day it is made: {decision_no or 'this decision'} "
                     f"is dated {decision_date.isoformat()} (today is {today.isoformat()})")
    has_reason = _text(reason, action, "reason")
    has_explanation = _text(explanation, action, "explanation")
    if transition.needs_reason and not has_reason:
        raise ReasonRequired(action, "reason")
    if transition.needs_changes and not changed:
        raise NothingChanged(f"{action}: name the fields that change; an entry that changes nothing is not recorded")
    if action == "take_down":
        return _plan_takedown(transition, takedown_reason, has_explanation, today, due)
    return transition


#: Ends of a published major decision that one person asks for and a second confirms (separation of
#: duties); a takedown because the period ran is arithmetic, not a judgement, and is not among them.
TWO_PERSON_ENDS = frozenset({"take_down", "revoke"})


def review_blocks(action: str, *, major: bool, review_passed: bool) -> bool:
    """Whether §四's review gate stops ``action``: a major decision without a passed legal review."""
    transition = TRANSITIONS.get(action)
    return transition is not None and transition.needs_review and major and not review_passed


def check_duties(action: str, *, actor: str, drafter: str, approver: str | None, separate: bool) -> None:
    """§二 gives 采集、传递、审核、发布 to different responsibilities: the drafter never approves their own
    record, and with ``separate`` (the default) the approver does not also publish it."""
    if action == "approve" and actor == drafter:
        raise DutiesNotSeparated(f"{actor} drafted this record: another person approves it (§二: 审核 and 采集 "
                                 "are different responsibilities)")
    if action == "publish" and separate and approver is not None and actor == approver:
        raise DutiesNotSeparated(f"{actor} approved this record: another person publishes it (§二: 审核、发布 by "
                                 "different responsibilities; CUSTODY_SEPARATE_DUTIES)")


def needs_second_person(action: str, *, major: bool, separate: bool, takedown_reason: str | None) -> bool:
    """Whether ending this record is asked by one person and confirmed by another."""
    return separate and major and action in TWO_PERSON_ENDS and takedown_reason != "period_expired"
