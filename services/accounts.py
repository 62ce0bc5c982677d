"""Users and docking stations: creating them, revoking and reissuing their tokens, their display fields.

The token is returned once and stored only as a hash (``storage.principals``).  The operator at the
server's command line may do this too: someone has to create the first administrator.

A user's display name (any script), badge number (执法证号) and unit may change; the login name never
does.  Each change of them is a ``principal.profile_set`` entry in the governance log, naming the
principal by name and id, with the new values, so who was called what, when, stays on record.
"""

from __future__ import annotations

import asyncpg

from policy.people import Profile, check_login_name, check_profile
from services.locker import Locker
from services.permissions import authorize
from services.retention import GOVERNANCE_CASE, ensure_governance_log
from storage import principals
from storage.log import Draft
from storage.principals import Account, Principal, PrincipalNotFound


async def add(pool: asyncpg.Pool, name: str, role: str, *, who: Principal) -> tuple[Principal, str]:
    """Create a user or station; returns it and its token (shown once, never stored)."""
    authorize(who, "principal.add")
    check_login_name(name)
    return await principals.add_principal(pool, name, role, who.actor)


async def set_profile(locker: Locker, name: str, *, display_name: str, badge_no: str, unit: str,
                      who: Principal) -> Profile:
    """Set ``name``'s display fields (checked by ``policy.people``); logged in the governance log.

    Setting the values it already has changes and logs nothing.
    """
    authorize(who, "principal.profile")
    profile = check_profile(display_name, badge_no, unit)
    current = await principals.account(locker.pool, name)
    if current is None:
        raise PrincipalNotFound(f"no principal {name!r}")
    if Profile(current.display_name, current.badge_no, current.unit) == profile:
        return profile
    await ensure_governance_log(locker)
    # the entry first: a change the log does not hold never shows on a page
    await locker.log.append(GOVERNANCE_CASE, Draft("principal.profile_set", who.actor, {
        "principal": current.name, "principal_id": current.id, "role": current.role, **profile.as_fields()}))
    await principals.set_profile(locker.pool, name, profile.display_name, profile.badge_no, profile.unit)
    return profile


async def people(pool: asyncpg.Pool) -> list[Account]:
    """Every user and station with its display fields (for lists that show people by name)."""
    return await principals.accounts(pool)


async def revoke(pool: asyncpg.Pool, name: str, *, who: Principal) -> None:
    """Revoke ``name``'s token: it stops working at once (cached answers within seconds)."""
    authorize(who, "principal.revoke")
    await principals.revoke(pool, name)


async def reissue(pool: asyncpg.Pool, name: str, *, who: Principal) -> str:
    """A new token for ``name``; the old one stops working."""
    authorize(who, "principal.reissue")
    return await principals.reissue_token(pool, name)
