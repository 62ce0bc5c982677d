"""Disclosure records' rows: the statements the disclosure services run on the ``disclosures`` table.

The rules (who may act, which state allows what) live in ``services``; this module only reads and
writes rows, so a statement is written once whatever front end asked.
"""

from __future__ import annotations

from typing import Any

import asyncpg


async def record_of(pool: asyncpg.Pool, disclosure_id: str) -> tuple[str, str, dict[str, Any]] | None:
    """A record's case, state and fields, or None if there is no such record."""
    row = await pool.fetchrow("SELECT case_id, state, record FROM disclosures WHERE id = $1", disclosure_id)
    return None if row is None else (row["case_id"], row["state"], dict(row["record"]))


async def set_draft_fields(pool: asyncpg.Pool, disclosure_id: str, record: dict[str, Any]) -> bool:
    """Replace a draft's fields; False if the record is no longer a draft (compare-and-set on the state)."""
    updated = await pool.fetchval(
        """UPDATE disclosures SET record = $2, updated_at = clock_timestamp()
            WHERE id = $1 AND state = 'draft' RETURNING id""",
        disclosure_id, record)
    return updated is not None
