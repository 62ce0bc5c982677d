"""Case handover (承办人变更): the ``cases.handler`` row and its ``case.handed_over`` entry."""

from __future__ import annotations

from policy.handover import check_handover
from services.locker import Locker
from services.restriction import ChangedMeanwhile
from storage import principals
from storage.log import CaseNotFound, Draft


async def hand_over(locker: Locker, case_id: str, to: str, *, actor: str, role: str, reader: str | None,
                    reason: str) -> tuple[str, str]:
    """Make ``to`` (a user's name) the case handler; returns (previous, new) handler as actors.

    ``reader`` is the acting principal's name (None: the operator at the command line, who acts as
    an administrator).  Compare-and-set, so two handovers decided on the same handler cannot both land.
    """
    previous = await locker.pool.fetchval(
        "SELECT coalesce(handler, created_by) FROM cases WHERE id = $1", case_id)
    if previous is None:
        raise CaseNotFound(case_id)
    holder = await principals.by_name(locker.pool, to)
    why = check_handover(role="admin" if reader is None else role, actor=reader or "", handler=previous, to=to,
                         to_role=holder.principal.role if holder else None, reason=reason)
    assert holder is not None
    new = holder.principal.actor
    done = await locker.pool.execute(
        "UPDATE cases SET handler = $3 WHERE id = $1 AND coalesce(handler, created_by) = $2", case_id, previous, new)
    if done.endswith(" 0"):
        raise ChangedMeanwhile(f"the handler of case {case_id} changed meanwhile; reload and try again")
    await locker.log.append(case_id, Draft("case.handed_over", actor, {"from": previous, "to": new, "reason": why}))
    return previous, new
