"""Disclosure records' rows: the statements the disclosure services run on the ``disclosures`` table.

The rules (who may act, which state allows what) live in ``services``; this module only reads and
writes rows, so a statement is written once whatever front end asked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from policy.log_state import LAW_CHANGE_FIELDS
from storage import disclosure_deadlines
from storage.db import like_literal


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


class DecisionRowExists(Exception):
    """The decision already has a live record (the unique index); the service says so in its words."""


async def row(pool: asyncpg.Pool, disclosure_id: str) -> asyncpg.Record | None:
    return await pool.fetchrow("SELECT * FROM disclosures WHERE id = $1", disclosure_id)


async def rows(pool: asyncpg.Pool, *, state: str | None, case_id: str | None, limit: int,
               offset: int) -> list[asyncpg.Record]:
    return list(await pool.fetch(
        """SELECT * FROM disclosures WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR case_id = $2)
            ORDER BY created_at DESC, id LIMIT $3 OFFSET $4""", state, case_id, limit, offset))


async def superseded(pool: asyncpg.Pool, decision_no: str) -> str | None:
    """The latest withdrawn or revoked record of a decision: a new draft of it is linked to it."""
    found = await pool.fetchval(
        """SELECT id FROM disclosures WHERE decision_no = $1 AND state IN ('withdrawn', 'revoked')
            ORDER BY updated_at DESC LIMIT 1""", decision_no)
    return None if found is None else str(found)


async def insert(pool: asyncpg.Pool, disclosure_id: str, case_id: str, record: Mapping[str, Any], *,
                 party_type: str, category: str, decision_date: dt.date, created_by: str, created_by_id: int,
                 supersedes: str | None, major: Sequence[str], review_state: str) -> asyncpg.Record:
    try:
        return await pool.fetchrow(
            """INSERT INTO disclosures (id, case_id, decision_no, party_type, category, decision_date, record,
                                        created_by, created_by_id, supersedes, major, review_state)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING *""",
            disclosure_id, case_id, record["decision_no"], party_type, category, decision_date, dict(record),
            created_by, created_by_id, supersedes, list(major), review_state)
    except asyncpg.UniqueViolationError:
        raise DecisionRowExists(record["decision_no"]) from None


async def flag_major(pool: asyncpg.Pool, disclosure_id: str, codes: Sequence[str]) -> asyncpg.Record:
    return await pool.fetchrow(
        """UPDATE disclosures SET major = $2, review_state = CASE WHEN review_state = 'passed' THEN 'passed'
                                                              ELSE 'pending' END, updated_at = now()
            WHERE id = $1 RETURNING *""", disclosure_id, list(codes))


async def insert_review(pool: asyncpg.Pool | asyncpg.Connection, disclosure_id: str, *, reviewer: str,
                        reviewer_id: int, outcome: str,
                        checklist: Mapping[str, bool], opinion: str, record_blake3: str, seq: int, case_id: str,
                        decision_no: str, decision: str | None) -> None:
    await pool.execute(
        """INSERT INTO reviews (disclosure_id, reviewer, outcome, checklist, opinion, record_blake3, seq, case_id,
                                decision_no, reviewer_id, decision)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)""",
        disclosure_id, reviewer, outcome, dict(checklist), opinion, record_blake3, seq, case_id,
        decision_no, reviewer_id, decision)


async def set_review_state(pool: asyncpg.Pool | asyncpg.Connection, disclosure_id: str, state: str) -> asyncpg.Record:
    return await pool.fetchrow(
        "UPDATE disclosures SET review_state = $2, updated_at = now() WHERE id = $1 RETURNING *",
        disclosure_id, state)


async def reviews(pool: asyncpg.Pool, disclosure_id: str) -> list[dict[str, Any]]:
    return [dict(r) for r in await pool.fetch(
        "SELECT * FROM reviews WHERE disclosure_id = $1 ORDER BY id", disclosure_id)]


async def update_if_unchanged(pool: asyncpg.Pool, disclosure_id: str, expected_state: str, seen: dt.datetime,
                              sets: Mapping[str, Any]) -> asyncpg.Record | None:
    """Set ``sets`` only if nobody changed the record since it was read (state and ``updated_at``)."""
    cols = list(sets)
    assignments = ", ".join(f"{c} = ${i + 4}" for i, c in enumerate(cols))
    return await pool.fetchrow(
        f"""UPDATE disclosures SET {assignments}, updated_at = clock_timestamp()
             WHERE id = $1 AND state = $2 AND updated_at = $3 RETURNING *""",
        disclosure_id, expected_state, seen, *[sets[c] for c in cols])


async def stamp_public(pool: asyncpg.Pool, disclosure_id: str, size: int, root: bytes, note: str) -> asyncpg.Record:
    return await pool.fetchrow(
        """UPDATE disclosures SET public_size = $2, public_root = $3, public_checkpoint = $4
            WHERE id = $1 RETURNING *""", disclosure_id, size, root, note)


async def due_takedowns(pool: asyncpg.Pool, today: dt.date) -> list[asyncpg.Record]:
    return list(await pool.fetch(
        "SELECT * FROM disclosures WHERE state = 'published' AND takedown_due <= $1 ORDER BY takedown_due, id",
        today))


async def due_updates(pool: asyncpg.Pool, today: dt.date) -> list[dict[str, Any]]:
    return [dict(r) for r in await pool.fetch(
        """SELECT u.law_change_id, u.disclosure_id, u.due, l.title, l.effective, d.case_id, d.decision_no,
                  u.due < $1 AS overdue
             FROM law_change_updates u JOIN law_changes l ON l.id = u.law_change_id
             JOIN disclosures d ON d.id = u.disclosure_id
            WHERE u.updated_at IS NULL AND d.state = 'published' ORDER BY u.due, u.disclosure_id""", today)]


async def law_change_touches(pool: asyncpg.Pool, law_change: int, disclosure_id: str) -> bool:
    return bool(await pool.fetchval(
        "SELECT 1 FROM law_change_updates WHERE law_change_id = $1 AND disclosure_id = $2", law_change, disclosure_id))


async def mark_updated(pool: asyncpg.Pool, disclosure_id: str, law_change: int | None) -> None:
    """The record's outstanding law-change updates (that one, or all) are made."""
    await pool.execute(
        """UPDATE law_change_updates SET updated_at = now()
            WHERE disclosure_id = $1 AND updated_at IS NULL AND ($2::bigint IS NULL OR law_change_id = $2)""",
        disclosure_id, law_change)


async def insert_law_change(pool: asyncpg.Pool, *, title: str, effective: dt.date, categories: Sequence[str],
                            description: str, update_due: dt.date,
                            recorded_by: str) -> tuple[int, list[str], list[str]]:
    """The change and, in the same transaction, an outstanding update for every published record it
    touches (its category, or every record for ``*``) and a row with no deadline yet for every draft or
    approved one; returns its id, the published records and the unpublished ones."""
    async with pool.acquire() as conn, conn.transaction():
        change_id = await conn.fetchval(
            """INSERT INTO law_changes (title, effective, categories, description, update_due, recorded_by)
               VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
            title, effective, list(categories), description, update_due, recorded_by)
        affected = await conn.fetch(
            """INSERT INTO law_change_updates (law_change_id, disclosure_id, due)
               SELECT $1, id, $2 FROM disclosures
                WHERE state = 'published' AND (category = ANY($3::text[]) OR '*' = ANY($3::text[]))
               RETURNING disclosure_id""", change_id, update_due, list(categories))
        awaiting = await disclosure_deadlines.add_awaiting_publication(conn, change_id, list(categories))
    return int(change_id), sorted(r["disclosure_id"] for r in affected), awaiting


async def logged_law_changes(pool: asyncpg.Pool) -> dict[int, dict[str, Any]]:
    """Every law change as scrub compares it with the governance log (``policy.log_state.LAW_CHANGE_FIELDS``)."""
    rows = await pool.fetch(f"SELECT id, {', '.join(LAW_CHANGE_FIELDS)} FROM law_changes")
    return {int(r["id"]): dict(r) for r in rows}


async def unclassified_published(pool: asyncpg.Pool) -> list[str]:
    return sorted(r["id"] for r in await pool.fetch(
        "SELECT id FROM disclosures WHERE state = 'published' AND category = ''"))


async def law_changes(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    return [dict(r) for r in await pool.fetch(
        """SELECT l.*, count(u.due) AS affected, count(u.updated_at) AS updated
             FROM law_changes l LEFT JOIN law_change_updates u ON u.law_change_id = l.id
            GROUP BY l.id ORDER BY l.effective DESC, l.id DESC""")]


async def published(pool: asyncpg.Pool, *, text: str | None, limit: int, offset: int) -> list[asyncpg.Record]:
    """Published records for the portal; a restricted case's id and checkpoint note are never selected."""
    return list(await pool.fetch(
        """SELECT d.id, d.public_text, d.public_fields, d.published_on, d.takedown_due, d.updated_at,
                  d.corrected_on, d.public_history, d.public_size AS checkpoint_size,
                  d.public_root AS checkpoint_root,
                  CASE WHEN c.restriction = 'none' THEN d.case_id END AS case_id,
                  CASE WHEN c.restriction = 'none' THEN d.public_checkpoint END AS checkpoint
             FROM disclosures d JOIN cases c ON c.id = d.case_id
            WHERE d.state = 'published' AND ($1::text IS NULL OR d.public_text ILIKE $1)
            ORDER BY d.published_on DESC, d.id LIMIT $2 OFFSET $3""",
        None if not text else "%" + like_literal(text) + "%", limit, offset))


async def notices(pool: asyncpg.Pool, *, limit: int, offset: int) -> list[asyncpg.Record]:
    return list(await pool.fetch(
        """SELECT id, public_fields, end_reason, notice, ended_on FROM disclosures
            WHERE state = 'taken_down' AND notice IS NOT NULL ORDER BY ended_on DESC, id LIMIT $1 OFFSET $2""",
        limit, offset))


async def linked_evidence(pool: asyncpg.Pool, case_id: str) -> list[asyncpg.Record]:
    """Each object of a case once (its first entry) with its lock state: what a links check re-hashes."""
    return list(await pool.fetch(
        """SELECT DISTINCT ON (e.blake3) e.blake3, e.seq, e.kind, e.size, o.retain_until, o.legal_hold,
                  o.disposed_at, o.retention_open
             FROM evidence e JOIN objects o ON o.blake3 = e.blake3 WHERE e.case_id = $1
            ORDER BY e.blake3, e.seq""", case_id))
