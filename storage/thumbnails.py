"""Stills and durations of recordings (``thumbnails``): written with their ``evidence.thumbnail`` entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg


@dataclass(frozen=True, slots=True)
class Thumbnail:
    case_id: str
    seq: int
    blake3: str
    of_blake3: str
    original_blake3: str | None
    duration_ms: int | None


_COLUMNS = "case_id, seq, blake3, of_blake3, original_blake3, duration_ms"


async def insert(conn: Any, case_id: str, seq: int, *, blake3: str, of_blake3: str, original_blake3: str | None,
                 duration_ms: int | None) -> None:
    await conn.execute(f"INSERT INTO thumbnails ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)",
                       case_id, seq, blake3, of_blake3, original_blake3, duration_ms)


async def of_case(pool: asyncpg.Pool, case_id: str) -> dict[str, Thumbnail]:
    """The still of each recording of a case, by the hash of the original and of the proxy it was made from.

    A still made in another case for the same bytes counts too (an item assigned from the intake case
    keeps the still made there)."""
    rows = await pool.fetch(
        f"""SELECT DISTINCT ON (t.of_blake3) {', '.join('t.' + c for c in _COLUMNS.split(', '))}
              FROM thumbnails t
             WHERE (t.of_blake3 IN (SELECT blake3 FROM evidence WHERE case_id = $1)
                    OR t.original_blake3 IN (SELECT blake3 FROM evidence WHERE case_id = $1))
               AND NOT EXISTS (SELECT 1 FROM objects o WHERE o.blake3 = t.blake3 AND o.disposed_at IS NOT NULL)
             ORDER BY t.of_blake3, (t.case_id = $1) DESC, t.seq""", case_id)
    found: dict[str, Thumbnail] = {}
    for r in rows:
        thumb = Thumbnail(**dict(r))
        found.setdefault(thumb.of_blake3, thumb)
        if thumb.original_blake3:
            found.setdefault(thumb.original_blake3, thumb)
    return found


async def exists_for(pool: asyncpg.Pool, of_blake3: str) -> bool:
    return bool(await pool.fetchval("SELECT EXISTS (SELECT 1 FROM thumbnails WHERE of_blake3 = $1)", of_blake3))


async def proxies_without(pool: asyncpg.Pool) -> list[tuple[str, str]]:
    """(case, proxy hash) of every video proxy no still was made from yet, oldest first."""
    rows = await pool.fetch(
        """SELECT DISTINCT ON (e.blake3) e.case_id, e.blake3 FROM evidence e
            WHERE e.kind = 'evidence.derived' AND coalesce(e.media_type, '') LIKE 'video/%'
              AND NOT EXISTS (SELECT 1 FROM thumbnails t WHERE t.of_blake3 = e.blake3)
            ORDER BY e.blake3, e.seq""")
    return [(r["case_id"], r["blake3"]) for r in rows]


@dataclass(frozen=True, slots=True)
class Outliving:
    """A still whose proxy was disposed of under retention while the still itself was not."""

    blake3: str
    of_blake3: str
    cases: list[str]
    sha256: str
    size: int
    version_id: str | None
    lives: int


async def outliving(pool: asyncpg.Pool) -> list[Outliving]:
    """Stills made from a proxy that is gone under retention (a still shows what its recording showed)."""
    rows = await pool.fetch(
        """SELECT t.blake3, min(t.of_blake3) AS of_blake3, array_agg(DISTINCT t.case_id ORDER BY t.case_id) AS cases,
                  o.sha256, o.size, o.version_id, o.lives
             FROM thumbnails t JOIN objects o ON o.blake3 = t.blake3 JOIN objects p ON p.blake3 = t.of_blake3
            WHERE o.disposed_at IS NULL AND p.disposed_at IS NOT NULL
            GROUP BY t.blake3, o.sha256, o.size, o.version_id, o.lives ORDER BY t.blake3""")
    return [Outliving(r["blake3"], r["of_blake3"], list(r["cases"]), r["sha256"], r["size"], r["version_id"],
                      r["lives"]) for r in rows]
