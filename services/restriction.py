"""Restricted-access cases (RULES §三, need to know): a case's level, its grants, who may read it.

The rules are ``policy.restriction`` (pure) and the rows ``storage.access``; this module decides and
appends one ``access.*`` entry per change to the case's log, with actor and reason, so access is never changed
silently: ``access.restricted`` (level, previous, reason), ``access.granted`` and
``access.grant_revoked`` (principal, reason).  ``access`` is the one query the request path asks.

Who acts is given as ``role`` and ``reader``: the acting principal's name, whose own access the rules
ask about, or None for the server's operator at the command line, who holds the machine and its
database and so is not asked need to know (the operator acts as an administrator).
"""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from foundation.errors import CustodyError, Status
from policy import restriction
from policy.errors import Restricted
from policy.restriction import Level
from services import case_access
from services.locker import Locker
from services.permissions import authorize
from storage import access as rows
from storage import principals
from storage.access import CaseAccess as CaseAccess
from storage.access import Grant as Grant
from storage.access import grants as grants
from storage.log import CaseNotFound, Draft
from storage.principals import Principal

#: Roles never asked need to know: a station uploads into a case and reads nothing of it.
UNASKED_ROLES = frozenset({"station"})


class RestrictionError(CustodyError):
    status = Status.INVALID
    code = "restriction"


class GrantExists(RestrictionError):
    status = Status.CONFLICT
    code = "grant_exists"


class GrantNotFound(RestrictionError):
    status = Status.NOT_FOUND
    code = "grant_not_found"


class ChangedMeanwhile(RestrictionError):
    status = Status.CONFLICT
    code = "changed_meanwhile"


async def access(pool: asyncpg.Pool, case_id: str, principal: str) -> CaseAccess | None:
    """(level, handler, granted) of a case for ``principal`` (a name); None: no such case.

    Decided on the case's log (``services.case_access``), never on the ``cases``/``case_grants`` rows.
    """
    return (await access_many(pool, [case_id], principal)).get(case_id)


async def access_many(pool: asyncpg.Pool, case_ids: Iterable[str], principal: str) -> dict[str, CaseAccess]:
    """``access`` for several cases at once (lists: verification by hash, holds, disclosure records)."""
    return {cid: CaseAccess(s.level, s.handler or "", principal in s.grantees, s.handler_id)
            for cid, s in (await case_access.of_cases(pool, case_ids)).items()}


async def _acting(pool: asyncpg.Pool, case_id: str, who: Principal, action: str) -> tuple[CaseAccess, bool]:
    """The case's access state and whether ``who`` may read it, once ``who``'s role may ``action``."""
    authorize(who, action)
    state = await access(pool, case_id, who.name)
    if state is None:
        raise CaseNotFound(case_id)
    return state, state.may_read(who.id)


async def require_read(pool: asyncpg.Pool, case_id: str, who: Principal) -> CaseAccess:
    """Refuse (``Restricted``) unless ``who`` may read ``case_id`` (RULES §三); ``CaseNotFound`` if none.

    Stations are never asked: they upload into a case and read nothing of it.
    """
    state = await access(pool, case_id, who.name)
    if state is None:
        raise CaseNotFound(case_id)
    if who.role not in UNASKED_ROLES and not state.may_read(who.id):
        raise Restricted(state.level, case_id=case_id, handler=state.handler)
    return state


async def set_level(locker: Locker, case_id: str, level: str, *, who: Principal, reason: str) -> tuple[Level, Level]:
    """Change a case's level under the rules; returns (previous, new) and logs ``access.restricted``."""
    new = restriction.parse_level(level)
    state, readable = await _acting(locker.pool, case_id, who, "case.restrict")
    actor, role, reader = who.actor, who.role, who.name
    restriction.check_change(state.level, new, role=role, may_read=readable, reason=reason)
    # Compare-and-set: two changes decided on the same old level cannot both land.
    if not await rows.set_level(locker.pool, case_id, state.level, new):
        raise ChangedMeanwhile(f"the restriction of case {case_id} changed meanwhile; reload and try again")
    await locker.log.append(case_id, Draft("access.restricted", actor, {
        "level": new, "previous": state.level, "reason": reason.strip()}))
    if (state.level == "none" and new != "none" and role == "investigator" and reader
            and not state._replace(level=new).may_read(who.id)):
        # An investigator who restricts an open case is working on it: they keep the access they
        # had, on the record, rather than locking themselves out.  (An admin restricting one is
        # housekeeping, and admins read only by grant.)
        await _grant_row(locker, case_id, reader, actor=actor, reason=f"placed the restriction: {reason.strip()}")
    return state.level, new


async def grant(locker: Locker, case_id: str, grantee: str, *, who: Principal, reason: str) -> Grant:
    """Grant ``grantee`` (a user's name) access to a case; logs ``access.granted``."""
    state, readable = await _acting(locker.pool, case_id, who, "case.grant")
    holder = await principals.by_name(locker.pool, grantee)
    restriction.check_grant(state.level, role=who.role, may_read=readable, grantee=grantee,
                            grantee_role=holder.principal.role if holder else None, reason=reason)
    return await _grant_row(locker, case_id, grantee, actor=who.actor, reason=reason.strip())


async def _grant_row(locker: Locker, case_id: str, grantee: str, *, actor: str, reason: str) -> Grant:
    try:
        row = await rows.insert_grant(locker.pool, case_id, grantee, actor, reason)
    except rows.GrantExists:
        raise GrantExists(f"{grantee} already has access to case {case_id}") from None
    await locker.log.append(case_id, Draft("access.granted", actor, {"principal": grantee, "reason": reason}))
    return row


async def revoke(locker: Locker, case_id: str, grantee: str, *, who: Principal, reason: str) -> Grant:
    """Revoke ``grantee``'s active grant to a case; logs ``access.grant_revoked``."""
    state, readable = await _acting(locker.pool, case_id, who, "case.revoke_grant")
    actor = who.actor
    restriction.check_revoke(state.level, role=who.role, may_read=readable, reason=reason)
    row = await rows.revoke_grant(locker.pool, case_id, grantee, actor, reason.strip())
    if row is None:
        raise GrantNotFound(f"{grantee} has no active grant to case {case_id}")
    await locker.log.append(case_id, Draft("access.grant_revoked", actor, {"principal": grantee,
                                                                           "reason": reason.strip()}))
    return row
