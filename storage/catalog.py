"""The ``objects`` table: what the store holds, by content address, with its locks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import asyncpg

from storage.objects import StoredObject


@dataclass(frozen=True, slots=True)
class ObjectRow:
    blake3: str
    sha256: str
    size: int
    store: str
    version_id: str | None
    retain_until: dt.datetime | None
    legal_hold: bool
    stored_at: dt.datetime
    disposed_at: dt.datetime | None


async def record_object(conn: Any, stored: StoredObject, store_name: str,
                        retain_until: dt.datetime | None = None) -> None:
    """Remember a stored object (idempotent); retention only ever moves later."""
    await conn.execute(
        """INSERT INTO objects (blake3, sha256, size, store, version_id, retain_until)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (blake3) DO UPDATE
              SET retain_until = GREATEST(objects.retain_until, EXCLUDED.retain_until),
                  version_id = COALESCE(objects.version_id, EXCLUDED.version_id)""",
        stored.digest.blake3, stored.digest.sha256, stored.digest.size, store_name, stored.version_id,
        retain_until,
    )


async def get_object(pool: asyncpg.Pool, blake3_hex: str) -> ObjectRow | None:
    row = await pool.fetchrow("SELECT * FROM objects WHERE blake3 = $1", blake3_hex)
    return ObjectRow(**dict(row)) if row else None


async def all_objects(pool: asyncpg.Pool) -> list[ObjectRow]:
    rows = await pool.fetch("SELECT * FROM objects WHERE disposed_at IS NULL ORDER BY stored_at")
    return [ObjectRow(**dict(r)) for r in rows]


async def record_scrub(pool: asyncpg.Pool, started: dt.datetime, scope: str, cases: int, objects: int,
                       problems: list[str]) -> None:
    await pool.execute(
        "INSERT INTO scrub_runs (started_at, scope, cases, objects, problems) VALUES ($1, $2, $3, $4, $5)",
        started, scope, cases, objects, problems,
    )


async def last_scrub(pool: asyncpg.Pool) -> dict[str, Any] | None:
    row = await pool.fetchrow("SELECT * FROM scrub_runs ORDER BY id DESC LIMIT 1")
    return dict(row) if row else None
