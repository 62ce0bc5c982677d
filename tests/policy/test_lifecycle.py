"""The disclosure record's state machine: every (state, action) pair, the §四 gate, explained takedowns."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import pytest

from foundation.errors import Status
from policy.errors import PolicyError
from policy.lifecycle import (
    ACTIONS,
    STATES,
    TAKEDOWN_REASONS,
    TRANSITIONS,
    IllegalTransition,
    NotDue,
    NothingChanged,
    ReasonRequired,
    ReviewRequired,
    Transition,
    plan,
)

DUE = date(2028, 3, 15)
# Everything any action could need, so that the table below tests the state alone.
FULL: Mapping[str, Any] = {
    "reason": "文书错字",
    "explanation": "原处罚决定已被复议机关撤销",
    "major": False,
    "review_passed": False,
    "today": DUE,
    "due": DUE,
    "takedown_reason": "decision_revoked",
    "changed": ("penalty",),
}

# (state, action) → target state, or the error raised.  Every pair appears.
TABLE: dict[tuple[str, str], str | type[PolicyError]] = {
    ("draft", "approve"): "approved",
    ("draft", "withdraw"): "withdrawn",
    ("approved", "publish"): "published",
    ("approved", "withdraw"): "withdrawn",
    ("published", "correct"): "published",
    ("published", "update"): "published",
    ("published", "take_down"): "taken_down",
    ("published", "revoke"): "revoked",
}


def _all_pairs() -> list[tuple[str, str, str | type[PolicyError]]]:
    return [(s, a, TABLE.get((s, a), IllegalTransition)) for s in STATES for a in ACTIONS]


@pytest.mark.parametrize(("state", "action", "expected"), _all_pairs())
def test_every_state_and_action(state: str, action: str, expected: str | type[PolicyError]) -> None:
    if isinstance(expected, str):
        t = plan(state, action, **FULL)
        assert t.target == expected
        assert t.kind.startswith("disclosure.")
        return
    with pytest.raises(expected) as e:
        plan(state, action, **FULL)
    assert (e.value.code, e.value.status) == ("illegal_transition", Status.CONFLICT)


@pytest.mark.parametrize(
    ("action", "kind"),
    [
        ("approve", "disclosure.approved"),
        ("publish", "disclosure.published"),
        ("correct", "disclosure.corrected"),
        ("update", "disclosure.updated"),
        ("take_down", "disclosure.taken_down"),
        ("revoke", "disclosure.revoked"),
        ("withdraw", "disclosure.withdrawn"),
    ],
)
def test_log_entry_kinds(action: str, kind: str) -> None:
    assert TRANSITIONS[action].kind == kind


@pytest.mark.parametrize("state", ["draft", "approved"])
def test_revoke_before_publication_points_to_withdraw(state: str) -> None:
    with pytest.raises(IllegalTransition, match="withdraw it instead"):
        plan(state, "revoke", **FULL)


@pytest.mark.parametrize("state", ["taken_down", "revoked", "withdrawn"])
def test_nothing_leaves_a_final_state(state: str) -> None:
    for action in ACTIONS:
        with pytest.raises(IllegalTransition, match=f"a record that is {state}"):
            plan(state, action, **FULL)


def test_illegal_transition_message() -> None:
    with pytest.raises(IllegalTransition, match=r"^cannot publish a record that is taken_down$"):
        plan("taken_down", "publish", **FULL)


@pytest.mark.parametrize(("state", "action"), [("draft", "approve"), ("approved", "publish")])
def test_major_decision_needs_a_passed_review(state: str, action: str) -> None:
    with pytest.raises(ReviewRequired, match="decision 京市监罚〔2026〕12号 is flagged major") as e:
        plan(state, action, **{**FULL, "major": True, "review_passed": False}, decision_no="京市监罚〔2026〕12号")
    assert (e.value.code, e.value.status) == ("review_required", Status.CONFLICT)
    assert plan(state, action, **{**FULL, "major": True, "review_passed": True}).target == TABLE[(state, action)]


def test_review_does_not_gate_other_actions() -> None:
    assert plan("published", "revoke", **{**FULL, "major": True}).target == "revoked"


@pytest.mark.parametrize(
    ("state", "action", "missing"),
    [
        ("published", "correct", "reason"),
        ("published", "update", "reason"),
        ("published", "revoke", "reason"),
        ("draft", "withdraw", "reason"),
        ("approved", "withdraw", "reason"),
    ],
)
@pytest.mark.parametrize("blank", [None, "", "  \n"])
def test_reason_required(state: str, action: str, missing: str, blank: str | None) -> None:
    with pytest.raises(ReasonRequired) as e:
        plan(state, action, **{**FULL, missing: blank})
    assert (e.value.code, e.value.status, e.value.what) == ("reason_required", Status.INVALID, missing)


@pytest.mark.parametrize("action", ["correct", "update"])
def test_correction_keeps_state_and_needs_changes(action: str) -> None:
    t = plan("published", action, **FULL)
    assert (t.target, t.needs_reason) == ("published", True)
    with pytest.raises(NothingChanged):
        plan("published", action, **{**FULL, "changed": ()})


@pytest.mark.parametrize(
    ("today", "allowed"),
    [(date(2028, 3, 14), False), (DUE, True), (date(2028, 3, 16), True), (date(2026, 3, 15), False)],
)
def test_period_expired_takedown_only_when_due(today: date, allowed: bool) -> None:
    kwargs = {**FULL, "takedown_reason": "period_expired", "explanation": None, "today": today}
    if allowed:
        t = plan("published", "take_down", **kwargs)
        assert (t.target, t.needs_explanation) == ("taken_down", False)
    else:
        with pytest.raises(NotDue, match="on or after 2028-03-15") as e:
            plan("published", "take_down", **kwargs)
        assert e.value.status == Status.CONFLICT


def test_period_expired_needs_the_dates() -> None:
    with pytest.raises(PolicyError, match="due date"):
        plan("published", "take_down", **{**FULL, "takedown_reason": "period_expired", "due": None})


@pytest.mark.parametrize("reason", ["decision_revoked", "confirmed_illegal", "ordered_remade", "emergency"])
def test_explained_takedowns(reason: str) -> None:
    # No due date needed: these come down at once, whatever the period.
    kwargs = {**FULL, "takedown_reason": reason, "today": None, "due": None}
    t = plan("published", "take_down", **kwargs)
    assert (t.target, t.needs_explanation) == ("taken_down", True)
    for blank in (None, "", " "):
        with pytest.raises(ReasonRequired, match="explanation") as e:
            plan("published", "take_down", **{**kwargs, "explanation": blank})
        assert e.value.what == "explanation"


@pytest.mark.parametrize(("takedown_reason", "error"), [(None, ReasonRequired), ("tired", PolicyError)])
def test_takedown_reason_must_be_known(takedown_reason: str | None, error: type[PolicyError]) -> None:
    with pytest.raises(error, match="takedown reason"):
        plan("published", "take_down", **{**FULL, "takedown_reason": takedown_reason})


@pytest.mark.parametrize(("state", "action"), [("live", "publish"), ("draft", "delete")])
def test_unknown_state_or_action(state: str, action: str) -> None:
    with pytest.raises(PolicyError, match="unknown disclosure"):
        plan(state, action, **FULL)


def test_tables_are_complete() -> None:
    assert set(TRANSITIONS) == set(ACTIONS)
    assert all(isinstance(t, Transition) and t.target in STATES for t in TRANSITIONS.values())
    assert list(TAKEDOWN_REASONS) == [
        "period_expired",
        "decision_revoked",
        "confirmed_illegal",
        "ordered_remade",
        "emergency",
    ]
    assert [STATES[s][1] for s in STATES] == ["草稿", "已审批", "已公示", "已撤下", "已撤销", "已撤回"]
