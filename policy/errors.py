"""Why a policy question was answered "no".

One exception per way a request can break a rule, each a ``ValueError`` (the input is what is wrong)
carrying a stable machine-readable ``code`` and the HTTP ``status`` the API answers with, so the API
maps them by attribute and never parses a message.  Messages name the rule (section of the policy)
so that an officer reading an error learns what to do next.
"""

from __future__ import annotations

from foundation.errors import CustodyError, Status


class PolicyError(CustodyError, ValueError):
    """Base class: a value or a request is not allowed by the policy."""

    code = "policy"
    status = Status.INVALID


class CalendarError(PolicyError):
    """The working-day calendar cannot answer: a date outside its years, or a malformed year file."""

    code = "calendar"
    status = Status.INVALID


class IllegalTransition(PolicyError):
    """The action does not apply to a disclosure record in its current state."""

    code = "illegal_transition"
    status = Status.CONFLICT

    def __init__(self, state: str, action: str, message: str | None = None) -> None:
        self.state = state
        self.action = action
        super().__init__(message or f"cannot {action.replace('_', ' ')} a record that is {state}")


class ReviewRequired(PolicyError):
    """A major decision has no passed legal review (§四: 未经法制审核或者审核未通过的，不得作出决定)."""

    code = "review_required"
    status = Status.CONFLICT

    def __init__(self, action: str, decision_no: str | None = None, message: str | None = None) -> None:
        self.action = action
        self.decision_no = decision_no
        which = f"decision {decision_no}" if decision_no else "this decision"
        super().__init__(message or
            f"{which} is flagged major (§四): it cannot be recorded, approved or published until a legal review "
            "(法制审核) by someone other than the case handler has passed"
        )


class ReasonRequired(PolicyError):
    """An action that must be explained (§二: 作出必要的说明) was asked for without its reason."""

    code = "reason_required"
    status = Status.INVALID

    def __init__(self, action: str, what: str, message: str | None = None) -> None:
        self.action = action
        self.what = what  # "reason", "explanation" or "takedown_reason"
        super().__init__(message or f"{action.replace('_', ' ')} needs a non-empty {what}")


class NothingChanged(PolicyError):
    """A correction or update that names no changed field: §二 wants changes recorded, not empty entries."""

    code = "nothing_changed"
    status = Status.INVALID


class NotDue(PolicyError):
    """A time-based takedown asked for before the 2- or 5-year period has run (§二: 公开满…年的)."""

    code = "not_due"
    status = Status.CONFLICT


class SelfReview(PolicyError):
    """The case handler tried to do the legal review of their own case (§四, RULES.md)."""

    code = "self_review"
    status = Status.FORBIDDEN


class Restricted(PolicyError):
    """A restricted case (§三: 国家秘密、商业秘密、个人隐私) asked for by someone without need to know.

    Carries the case, its level and its handler, so an API answer or a page can say whom to ask.
    """

    code = "restricted"
    status = Status.FORBIDDEN

    def __init__(self, level: str, *, case_id: str | None = None, handler: str | None = None,
                 message: str | None = None) -> None:
        self.level = level
        self.case_id = case_id
        self.handler = handler
        which = f"case {case_id}" if case_id else "this case"
        ask = f"the case handler ({handler})" if handler else "the case handler"
        super().__init__(message or (
            f"{which} is restricted ({level.replace('_', ' ')}): only its handler and people granted access "
            f"may read it; ask {ask} or an administrator for a grant"),
            restriction=level)  # the API's error body names the level


class NotPermitted(PolicyError):
    """The request is one the rules reserve for another role (lowering a case's restriction: an admin)."""

    code = "not_permitted"
    status = Status.FORBIDDEN


class StateSecret(PolicyError):
    """A disclosure step on a record of a state-secret case: never kept or published here (§二, §三)."""

    code = "state_secret"
    status = Status.FORBIDDEN


class TreatmentRequired(PolicyError):
    """Approval of a trade-secret or privacy case's record before its secrets treatment is recorded (§二)."""

    code = "secrets_treatment_required"
    status = Status.CONFLICT


class DutiesNotSeparated(PolicyError):
    """One person doing two steps the policy gives to different responsibilities (§二: 采集、传递、审核、发布)."""

    code = "separation_of_duties"
    status = Status.FORBIDDEN


class DeterminationRequired(PolicyError):
    """A decision recorded, drafted or approved before its §四(二) major-decision determination."""

    code = "determination_required"
    status = Status.CONFLICT
