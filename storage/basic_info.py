"""Basic enforcement information pages (§二 行政执法基本信息): their rows and law-change updates.

The rules (who may act, which state allows what, the deadlines) are ``services.basic_info``'s; this
module only reads and writes rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import asyncpg

from policy.log_state import PAGE_FIELDS


@dataclass(frozen=True, slots=True)
class Page:
    id: str
    kind: str
    title: str
    body: str
    category: str
    state: str
    public_body: str | None
    published_on: dt.date | None
    updated_on: dt.date | None
    public_history: list[dict[str, Any]]
    created_by: str
    created_by_id: int | None
    approved_by: str | None
    approved_by_id: int | None
    published_by: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


def _page(row: asyncpg.Record) -> Page:
    return Page(**dict(row))


async def insert(pool: asyncpg.Pool | asyncpg.Connection, page_id: str, kind: str, title: str, body: str, category: str,
                 created_by: str, created_by_id: int | None) -> Page:
    row = await pool.fetchrow(
        """INSERT INTO basic_info_pages (id, kind, title, body, category, created_by, created_by_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *""",
        page_id, kind, title, body, category, created_by, created_by_id)
    return _page(row)


async def get(pool: asyncpg.Pool, page_id: str) -> Page | None:
    row = await pool.fetchrow("SELECT * FROM basic_info_pages WHERE id = $1", page_id)
    return None if row is None else _page(row)


async def listing(pool: asyncpg.Pool, *, state: str | None = None) -> list[Page]:
    rows = await pool.fetch(
        """SELECT * FROM basic_info_pages WHERE ($1::text IS NULL OR state = $1)
            ORDER BY kind, title, id""", state)
    return [_page(r) for r in rows]


async def update(pool: asyncpg.Pool | asyncpg.Connection, page_id: str, expected_state: str, seen: dt.datetime,
                 sets: dict[str, Any]) -> Page | None:
    """Set ``sets`` if the page is still in ``expected_state`` as last read (compare-and-set); else None."""
    cols = list(sets)
    assignments = ", ".join(f"{c} = ${i + 4}" for i, c in enumerate(cols))
    row = await pool.fetchrow(
        f"""UPDATE basic_info_pages SET {assignments}, updated_at = clock_timestamp()
             WHERE id = $1 AND state = $2 AND updated_at = $3 RETURNING *""",
        page_id, expected_state, seen, *[sets[c] for c in cols])
    return None if row is None else _page(row)


async def mark_for_update(pool: asyncpg.Pool, change_id: int, categories: list[str],
                          due: dt.date) -> tuple[list[str], list[str]]:
    """Rows for the pages a law change touches: (published, with ``due``; not yet published, due later)."""
    rows = await pool.fetch(
        """INSERT INTO basic_info_updates (law_change_id, page_id, due)
           SELECT $1, id, CASE WHEN state = 'published' THEN $2::date END FROM basic_info_pages
            WHERE state <> 'withdrawn' AND (category = ANY($3::text[]) OR '*' = ANY($3::text[]))
           RETURNING page_id, due""", change_id, due, categories)
    return (sorted(r["page_id"] for r in rows if r["due"] is not None),
            sorted(r["page_id"] for r in rows if r["due"] is None))


async def awaiting(pool: asyncpg.Pool, page_id: str) -> list[tuple[int, dt.date]]:
    """(law change, its own deadline) of each change waiting for this page's publication."""
    rows = await pool.fetch(
        """SELECT u.law_change_id, l.update_due FROM basic_info_updates u JOIN law_changes l ON l.id = u.law_change_id
            WHERE u.page_id = $1 AND u.due IS NULL AND u.updated_at IS NULL ORDER BY u.law_change_id""", page_id)
    return [(r["law_change_id"], r["update_due"]) for r in rows]


async def set_due(pool: asyncpg.Pool | asyncpg.Connection, page_id: str, change_id: int, due: dt.date) -> None:
    await pool.execute(
        "UPDATE basic_info_updates SET due = $3 WHERE law_change_id = $1 AND page_id = $2 AND due IS NULL",
        change_id, page_id, due)


async def open_updates(pool: asyncpg.Pool, page_id: str | None = None) -> list[dict[str, Any]]:
    """Law-change updates not yet made (of one page, or all), with their deadlines."""
    rows = await pool.fetch(
        """SELECT u.law_change_id, u.page_id, u.due, l.title AS law_title, p.title
             FROM basic_info_updates u JOIN law_changes l ON l.id = u.law_change_id
             JOIN basic_info_pages p ON p.id = u.page_id
            WHERE u.updated_at IS NULL AND ($1::text IS NULL OR u.page_id = $1)
            ORDER BY u.due NULLS LAST, u.page_id""", page_id)
    return [dict(r) for r in rows]


async def answer_update(pool: asyncpg.Pool | asyncpg.Connection, page_id: str, change_id: int) -> bool:
    """Mark the page updated for the change; False if the change does not touch it (or was answered)."""
    done = await pool.fetchval(
        """UPDATE basic_info_updates SET updated_at = now()
            WHERE page_id = $1 AND law_change_id = $2 AND updated_at IS NULL RETURNING page_id""",
        page_id, change_id)
    return done is not None


async def public(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    """Published pages as the portal shows them."""
    rows = await pool.fetch(
        """SELECT id, kind, title, public_body AS body, published_on, updated_on FROM basic_info_pages
            WHERE state = 'published' ORDER BY kind, title, id""")
    return [dict(r) for r in rows]


async def logged_rows(pool: asyncpg.Pool) -> dict[str, dict[str, Any]]:
    """Every page as scrub compares it with the governance log (``policy.log_state.PAGE_FIELDS``)."""
    rows = await pool.fetch(f"SELECT id, {', '.join(PAGE_FIELDS)} FROM basic_info_pages")
    return {r["id"]: dict(r) for r in rows}
