"""Case handover (承办人变更): the ``cases.handler`` row and its ``case.handed_over`` entry."""

from __future__ import annotations

from policy.handover import check_handover
from services.locker import Locker
from services.permissions import authorize
from services.restriction import ChangedMeanwhile
from storage import principals
from storage.log import CaseNotFound, Draft
from storage.principals import Principal


async def hand_over(locker: Locker, case_id: str, to: str, *, who: Principal, reason: str) -> tuple[str, str]:
    """Make ``to`` (a user's name) the case handler; returns (previous, new) handler as actors.

    Compare-and-set, so two handovers decided on the same handler cannot both land.
    """
    authorize(who, "case.hand_over")
    row = await locker.pool.fetchrow(
        "SELECT coalesce(handler, created_by) AS handler, handler_id FROM cases WHERE id = $1", case_id)
    if row is None:
        raise CaseNotFound(case_id)
    previous, previous_id = row["handler"], row["handler_id"]
    holder = await principals.by_name(locker.pool, to)
    why = check_handover(role=who.role, actor_id=who.id, handler_id=previous_id, to=to,
                         to_id=holder.principal.id if holder else None,
                         to_role=holder.principal.role if holder else None, reason=reason)
    assert holder is not None
    new = holder.principal.actor
    done = await locker.pool.execute(
        """UPDATE cases SET handler = $3, handler_id = $4
            WHERE id = $1 AND handler_id IS NOT DISTINCT FROM $2""", case_id, previous_id, new, holder.principal.id)
    if done.endswith(" 0"):
        raise ChangedMeanwhile(f"the handler of case {case_id} changed meanwhile; reload and try again")
    await locker.log.append(case_id, Draft("case.handed_over", who.actor, {"from": previous, "to": new, "reason": why}))
    return previous, new
