"""Disclosure records' rows: the statements the disclosure services run on the ``disclosures`` table.

The rules (who may act, which state allows what) live in ``services``; this module only reads and
writes rows, so a statement is written once whatever front end asked.
"""

from __future__ import annotations

from typing import Any

import asyncpg


async def record_of(pool: asyncpg.Pool, disclosure_id: str
                    ) -> tuple[str, str, dict[str, Any], dict[str, Any] | None] | None:
    """A record's case, state, fields and secrets treatment, or None if there is no such record."""
    row = await pool.fetchrow(
        "SELECT case_id, state, record, secrets_treatment FROM disclosures WHERE id = $1", disclosure_id)
    if row is None:
        return None
    treatment = row["secrets_treatment"]
    return row["case_id"], row["state"], dict(row["record"]), None if treatment is None else dict(treatment)


async def set_draft_fields(pool: asyncpg.Pool, disclosure_id: str, record: dict[str, Any]) -> bool:
    """Replace a draft's fields; False if the record is no longer a draft (compare-and-set on the state)."""
    updated = await pool.fetchval(
        """UPDATE disclosures SET record = $2, updated_at = clock_timestamp()
            WHERE id = $1 AND state = 'draft' RETURNING id""",
        disclosure_id, record)
    return updated is not None
