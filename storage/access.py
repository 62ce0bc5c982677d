"""Who may read a case: its restriction level, its handler and its grants (the ``cases`` columns and
``case_grants``).  Only rows here; the rules are ``policy.restriction`` and the use cases
``services.restriction`` and ``services.handover``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

import asyncpg

from policy import restriction
from policy.restriction import Level


class GrantExists(Exception):
    """The principal already holds an active grant to the case (the service says so in its words)."""


class CaseAccess(NamedTuple):
    """A case's level and handler, and whether one principal holds an active grant to it."""

    level: Level
    handler: str
    granted: bool
    handler_id: int | None = None

    def may_read(self, principal_id: int) -> bool:
        """For the principal this state was fetched for (its grant is in ``granted``)."""
        return restriction.may_read(self.level, principal_id=principal_id, handler_id=self.handler_id,
                                    granted=self.granted)


@dataclass(frozen=True, slots=True)
class Grant:
    id: int
    case_id: str
    principal: str
    granted_by: str
    reason: str
    granted_at: dt.datetime
    revoked_at: dt.datetime | None
    revoked_by: str | None
    revoke_reason: str | None


async def grants(pool: asyncpg.Pool, case_id: str, *, active_only: bool = True) -> list[Grant]:
    rows = await pool.fetch(
        """SELECT id, case_id, principal, granted_by, reason, granted_at, revoked_at, revoked_by, revoke_reason
             FROM case_grants WHERE case_id = $1 AND (NOT $2 OR revoked_at IS NULL) ORDER BY id""",
        case_id, active_only)
    return [Grant(**dict(r)) for r in rows]


async def set_level(pool: asyncpg.Pool, case_id: str, old: Level, new: Level) -> bool:
    """Compare-and-set: False when the level is no longer ``old`` (two changes cannot both land)."""
    done = await pool.execute("UPDATE cases SET restriction = $3 WHERE id = $1 AND restriction = $2", case_id, old, new)
    return not done.endswith(" 0")


async def insert_grant(pool: asyncpg.Pool, case_id: str, grantee: str, actor: str, reason: str) -> Grant:
    try:
        row = await pool.fetchrow(
            """INSERT INTO case_grants (case_id, principal, granted_by, reason) VALUES ($1, $2, $3, $4)
               RETURNING *""", case_id, grantee, actor, reason)
    except asyncpg.UniqueViolationError:
        raise GrantExists(grantee) from None
    return Grant(**dict(row))


async def revoke_grant(pool: asyncpg.Pool, case_id: str, grantee: str, actor: str, reason: str) -> Grant | None:
    """The revoked grant, or None when ``grantee`` held no active one."""
    row = await pool.fetchrow(
        """UPDATE case_grants SET revoked_at = now(), revoked_by = $3, revoke_reason = $4
            WHERE case_id = $1 AND principal = $2 AND revoked_at IS NULL RETURNING *""",
        case_id, grantee, actor, reason)
    return None if row is None else Grant(**dict(row))


async def set_handler(pool: asyncpg.Pool, case_id: str, previous: str, new: str, new_id: int) -> bool:
    """Compare-and-set: False when the handler is no longer ``previous``."""
    done = await pool.execute(
        """UPDATE cases SET handler = $3, handler_id = $4
            WHERE id = $1 AND coalesce(handler, created_by) = $2""", case_id, previous, new, new_id)
    return not done.endswith(" 0")
