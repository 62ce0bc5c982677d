"""A disclosure record's attachments: the redacted renders the public portal shows with it.

Each row is written in the transaction of its ``disclosure.attached`` entry (``Draft.rows``) and ended
by ``disclosure.detached``; the rules are ``services.release``, these are the statements.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import asyncpg

_COLUMNS = "disclosure_id, blake3, case_id, file_name, size, attached_by, seq, attached_at, detached_by, detach_reason"


@dataclass(frozen=True, slots=True)
class Attachment:
    disclosure_id: str
    blake3: str
    case_id: str
    file_name: str
    size: int
    attached_by: str
    seq: int
    attached_at: dt.datetime
    detached_by: str | None
    detach_reason: str | None


def _row(r: asyncpg.Record) -> Attachment:
    return Attachment(**dict(r))


async def insert(conn: Any, *, disclosure_id: str, blake3: str, case_id: str, file_name: str, size: int,
                 attached_by: str, seq: int) -> None:
    """Attach (or attach again after a detachment: the row is live again, under the new entry)."""
    await conn.execute(
        """INSERT INTO disclosure_attachments (disclosure_id, blake3, case_id, file_name, size, attached_by, seq)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (disclosure_id, blake3) DO UPDATE
              SET file_name = EXCLUDED.file_name, size = EXCLUDED.size, attached_by = EXCLUDED.attached_by,
                  seq = EXCLUDED.seq, attached_at = now(), detached_by = NULL, detach_reason = NULL""",
        disclosure_id, blake3, case_id, file_name, size, attached_by, seq)


async def detach(conn: Any, disclosure_id: str, blake3: str, actor: str, reason: str) -> None:
    await conn.execute(
        """UPDATE disclosure_attachments SET detached_by = $3, detach_reason = $4
            WHERE disclosure_id = $1 AND blake3 = $2""", disclosure_id, blake3, actor, reason)


async def of_disclosure(pool: asyncpg.Pool, disclosure_id: str) -> list[Attachment]:
    rows = await pool.fetch(f"SELECT {_COLUMNS} FROM disclosure_attachments WHERE disclosure_id = $1 ORDER BY seq",
                            disclosure_id)
    return [_row(r) for r in rows]


async def live_of(pool: asyncpg.Pool, disclosure_ids: list[str]) -> list[Attachment]:
    """The attachments not detached of the given records, oldest first."""
    rows = await pool.fetch(
        f"""SELECT {_COLUMNS} FROM disclosure_attachments
             WHERE disclosure_id = ANY($1::text[]) AND detached_by IS NULL ORDER BY seq""", disclosure_ids)
    return [_row(r) for r in rows]


async def published_attachment(pool: asyncpg.Pool, disclosure_id: str, blake3: str) -> Attachment | None:
    """A live attachment of a record that is published right now (a takedown or revocation ends it at once)."""
    row = await pool.fetchrow(
        f"""SELECT {', '.join('a.' + c.strip() for c in _COLUMNS.split(','))}
              FROM disclosure_attachments a JOIN disclosures d ON d.id = a.disclosure_id
             WHERE a.disclosure_id = $1 AND a.blake3 = $2 AND a.detached_by IS NULL AND d.state = 'published'""",
        disclosure_id, blake3)
    return _row(row) if row else None


async def case_rows(conn: Any, case_id: str) -> list[dict[str, Any]]:
    """Every attachment row of a case, for scrub."""
    return [dict(r) for r in await conn.fetch(
        "SELECT disclosure_id, blake3, file_name, size, attached_by, seq, detached_by, detach_reason "
        "FROM disclosure_attachments WHERE case_id = $1", case_id)]
