"""Rows of the ``uploads`` table: resumable upload sessions from docking stations."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg


@dataclass(frozen=True, slots=True)
class UploadRow:
    id: uuid.UUID
    station: str
    case_id: str
    kind: str
    blake3: str
    size: int
    received: int
    fields: dict[str, Any]
    state: str
    generation: int
    owner: str | None
    seq: int | None
    error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


async def create_upload(pool: asyncpg.Pool, *, station: str, case_id: str, kind: str, blake3: str, size: int,
                        fields: dict[str, Any], owner: str) -> UploadRow:
    row = await pool.fetchrow(
        """INSERT INTO uploads (id, station, case_id, kind, blake3, size, fields, owner)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *""",
        uuid.uuid4(), station, case_id, kind, blake3, size, fields, owner,
    )
    return UploadRow(**dict(row))


async def get_upload(pool: asyncpg.Pool, upload_id: uuid.UUID) -> UploadRow | None:
    row = await pool.fetchrow("SELECT * FROM uploads WHERE id = $1", upload_id)
    return UploadRow(**dict(row)) if row else None


async def take_over(pool: asyncpg.Pool, upload_id: uuid.UUID, owner: str) -> UploadRow:
    """Restart a session in this process: bytes held by a previous owner are gone with it."""
    row = await pool.fetchrow(
        """UPDATE uploads SET owner = $2, generation = generation + 1, received = 0, updated_at = now()
           WHERE id = $1 AND state = 'open' RETURNING *""",
        upload_id, owner,
    )
    return UploadRow(**dict(row))


async def set_received(pool: asyncpg.Pool, upload_id: uuid.UUID, generation: int, received: int) -> None:
    await pool.execute(
        "UPDATE uploads SET received = $3, updated_at = now() WHERE id = $1 AND generation = $2 AND state = 'open'",
        upload_id, generation, received,
    )


async def finish(pool: Any, upload_id: uuid.UUID, state: str, *, seq: int | None = None,
                 error: str | None = None, received: int | None = None) -> None:
    await pool.execute(
        """UPDATE uploads SET state = $2, seq = $3, error = $4, received = COALESCE($5, received),
                  updated_at = now() WHERE id = $1""",
        upload_id, state, seq, error, received,
    )


async def open_uploads(pool: asyncpg.Pool, station: str) -> list[UploadRow]:
    rows = await pool.fetch(
        "SELECT * FROM uploads WHERE station = $1 AND state = 'open' ORDER BY created_at", station
    )
    return [UploadRow(**dict(r)) for r in rows]


async def open_owners(pool: asyncpg.Pool) -> list[str]:
    """The owners (``host:pid:nonce``) of the upload sessions still open."""
    rows = await pool.fetch("SELECT DISTINCT owner FROM uploads WHERE state = 'open' AND owner IS NOT NULL")
    return [r["owner"] for r in rows]


async def abandon(pool: asyncpg.Pool, *, owners: list[str], idle_s: float, why: str) -> int:
    """Close (``aborted``) open sessions held by ``owners`` or idle for ``idle_s``; returns how many."""
    done = await pool.execute(
        """UPDATE uploads SET state = 'aborted', error = $3, updated_at = now()
            WHERE state = 'open' AND (owner = ANY($1::text[]) OR updated_at < now() - make_interval(secs => $2))""",
        owners, idle_s, why)
    return int(done.split()[-1])


async def stuck_open(pool: asyncpg.Pool, idle: dt.timedelta) -> list[UploadRow]:
    """Upload sessions still ``open`` with no write for ``idle``: the sweep should have closed them."""
    rows = await pool.fetch(
        "SELECT * FROM uploads WHERE state = 'open' AND updated_at < now() - $1::interval ORDER BY created_at", idle)
    return [UploadRow(**dict(r)) for r in rows]
