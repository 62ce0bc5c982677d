"""Law-change update deadlines that start at publication (issue 13 item 5).

A record approved (or still a draft) when a law change that touches it is recorded is not yet public,
so its update cannot be due 20 working days from the change: it gets a ``law_change_updates`` row with
no ``due`` and the deadline is set when the record is published.  The rule is in
``services.disclosure``; these are its statements.
"""

from __future__ import annotations

import datetime as dt

import asyncpg

#: The states of a record that is not public yet but will be: its deadline starts at publication.
AWAITING_PUBLICATION = ("draft", "approved")


async def add_awaiting_publication(conn: asyncpg.Connection, change_id: int, categories: list[str]) -> list[str]:
    """Rows with no deadline yet for the unpublished records a change touches; their ids, sorted."""
    rows = await conn.fetch(
        """INSERT INTO law_change_updates (law_change_id, disclosure_id, due)
           SELECT $1, id, NULL FROM disclosures
            WHERE state = ANY($2::text[]) AND (category = ANY($3::text[]) OR '*' = ANY($3::text[]))
           RETURNING disclosure_id""", change_id, list(AWAITING_PUBLICATION), categories)
    return sorted(r["disclosure_id"] for r in rows)


async def awaiting(pool: asyncpg.Pool, disclosure_id: str) -> list[tuple[int, str, dt.date]]:
    """(law change id, title, the change's own deadline) of every change waiting for this record's publication."""
    rows = await pool.fetch(
        """SELECT u.law_change_id, l.title, l.update_due FROM law_change_updates u
             JOIN law_changes l ON l.id = u.law_change_id
            WHERE u.disclosure_id = $1 AND u.due IS NULL AND u.updated_at IS NULL ORDER BY u.law_change_id""",
        disclosure_id)
    return [(r["law_change_id"], r["title"], r["update_due"]) for r in rows]


async def set_due(pool: asyncpg.Pool, disclosure_id: str, change_id: int, due: dt.date) -> None:
    """The deadline of one waiting row, set once (at publication)."""
    await pool.execute(
        """UPDATE law_change_updates SET due = $3
            WHERE law_change_id = $1 AND disclosure_id = $2 AND due IS NULL""", change_id, disclosure_id, due)


async def open_updates(pool: asyncpg.Pool, disclosure_id: str) -> list[dict[str, object]]:
    """The law changes this record still has to answer (deadline or none yet), for its page."""
    rows = await pool.fetch(
        """SELECT u.law_change_id, l.title, u.due FROM law_change_updates u
             JOIN law_changes l ON l.id = u.law_change_id
            WHERE u.disclosure_id = $1 AND u.updated_at IS NULL ORDER BY u.law_change_id""", disclosure_id)
    return [dict(r) for r in rows]
