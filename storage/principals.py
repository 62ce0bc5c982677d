"""Identities and bearer tokens: who may call the API, in which role.

A token is ``cst_`` + 43 characters of URL-safe base64 (256 random bits).  Only its BLAKE3 hash
(derive-key mode, its own context string) is stored; it is printed once, at creation.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from blake3 import blake3

from foundation.errors import CustodyError, Status
from storage.log import RowWriter

ROLES = ("station", "investigator", "disclosure", "reviewer", "coordinator", "admin")
TOKEN_PREFIX = "cst_"
_TOKEN_CONTEXT = "custody 2026 bearer token v1"


class PrincipalError(CustodyError):
    status = Status.MALFORMED
    code = "principal_error"


class PrincipalExists(PrincipalError):
    status = Status.CONFLICT
    code = "principal_exists"


class PrincipalNotFound(PrincipalError):
    status = Status.NOT_FOUND
    code = "principal_not_found"


@dataclass(frozen=True, slots=True)
class Principal:
    id: int
    name: str
    role: str
    revoked_at: dt.datetime | None = None

    @property
    def actor(self) -> str:
        """How this principal appears in log entries: ``<role>:<name>``."""
        return f"{self.role}:{self.name}"


@dataclass(frozen=True, slots=True)
class TokenHolder:
    """An active principal and the hash of its current token (a web session is bound to it)."""

    principal: Principal
    token_hash: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Account:
    """A principal as the admin page lists it."""

    name: str
    role: str
    created_at: dt.datetime
    created_by: str
    revoked_at: dt.datetime | None
    display_name: str = ""
    badge_no: str = ""  # 执法证号
    unit: str = ""
    id: int = 0


def hash_token(token: str) -> bytes:
    return blake3(token.encode(), derive_key_context=_TOKEN_CONTEXT).digest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def by_token(pool: asyncpg.Pool, token: str) -> Principal | None:
    """The active principal holding ``token``, or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    row = await pool.fetchrow(
        "SELECT id, name, role, revoked_at FROM principals WHERE token_hash = $1 AND revoked_at IS NULL",
        hash_token(token),
    )
    return Principal(**dict(row)) if row else None


async def list_principals(pool: asyncpg.Pool) -> list[Principal]:
    rows = await pool.fetch("SELECT id, name, role, revoked_at FROM principals ORDER BY role, name")
    return [Principal(**dict(r)) for r in rows]


async def by_name(pool: asyncpg.Pool, name: str) -> TokenHolder | None:
    """The active principal called ``name`` with its current token hash, or None (unknown or revoked)."""
    row = await pool.fetchrow(
        "SELECT id, name, role, revoked_at, token_hash FROM principals WHERE name = $1 AND revoked_at IS NULL",
        name,
    )
    if row is None:
        return None
    fields = dict(row)
    token_hash = fields.pop("token_hash")
    return TokenHolder(Principal(**fields), token_hash)


async def accounts(pool: asyncpg.Pool) -> list[Account]:
    rows = await pool.fetch(
        """SELECT id, name, role, created_at, created_by, revoked_at, display_name, badge_no, unit
             FROM principals ORDER BY role, name"""
    )
    return [Account(**dict(r)) for r in rows]


async def account(pool: asyncpg.Pool, name: str) -> Account | None:
    """One principal as the admin page shows it (revoked too), or None."""
    row = await pool.fetchrow(
        """SELECT id, name, role, created_at, created_by, revoked_at, display_name, badge_no, unit
             FROM principals WHERE name = $1""", name)
    return Account(**dict(row)) if row else None


async def set_profile(conn: asyncpg.Pool | asyncpg.Connection, name: str, display_name: str, badge_no: str,
                      unit: str) -> None:
    """Store a principal's display fields (the name, id and role never change: migration 0010)."""
    try:
        done = await conn.fetchval(
            "UPDATE principals SET display_name = $2, badge_no = $3, unit = $4 WHERE name = $1 RETURNING id",
            name, display_name, badge_no, unit)
    except asyncpg.CheckViolationError:
        raise PrincipalError(f"invalid display fields for {name!r}") from None
    if done is None:
        raise PrincipalNotFound(f"no principal {name!r}")


async def id_named(pool: asyncpg.Pool, actor: str, at: str) -> int | None:
    """The id of the principal ``actor`` (``role:name``) names exactly, if it existed at time ``at``.

    Principals are never renamed, re-roled or deleted (migration 0010), so the answer never changes.
    """
    found = await pool.fetchval(
        "SELECT id FROM principals WHERE role || ':' || name = $1 AND created_at <= $2::timestamptz", actor, at)
    return None if found is None else int(found)


# -- writes that go with a governance-log entry (``services.accounts``) -------------------------------
# Each is a ``storage.log.RowWriter``: called inside the entry's append transaction, so a principal
# row never changes without the entry that says so, nor the entry without the row.


async def next_id(pool: asyncpg.Pool) -> int:
    """An id for a new principal, taken before its ``principal.added`` entry names it."""
    return int(await pool.fetchval("SELECT nextval(pg_get_serial_sequence('principals', 'id'))"))


def inserting(pid: int, name: str, role: str, token_hash: bytes, created_by: str) -> RowWriter:
    async def write(conn: asyncpg.Connection, case_id: str, seq: int) -> None:
        try:
            await conn.execute(
                """INSERT INTO principals (id, name, role, token_hash, created_by)
                   VALUES ($1, $2, $3, $4, $5)""", pid, name, role, token_hash, created_by)
        except asyncpg.UniqueViolationError:
            raise PrincipalExists(f"{name!r} already exists") from None
        except asyncpg.CheckViolationError:
            raise PrincipalError(f"invalid name {name!r}: 1-64 of A-Z a-z 0-9 . _ @ -") from None
    return write


def revoking(pid: int, name: str) -> RowWriter:
    async def write(conn: asyncpg.Connection, case_id: str, seq: int) -> None:
        done = await conn.fetchval(
            "UPDATE principals SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id", pid)
        if done is None:
            raise PrincipalNotFound(f"no active principal {name!r}")
    return write


def reissuing(pid: int, name: str, token_hash: bytes) -> RowWriter:
    async def write(conn: asyncpg.Connection, case_id: str, seq: int) -> None:
        done = await conn.fetchval(
            "UPDATE principals SET token_hash = $2, revoked_at = NULL WHERE id = $1 RETURNING id", pid, token_hash)
        if done is None:
            raise PrincipalNotFound(f"no principal {name!r}")
    return write


def profiling(name: str, display_name: str, badge_no: str, unit: str) -> RowWriter:
    async def write(conn: asyncpg.Connection, case_id: str, seq: int) -> None:
        await set_profile(conn, name, display_name, badge_no, unit)
    return write


async def logged_rows(pool: asyncpg.Pool) -> dict[int, dict[str, Any]]:
    """Every principal as scrub compares it with the governance log (``policy.log_state.PRINCIPAL_FIELDS``)."""
    rows = await pool.fetch(
        """SELECT id, name, role, revoked_at IS NOT NULL AS revoked, display_name, badge_no, unit
             FROM principals""")
    return {int(r["id"]): dict(r) for r in rows}
