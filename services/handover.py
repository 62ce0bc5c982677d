"""Case handover (承办人变更): the ``cases.handler`` row and its ``case.handed_over`` entry."""

from __future__ import annotations

from policy.handover import check_handover
from services import case_access
from services.locker import Locker
from services.permissions import authorize
from services.restriction import ChangedMeanwhile
from storage import access, principals
from storage.log import CaseNotFound, Draft
from storage.principals import Principal


async def hand_over(locker: Locker, case_id: str, to: str, *, who: Principal, reason: str) -> tuple[str, str]:
    """Make ``to`` (a user's name) the case handler; returns (previous, new) handler as actors.

    Compare-and-set, so two handovers decided on the same handler cannot both land.
    """
    authorize(who, "case.hand_over")
    logged = await case_access.of_case(locker.pool, case_id)  # the handler as the case's log says
    if logged is None:
        raise CaseNotFound(case_id)
    previous, previous_id = str(logged.handler), logged.handler_id
    holder = await principals.by_name(locker.pool, to)
    why = check_handover(role=who.role, actor_id=who.id, handler_id=previous_id, to=to,
                         to_id=holder.principal.id if holder else None,
                         to_role=holder.principal.role if holder else None, reason=reason)
    assert holder is not None
    new = holder.principal.actor
    if not await access.set_handler(locker.pool, case_id, previous, new, holder.principal.id):
        raise ChangedMeanwhile(f"the handler of case {case_id} changed meanwhile; reload and try again")
    await locker.log.append(case_id, Draft("case.handed_over", who.actor, {
        "from": previous, "from_id": previous_id, "to": new, "to_id": holder.principal.id, "reason": why}))
    return previous, new
