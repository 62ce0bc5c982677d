"""Opening a case: the id the policy allows, a handler who may handle it, the first entry of its log.

Also where the reserved governance log (``policy.cases.GOVERNANCE_CASE``) is told apart from cases: it
is not a case, so it is listed only to admins (as the bureau's governance log) and no case form
(hold, grant, restriction, hand-over) applies to it.
"""

from __future__ import annotations

from policy.cases import GOVERNANCE_CASE, check_handler, check_new_case_id
from services.locker import Locker
from services.permissions import ADMIN, authorize
from storage import principals
from storage.log import Appended
from storage.principals import Principal


async def open_case(locker: Locker, case_id: str, *, who: Principal, title: str = "",
                    handler: str | None = None) -> Appended:
    """Open ``case_id`` with ``handler`` (a user's name; default: ``who``) as its handler (承办人).

    The handler reads the case when it is restricted and may not give its decision the legal review,
    so it must be an existing, active investigator (or the administrator who opens it), never free text.
    """
    authorize(who, "case.open")
    check_new_case_id(case_id)
    if handler is None or handler == who.name:
        handled_by, handler_id = who.actor, who.id
    else:
        holder = await principals.by_name(locker.pool, handler)
        check_handler(handler, holder.principal.role if holder else None)
        assert holder is not None
        handled_by, handler_id = holder.principal.actor, holder.principal.id
    return await locker.log.open_case(case_id, who.actor, title=title, handler=handled_by,
                                      handler_id=handler_id if handler_id > 0 else None)


def is_governance(case_id: str) -> bool:
    """Whether ``case_id`` is the bureau's governance log rather than a case."""
    return case_id == GOVERNANCE_CASE


def listed_to(case_id: str, role: str) -> bool:
    """Whether a case list shown to ``role`` includes ``case_id``: the governance log only to admins."""
    return not is_governance(case_id) or role in ADMIN


def case_forms_apply(case_id: str) -> bool:
    """Whether the case forms (holds, grants, restriction, hand-over, retention) apply: not to the governance log."""
    return not is_governance(case_id)
