"""Shares of a case with a recipient outside the bureau (prosecutor, court): the rows.

A share's token is ``csh_`` + 43 characters of URL-safe base64 (256 random bits); only its BLAKE3
hash (derive-key mode, its own context string) is stored, as for principals' tokens.  The rules
(who may share, expiry, the download limit) are ``services.shares``; these are the statements.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

import asyncpg
from blake3 import blake3

TOKEN_PREFIX = "csh_"
_TOKEN_CONTEXT = "custody 2026 share token v1"
_COLUMNS = ("id, case_id, items, organisation, person, purpose, expires_at, max_downloads, downloads, "
            "created_by, created_at, revoked_at, revoked_by, revoke_reason, recipient")


@dataclass(frozen=True, slots=True)
class Share:
    id: int
    case_id: str
    items: tuple[str, ...] | None  # None: the whole case
    organisation: str
    person: str
    purpose: str
    expires_at: dt.datetime
    max_downloads: int | None
    downloads: int
    created_by: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    revoked_by: str | None
    revoke_reason: str | None
    #: ``judicial`` (a prosecutor or a court) or ``other`` (redacted renders only: ``services.shares``).
    recipient: str = "judicial"

    def live(self, now: dt.datetime) -> bool:
        """Not revoked and not expired at ``now``."""
        return self.revoked_at is None and now < self.expires_at


def _share(row: asyncpg.Record) -> Share:
    items = row["items"]
    return Share(**{**dict(row), "items": tuple(items) if items is not None else None})


def hash_token(token: str) -> bytes:
    return blake3(token.encode(), derive_key_context=_TOKEN_CONTEXT).digest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def insert(pool: asyncpg.Pool, case_id: str, token: str, *, items: list[str] | None, organisation: str,
                 person: str, purpose: str, expires_at: dt.datetime, max_downloads: int | None,
                 created_by: str, recipient: str = "judicial") -> Share:
    row = await pool.fetchrow(
        f"""INSERT INTO shares (case_id, token_hash, items, organisation, person, purpose, expires_at,
                                max_downloads, created_by, recipient)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {_COLUMNS}""",
        case_id, hash_token(token), items, organisation, person, purpose, expires_at, max_downloads, created_by,
        recipient)
    return _share(row)


async def of_case(pool: asyncpg.Pool, case_id: str) -> list[Share]:
    rows = await pool.fetch(f"SELECT {_COLUMNS} FROM shares WHERE case_id = $1 ORDER BY id", case_id)
    return [_share(r) for r in rows]


async def get(pool: asyncpg.Pool, share_id: int) -> Share | None:
    row = await pool.fetchrow(f"SELECT {_COLUMNS} FROM shares WHERE id = $1", share_id)
    return _share(row) if row else None


async def by_token(pool: asyncpg.Pool, token: str) -> Share | None:
    row = await pool.fetchrow(f"SELECT {_COLUMNS} FROM shares WHERE token_hash = $1", hash_token(token))
    return _share(row) if row else None


async def revoke(pool: asyncpg.Pool, share_id: int, actor: str, reason: str) -> Share | None:
    """Revoke an active share; None when there is none (unknown or already revoked)."""
    row = await pool.fetchrow(
        f"""UPDATE shares SET revoked_at = now(), revoked_by = $2, revoke_reason = $3
            WHERE id = $1 AND revoked_at IS NULL RETURNING {_COLUMNS}""", share_id, actor, reason)
    return _share(row) if row else None


async def count_download(pool: asyncpg.Pool, share_id: int) -> Share | None:
    """Count one download if the share is live and under its limit, atomically; None: refused."""
    row = await pool.fetchrow(
        f"""UPDATE shares SET downloads = downloads + 1
            WHERE id = $1 AND revoked_at IS NULL AND expires_at > now()
              AND (max_downloads IS NULL OR downloads < max_downloads)
            RETURNING {_COLUMNS}""", share_id)
    return _share(row) if row else None
