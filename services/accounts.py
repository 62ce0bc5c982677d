"""Users and docking stations: creating them, revoking and reissuing their tokens, their display fields.

The token is returned once and stored only as a hash (``storage.principals``).  The operator at the
server's command line may do this too: someone has to create the first administrator.

A user's display name (any script), badge number (执法证号) and unit may change; the login name never
does.  Each change of them is a ``principal.profile_set`` entry in the governance log, naming the
principal by name and id, with the new values, so who was called what, when, stays on record.

Creating a principal (``principal.added``: name, id, role), revoking its token and reissuing one are
governance-log entries too, each committed with its row (``storage.principals``' row writers), so
scrub can hold the ``principals`` table to the log: which ids exist, with which role, and who is
active.  Tokens and their hashes are never logged.
"""

from __future__ import annotations

import json

import asyncpg

from policy.log_state import fold
from policy.people import Profile, check_login_name, check_profile
from services.locker import Locker
from services.permissions import authorize
from services.retention import GOVERNANCE_CASE, ensure_governance_log
from storage import principals
from storage.log import Draft
from storage.principals import Account, Principal, PrincipalError, PrincipalExists, PrincipalNotFound


async def add(locker: Locker, name: str, role: str, *, who: Principal) -> tuple[Principal, str]:
    """Create a user or station; returns it and its token (shown once, never stored or logged).

    The ``principal.added`` entry (name, id, role) and the row commit together: every id an entry
    names is one the governance log introduced.
    """
    authorize(who, "principal.add")
    check_login_name(name)
    if role not in principals.ROLES:
        raise PrincipalError(f"role must be one of {', '.join(principals.ROLES)}, not {role!r}")
    if await principals.account(locker.pool, name) is not None:
        raise PrincipalExists(f"{name!r} already exists")
    await ensure_governance_log(locker)
    pid, token = await principals.next_id(locker.pool), principals.new_token()
    await locker.log.append(GOVERNANCE_CASE, Draft(
        "principal.added", who.actor, {"principal": name, "principal_id": pid, "role": role},
        rows=principals.inserting(pid, name, role, principals.hash_token(token), who.actor)))
    return Principal(id=pid, name=name, role=role), token


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
    await locker.log.append(GOVERNANCE_CASE, Draft(
        "principal.profile_set", who.actor,
        {"principal": current.name, "principal_id": current.id, "role": current.role, **profile.as_fields()},
        rows=principals.profiling(name, profile.display_name, profile.badge_no, profile.unit)))
    return profile


async def people(pool: asyncpg.Pool) -> list[Account]:
    """Every user and station with its display fields (for lists that show people by name)."""
    return await principals.accounts(pool)


async def revoke(locker: Locker, name: str, *, who: Principal) -> None:
    """Revoke ``name``'s token: it stops working at once (cached answers within seconds); logged."""
    authorize(who, "principal.revoke")
    current = await principals.account(locker.pool, name)
    if current is None or current.revoked_at is not None:
        raise PrincipalNotFound(f"no active principal {name!r}")
    await ensure_governance_log(locker)
    await locker.log.append(GOVERNANCE_CASE, Draft(
        "principal.revoked", who.actor, {"principal": name, "principal_id": current.id, "role": current.role},
        rows=principals.revoking(current.id, name)))


async def reissue(locker: Locker, name: str, *, who: Principal) -> str:
    """A new token for ``name`` (active again if it was revoked); the old one stops working; logged."""
    authorize(who, "principal.reissue")
    current = await principals.account(locker.pool, name)
    if current is None:
        raise PrincipalNotFound(f"no principal {name!r}")
    await ensure_governance_log(locker)
    token = principals.new_token()
    await locker.log.append(GOVERNANCE_CASE, Draft(
        "principal.reissued", who.actor, {"principal": name, "principal_id": current.id, "role": current.role},
        rows=principals.reissuing(current.id, name, principals.hash_token(token))))
    return token


async def record_existing(locker: Locker, *, who: Principal) -> list[str]:
    """Log a ``principal.recorded`` entry for each principal the governance log does not introduce yet.

    For a store upgraded from a version that did not log accounts: run once by the operator, after
    which scrub holds every principal row to the log.  Returns the names it recorded.
    """
    authorize(who, "principal.add")
    await ensure_governance_log(locker)
    known = fold(json.loads(r.body) for r in await locker.log.entries(GOVERNANCE_CASE)).principals
    done = []
    for acct in await principals.accounts(locker.pool):
        if "name" in known.get(acct.id, {}):
            continue
        await locker.log.append(GOVERNANCE_CASE, Draft("principal.recorded", who.actor, {
            "principal": acct.name, "principal_id": acct.id, "role": acct.role,
            "revoked": acct.revoked_at is not None, "display_name": acct.display_name,
            "badge_no": acct.badge_no, "unit": acct.unit}))
        done.append(acct.name)
    return done
