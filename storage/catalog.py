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
    disposing_since: dt.datetime | None = None
    retention_open: bool = True
    lives: int = 0


def object_dedupe(kind: str, blake3_hex: str, lives: int) -> str:
    """The log idempotency key of an object entry: one per kind, object and life (see ``lives``)."""
    return f"{kind}:{blake3_hex}" if lives == 0 else f"{kind}:{blake3_hex}:life{lives}"


async def record_object(conn: Any, stored: StoredObject, store_name: str,
                        retain_until: dt.datetime | None = None) -> tuple[str | None, int]:
    """Remember a stored object (idempotent); retention only ever moves later.

    Returns the version the catalogue keeps (the first recorded one: two servers storing the same
    bytes at once can leave two versions of the key; the row decides which is the object) and the
    object's life: 0, plus one for each time it was stored again after being disposed of.
    """
    row = await conn.fetchrow(
        """INSERT INTO objects (blake3, sha256, size, store, version_id, retain_until)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (blake3) DO UPDATE
              SET retain_until = CASE WHEN objects.disposed_at IS NULL
                                      THEN GREATEST(objects.retain_until, EXCLUDED.retain_until)
                                      ELSE EXCLUDED.retain_until END,
                  version_id = CASE WHEN objects.disposed_at IS NULL
                                    THEN COALESCE(objects.version_id, EXCLUDED.version_id)
                                    ELSE EXCLUDED.version_id END,
                  -- the same bytes stored again after a disposal are a live object again
                  retention_open = objects.retention_open OR objects.disposed_at IS NOT NULL,
                  lives = objects.lives + (objects.disposed_at IS NOT NULL)::int,
                  disposing_since = NULL, disposed_at = NULL
           RETURNING version_id, lives""",
        stored.digest.blake3, stored.digest.sha256, stored.digest.size, store_name, stored.version_id,
        retain_until,
    )
    return row["version_id"], row["lives"]


async def get_object(pool: asyncpg.Pool, blake3_hex: str) -> ObjectRow | None:
    row = await pool.fetchrow("SELECT * FROM objects WHERE blake3 = $1", blake3_hex)
    return ObjectRow(**dict(row)) if row else None


async def all_objects(pool: asyncpg.Pool) -> list[ObjectRow]:
    rows = await pool.fetch("SELECT * FROM objects WHERE disposed_at IS NULL ORDER BY stored_at")
    return [ObjectRow(**dict(r)) for r in rows]


async def record_scrub(pool: asyncpg.Pool, started: dt.datetime, scope: str, cases: int, objects: int,
                       problems: list[dict[str, str]]) -> None:
    """Record a scrub run; each problem is ``{"code", "case", "message"}``."""
    await pool.execute(
        "INSERT INTO scrub_runs (started_at, scope, cases, objects, problems) VALUES ($1, $2, $3, $4, $5)",
        started, scope, cases, objects, problems,
    )


async def last_scrub(pool: asyncpg.Pool) -> dict[str, Any] | None:
    row = await pool.fetchrow("SELECT * FROM scrub_runs ORDER BY id DESC LIMIT 1")
    return dict(row) if row else None


async def record_evidence(pool: Any, case_id: str, seq: int, kind: str, fields: dict[str, Any]) -> None:
    """Index an object entry for listing and search (the entry itself stays the record)."""
    recorded = fields.get("recorded_at")
    try:
        recorded_at = dt.datetime.fromisoformat(recorded.replace("Z", "+00:00")) if isinstance(recorded, str) else None
    except ValueError:
        recorded_at = None  # the camera's claim is kept verbatim in the entry; only the index skips it
    await pool.execute(
        """INSERT INTO evidence (case_id, seq, kind, blake3, size, media_type, file_name, officer, camera,
                                 station, stage, recorded_at, original_blake3)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING""",
        case_id, seq, kind, fields["blake3"], fields["size"], fields.get("media_type"), fields.get("file_name"),
        fields.get("officer"), fields.get("camera"), fields.get("station"), fields.get("stage"), recorded_at,
        fields.get("original_blake3"),
    )


async def record_stages(pool: Any, case_id: str) -> set[str]:
    """The enforcement stages the case's text records were filed at."""
    rows = await pool.fetch("SELECT DISTINCT stage FROM evidence WHERE case_id = $1 AND kind = 'record.added' "
                            "AND stage IS NOT NULL", case_id)
    return {str(r["stage"]) for r in rows}


@dataclass(frozen=True, slots=True)
class EvidenceRow:
    case_id: str
    seq: int
    kind: str
    blake3: str
    size: int
    media_type: str | None
    file_name: str | None
    officer: str | None
    camera: str | None
    station: str | None
    stage: str | None
    recorded_at: dt.datetime | None
    original_blake3: str | None
    retention_class: str | None = None  # assigned to this item (else the case's class applies)


async def case_evidence(pool: asyncpg.Pool, case_id: str) -> list[EvidenceRow]:
    rows = await pool.fetch("SELECT * FROM evidence WHERE case_id = $1 ORDER BY seq", case_id)
    return [EvidenceRow(**dict(r)) for r in rows]


async def search_cases(pool: asyncpg.Pool, *, case_id: str | None = None, officer: str | None = None,
                       station: str | None = None, since: dt.datetime | None = None,
                       until: dt.datetime | None = None, limit: int = 100, offset: int = 0,
                       reader: str | None = None, reader_id: int | None = None) -> list[dict[str, Any]]:
    """Cases matching every given filter; officer/station/date match any evidence item in the case.

    Each row carries its ``restriction`` and whether ``reader`` (a principal's name; None: no one is
    asking need to know) may read the case.  A restricted case the reader may not read matches on its
    id only: matching it by officer, station or date would tell who and when it concerns.
    """
    rows = await pool.fetch(
        """SELECT * FROM (
             SELECT c.id, c.title, c.created_at, c.created_by, c.size, c.restriction,
                    count(e.seq) AS evidence, min(e.recorded_at) AS first_recorded,
                    max(e.recorded_at) AS last_recorded,
                    -- policy.restriction.may_read, as SQL (the API tests hold the two equal)
                    (c.restriction = 'none' OR $8::text IS NULL
                     OR (c.handler_id IS NOT NULL AND c.handler_id = $9)
                     OR EXISTS (SELECT 1 FROM case_grants g WHERE g.case_id = c.id AND g.principal = $8
                                                             AND g.revoked_at IS NULL)) AS readable
               FROM cases c LEFT JOIN evidence e ON e.case_id = c.id
              WHERE ($1::text IS NULL OR c.id ILIKE '%' || $1 || '%')
                AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM evidence x WHERE x.case_id = c.id AND x.officer = $2))
                AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM evidence x WHERE x.case_id = c.id AND x.station = $3))
                AND ($4::timestamptz IS NULL OR EXISTS (SELECT 1 FROM evidence x WHERE x.case_id = c.id
                                                        AND coalesce(x.recorded_at, c.created_at) >= $4))
                AND ($5::timestamptz IS NULL OR EXISTS (SELECT 1 FROM evidence x WHERE x.case_id = c.id
                                                        AND coalesce(x.recorded_at, c.created_at) < $5))
              GROUP BY c.id) found
            WHERE readable OR ($2::text IS NULL AND $3::text IS NULL AND $4::timestamptz IS NULL
                               AND $5::timestamptz IS NULL)
            ORDER BY created_at DESC, id LIMIT $6 OFFSET $7""",
        case_id, officer, station, since, until, limit, offset, reader, reader_id,
    )
    return [dict(r) for r in rows]


async def logged_objects(pool: asyncpg.Pool, blake3s: list[str]) -> set[str]:
    """Which of ``blake3s`` an entry of some case names."""
    rows = await pool.fetch("SELECT DISTINCT blake3 FROM entries WHERE blake3 = ANY($1::text[])", blake3s)
    return {r["blake3"] for r in rows}
