"""Web sign-in sessions kept on the server, so that signing out, or an admin, ends one at once.

The browser's cookie carries a random session id, signed (``api/web/cookies.py``).  This table keeps
only the id's BLAKE3 hash (derive-key mode, its own context string): a database reader, or the admin
page, which names sessions by that hash, holds nothing a browser could present.

A session is live while it is not revoked, not past its absolute expiry, not idle for longer than the
idle timeout, and its principal is active *with the token it signed in with*: revoking or reissuing
the token ends its sessions by whatever path that happens (admin page or ``custody token revoke``).
Times come from the caller, so one clock decides a session's whole life (and tests can move it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import asyncpg
from blake3 import blake3

from storage.principals import Principal

_ID_CONTEXT = "custody 2026 web session id v1"
#: ``last_seen_at`` is written at most this often per session, so a busy page costs reads, not writes.
TOUCH_INTERVAL = dt.timedelta(seconds=60)
#: Rows past their expiry this long are deleted at the next sign-in (revoked rows too: every row expires).
KEEP_DEAD = dt.timedelta(days=7)
USER_AGENT_CHARS = 200
REMOTE_ADDR_CHARS = 64


@dataclass(frozen=True, slots=True)
class LiveSession:
    """A live session's principal and times, as one request's check finds them."""

    principal: Principal
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime

    def live_at(self, now: dt.datetime, idle: dt.timedelta) -> bool:
        """Still live at ``now`` (for a lookup cached a few seconds ago)."""
        return now < self.expires_at and now - self.last_seen_at < idle


@dataclass(frozen=True, slots=True)
class WebSession:
    """A live session as the admin page lists it."""

    key: str  # hex of the id's hash: names the session in the admin's forms
    principal: str
    role: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime
    remote_addr: str
    user_agent: str


def session_key(session_id: str) -> bytes:
    """The row key of the session whose cookie carries ``session_id``."""
    return blake3(session_id.encode(), derive_key_context=_ID_CONTEXT).digest()


async def start(pool: asyncpg.Pool, session_id: str, principal: str, token_hash: bytes, *, now: dt.datetime,
                expires_at: dt.datetime, user_agent: str, remote_addr: str) -> None:
    """Record a new session; rows dead for over ``KEEP_DEAD`` go at the same time, so the table stays small."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM web_sessions WHERE expires_at < $1", now - KEEP_DEAD)
        await conn.execute(
            """INSERT INTO web_sessions (id, principal, token_hash, created_at, last_seen_at, expires_at,
                                         user_agent, remote_addr)
               VALUES ($1, $2, $3, $4, $4, $5, $6, $7)""",
            session_key(session_id), principal, token_hash, now, expires_at,
            user_agent[:USER_AGENT_CHARS], remote_addr[:REMOTE_ADDR_CHARS],
        )


# One indexed round trip per check: the row by primary key, its principal by unique name, and, when the
# row was last seen over TOUCH_INTERVAL ago, the touch.  The UPDATE re-checks last_seen_at on the row it
# locks, so two servers checking at once write it once.
_LIVE = """
WITH live AS (
    SELECT s.id, s.created_at, s.last_seen_at, s.expires_at, p.id AS principal_id, p.name, p.role
    FROM web_sessions s
    JOIN principals p ON p.name = s.principal AND p.token_hash = s.token_hash AND p.revoked_at IS NULL
    WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND s.last_seen_at > $3
), touched AS (
    UPDATE web_sessions s SET last_seen_at = $2 FROM live
    WHERE s.id = live.id AND s.last_seen_at <= $4
    RETURNING s.last_seen_at
)
SELECT live.*, (SELECT last_seen_at FROM touched) AS touched_at FROM live
"""


async def live(pool: asyncpg.Pool, session_id: str, *, now: dt.datetime, idle: dt.timedelta) -> LiveSession | None:
    """The session if it is live at ``now`` (marked seen now if last seen over a minute ago), else None."""
    row = await pool.fetchrow(_LIVE, session_key(session_id), now, now - idle, now - TOUCH_INTERVAL)
    if row is None:
        return None
    return LiveSession(Principal(row["principal_id"], row["name"], row["role"]), row["created_at"],
                       row["touched_at"] or row["last_seen_at"], row["expires_at"])


async def end(pool: asyncpg.Pool, session_id: str, *, now: dt.datetime, by: str) -> bool:
    """Revoke the session whose cookie carries ``session_id`` (signing out); whether it was live."""
    done = await pool.fetchval(
        "UPDATE web_sessions SET revoked_at = $2, revoked_by = $3 WHERE id = $1 AND revoked_at IS NULL RETURNING 1",
        session_key(session_id), now, by,
    )
    return done is not None


async def revoke(pool: asyncpg.Pool, key: bytes, *, now: dt.datetime, by: str) -> str | None:
    """Revoke the session with row key ``key`` (the admin's "sign out"); its principal, or None."""
    name: str | None = await pool.fetchval(
        """UPDATE web_sessions SET revoked_at = $2, revoked_by = $3 WHERE id = $1 AND revoked_at IS NULL
           RETURNING principal""",
        key, now, by,
    )
    return name


async def revoke_all(pool: asyncpg.Pool, principal: str, *, now: dt.datetime, by: str) -> int:
    """Revoke every session of ``principal`` ("sign out everywhere"); how many were not yet revoked."""
    rows = await pool.fetch(
        """UPDATE web_sessions SET revoked_at = $2, revoked_by = $3
           WHERE principal = $1 AND revoked_at IS NULL AND expires_at > $2 RETURNING 1""",
        principal, now, by,
    )
    return len(rows)


async def listing(pool: asyncpg.Pool, *, now: dt.datetime, idle: dt.timedelta) -> list[WebSession]:
    """Every live session, by principal, most recently seen first."""
    rows = await pool.fetch(
        """SELECT s.id, s.principal, p.role, s.created_at, s.last_seen_at, s.expires_at, s.remote_addr,
                  s.user_agent
           FROM web_sessions s
           JOIN principals p ON p.name = s.principal AND p.token_hash = s.token_hash AND p.revoked_at IS NULL
           WHERE s.revoked_at IS NULL AND s.expires_at > $1 AND s.last_seen_at > $2
           ORDER BY s.principal, s.last_seen_at DESC""",
        now, now - idle,
    )
    return [WebSession(r["id"].hex(), r["principal"], r["role"], r["created_at"], r["last_seen_at"],
                       r["expires_at"], r["remote_addr"], r["user_agent"]) for r in rows]
