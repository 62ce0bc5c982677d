"""The retention tables: classes, per-object retain-until and holds, the due index, disposal marks.

Only rows here; what applies to which object, who may act and what is logged are decided in
``services.locks`` and ``services.retention``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg

from policy.retention import RetentionClass


@dataclass(frozen=True, slots=True)
class Hold:
    id: int
    case_id: str
    blake3: str | None
    reason: str
    placed_by: str
    placed_at: dt.datetime
    lifted_by: str | None
    lifted_at: dt.datetime | None
    lift_reason: str | None


@dataclass(frozen=True, slots=True)
class DueObject:
    blake3: str
    sha256: str
    size: int
    retain_until: dt.datetime
    cases: list[str]
    held_by: list[int]  # active holds covering it (then it is listed but never disposed)
    lives: int = 0  # times stored again after a disposal (keys its log entries: catalog.object_dedupe)
    version_id: str | None = None  # the store version the catalogue recorded: disposal deletes exactly it


@dataclass(frozen=True, slots=True)
class LockInput:
    """What decides one object's lock in one case: the dates that start the clocks and the classes."""

    blake3: str
    case_id: str
    item_class: str | None
    case_class: str | None
    recorded: dt.date
    case_closed: dt.date | None
    decision: dt.date | None
    takedown_due: dt.date | None


# -- classes -----------------------------------------------------------------------------------------


async def list_classes(pool: asyncpg.Pool) -> list[RetentionClass]:
    rows = await pool.fetch(
        "SELECT name, years, months, days, trigger, description FROM retention_classes ORDER BY name")
    return [RetentionClass(**dict(r)) for r in rows]


async def class_exists(pool: asyncpg.Pool, name: str) -> bool:
    return bool(await pool.fetchval("SELECT 1 FROM retention_classes WHERE name = $1", name))


async def put_class(pool: asyncpg.Pool, cls: RetentionClass, actor: str) -> None:
    await pool.execute(
        """INSERT INTO retention_classes (name, years, months, days, trigger, description, updated_by, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, now())
           ON CONFLICT (name) DO UPDATE SET years = $2, months = $3, days = $4, trigger = $5, description = $6,
                                            updated_by = $7, updated_at = now()""",
        cls.name, cls.years, cls.months, cls.days, cls.trigger, cls.description, actor,
    )


async def cases_under_class(pool: asyncpg.Pool, name: str, default: str) -> list[str]:
    """Cases with evidence the class applies to (``default`` applies where no class is assigned)."""
    rows = await pool.fetch(
        """SELECT DISTINCT e.case_id FROM evidence e JOIN cases c ON c.id = e.case_id
            WHERE e.retention_class = $1 OR c.retention_class = $1
               OR ($1 = $2 AND e.retention_class IS NULL AND c.retention_class IS NULL)""",
        name, default)
    return [r["case_id"] for r in rows]


async def assign_case_class(pool: asyncpg.Pool, case_id: str, name: str) -> bool:
    """False when there is no such case."""
    done = await pool.execute("UPDATE cases SET retention_class = $2 WHERE id = $1", case_id, name)
    return not done.endswith(" 0")


async def assign_item_class(pool: asyncpg.Pool, case_id: str, blake3_hex: str, name: str) -> bool:
    """False when the object is not evidence in the case."""
    done = await pool.execute(
        "UPDATE evidence SET retention_class = $3 WHERE case_id = $1 AND blake3 = $2", case_id, blake3_hex, name)
    return not done.endswith(" 0")


async def close_case(pool: asyncpg.Pool, case_id: str, at: dt.datetime) -> bool:
    """False when the case is unknown or already closed."""
    done = await pool.execute("UPDATE cases SET closed_at = $2 WHERE id = $1 AND closed_at IS NULL", case_id, at)
    return not done.endswith(" 0")


# -- per-object locks --------------------------------------------------------------------------------


async def lock_inputs(pool: asyncpg.Pool, blake3_hexes: list[str]) -> list[LockInput]:
    """One row per (object, case it is evidence in) with everything its lock date depends on."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT e.blake3, e.case_id, e.retention_class, e.recorded_at, o.stored_at
                 FROM evidence e JOIN objects o ON o.blake3 = e.blake3
                WHERE e.blake3 = ANY($1::text[])""",
            blake3_hexes,
        )
        facts = await _case_facts(conn, {r["case_id"] for r in rows})
    out = []
    for row in rows:
        case = facts[row["case_id"]]
        out.append(LockInput(
            blake3=row["blake3"], case_id=row["case_id"], item_class=row["retention_class"],
            case_class=case["retention_class"], recorded=(row["recorded_at"] or row["stored_at"]).date(),
            case_closed=case["closed_at"].date() if case["closed_at"] else None,
            decision=case["decision_date"], takedown_due=case["takedown_due"]))
    return out


async def _case_facts(conn: Any, case_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT c.id, c.retention_class, c.closed_at,
                  (SELECT max(d.decision_date) FROM disclosures d
                    WHERE d.case_id = c.id AND d.state NOT IN ('withdrawn', 'revoked')) AS decision_date,
                  (SELECT max(d.takedown_due) FROM disclosures d
                    WHERE d.case_id = c.id AND d.state IN ('published', 'taken_down')) AS takedown_due
             FROM cases c WHERE c.id = ANY($1::text[])""",
        list(case_ids),
    )
    return {r["id"]: dict(r) for r in rows}


async def case_object_hashes(pool: asyncpg.Pool, case_id: str) -> list[str]:
    return [r["blake3"] for r in await pool.fetch("SELECT DISTINCT blake3 FROM evidence WHERE case_id = $1", case_id)]


async def is_evidence_in(pool: asyncpg.Pool, case_id: str, blake3_hex: str) -> bool:
    return bool(await pool.fetchval("SELECT 1 FROM evidence WHERE case_id = $1 AND blake3 = $2", case_id, blake3_hex))


async def raise_retain_until(pool: asyncpg.Pool, blake3_hex: str, until: dt.datetime | None,
                             is_open: bool) -> tuple[bool, str | None] | None:
    """Move retain-until later (never earlier); (moved, version id), or None for a disposed object."""
    row = await pool.fetchrow(
        """WITH old AS (SELECT blake3, retain_until FROM objects WHERE blake3 = $1 FOR UPDATE)
           UPDATE objects o SET retention_open = $3,
                  retain_until = CASE WHEN $2::timestamptz > coalesce(o.retain_until, '-infinity')
                                      THEN $2 ELSE o.retain_until END
             FROM old WHERE o.blake3 = old.blake3 AND o.disposed_at IS NULL
        RETURNING o.retain_until IS DISTINCT FROM old.retain_until AS moved, o.version_id""",
        blake3_hex, until, is_open,
    )
    return None if row is None else (row["moved"], row["version_id"])


async def set_legal_hold_flag(pool: asyncpg.Pool, blake3_hex: str, on: bool) -> str | None:
    """The object row's hold flag; returns the version the store's hold goes on."""
    version: str | None = await pool.fetchval(
        "UPDATE objects SET legal_hold = $2 WHERE blake3 = $1 RETURNING version_id", blake3_hex, on)
    return version


# -- holds ------------------------------------------------------------------------------------------


async def case_held(pool: asyncpg.Pool, case_id: str) -> bool:
    """A hold on the whole case is active (so it covers new evidence too)."""
    return bool(await pool.fetchval(
        "SELECT 1 FROM holds WHERE case_id = $1 AND blake3 IS NULL AND lifted_at IS NULL", case_id))


async def insert_hold(pool: asyncpg.Pool, case_id: str, blake3_hex: str | None, reason: str, actor: str) -> Hold:
    row = await pool.fetchrow(
        "INSERT INTO holds (case_id, blake3, reason, placed_by) VALUES ($1, $2, $3, $4) RETURNING *",
        case_id, blake3_hex, reason, actor)
    return Hold(**dict(row))


async def get_hold(pool: asyncpg.Pool, hold_id: int) -> Hold | None:
    row = await pool.fetchrow("SELECT * FROM holds WHERE id = $1", hold_id)
    return None if row is None else Hold(**dict(row))


async def mark_lifted(pool: asyncpg.Pool, hold_id: int, actor: str, reason: str) -> Hold:
    row = await pool.fetchrow(
        "UPDATE holds SET lifted_by = $2, lifted_at = now(), lift_reason = $3 WHERE id = $1 RETURNING *",
        hold_id, actor, reason)
    return Hold(**dict(row))


async def list_holds(pool: asyncpg.Pool, case_id: str | None = None, active_only: bool = True) -> list[Hold]:
    rows = await pool.fetch(
        """SELECT * FROM holds WHERE ($1::text IS NULL OR case_id = $1) AND (NOT $2 OR lifted_at IS NULL)
            ORDER BY id""", case_id, active_only)
    return [Hold(**dict(r)) for r in rows]


async def active_holds_on(pool: Any, blake3_hexes: list[str]) -> dict[str, list[int]]:
    rows = await pool.fetch(
        """SELECT e.blake3, array_agg(DISTINCT h.id ORDER BY h.id) AS holds
             FROM evidence e JOIN holds h ON h.case_id = e.case_id AND h.lifted_at IS NULL
                                         AND (h.blake3 IS NULL OR h.blake3 = e.blake3)
            WHERE e.blake3 = ANY($1::text[]) GROUP BY e.blake3""",
        blake3_hexes,
    )
    return {r["blake3"]: list(r["holds"]) for r in rows}


# -- disposition ------------------------------------------------------------------------------------


async def due(pool: asyncpg.Pool, now: dt.datetime, limit: int = 100_000) -> list[DueObject]:
    """Objects whose retention has passed, with the holds that still keep them (index-driven)."""
    # One pass over the due index, then hash joins for cases, holds and live decisions (no per-row subqueries).
    rows = await pool.fetch(
        """WITH d AS (SELECT blake3, sha256, size, retain_until, legal_hold, lives, version_id FROM objects
                       WHERE disposed_at IS NULL AND NOT retention_open AND retain_until <= $1
                       ORDER BY retain_until, blake3 LIMIT $2),
                e AS (SELECT e.blake3, e.case_id FROM evidence e JOIN d USING (blake3)),
                c AS (SELECT blake3, array_agg(DISTINCT case_id) AS cases FROM e GROUP BY blake3),
                h AS (SELECT e.blake3, array_agg(DISTINCT h.id) AS holds FROM e
                        JOIN holds h ON h.case_id = e.case_id AND h.lifted_at IS NULL
                                    AND (h.blake3 IS NULL OR h.blake3 = e.blake3)
                       GROUP BY e.blake3),
                -- belt and braces: never while a published decision of the case is still up
                p AS (SELECT DISTINCT e.blake3 FROM e JOIN disclosures x ON x.case_id = e.case_id
                       WHERE x.state = 'published')
           SELECT d.blake3, d.sha256, d.size, d.retain_until, d.legal_hold, d.lives, d.version_id,
                  coalesce(c.cases, '{}') AS cases,
                  coalesce(h.holds, '{}') AS held_by
             FROM d LEFT JOIN c USING (blake3) LEFT JOIN h USING (blake3)
            WHERE NOT EXISTS (SELECT 1 FROM p WHERE p.blake3 = d.blake3)
            ORDER BY d.retain_until, d.blake3""",
        now, limit,
    )
    out = []
    for r in rows:
        held = sorted(r["held_by"]) or ([0] if r["legal_hold"] else [])
        out.append(DueObject(r["blake3"], r["sha256"], r["size"], r["retain_until"], sorted(r["cases"]), held,
                             r["lives"], r["version_id"]))
    return out


async def lock_row(pool: asyncpg.Pool, blake3_hex: str) -> tuple[dt.datetime | None, bool, str | None] | None:
    """The lock the catalogue recorded for a live object: retain-until, legal hold, store version."""
    row = await pool.fetchrow(
        "SELECT retain_until, legal_hold, version_id FROM objects WHERE blake3 = $1 AND disposed_at IS NULL",
        blake3_hex)
    return None if row is None else (row["retain_until"], row["legal_hold"], row["version_id"])


async def mark_disposing(pool: asyncpg.Pool, blake3_hex: str) -> None:
    """Set before the delete, so a run killed between delete and entry is finished by the next."""
    await pool.execute(
        "UPDATE objects SET disposing_since = coalesce(disposing_since, now()) WHERE blake3 = $1", blake3_hex)


async def clear_disposing(pool: asyncpg.Pool, blake3_hex: str) -> None:
    await pool.execute("UPDATE objects SET disposing_since = NULL WHERE blake3 = $1", blake3_hex)


async def mark_disposed(pool: asyncpg.Pool, blake3_hex: str, at: dt.datetime) -> None:
    await pool.execute("UPDATE objects SET disposed_at = $2 WHERE blake3 = $1", blake3_hex, at)


async def case_objects(pool: asyncpg.Pool, case_id: str) -> list[dict[str, Any]]:
    """Retention state of each object of a case."""
    rows = await pool.fetch(
        """SELECT DISTINCT ON (e.blake3) e.blake3, e.kind, e.size, coalesce(e.retention_class, c.retention_class,
                  'standard') AS class, o.retain_until, o.retention_open, o.legal_hold, o.disposed_at
             FROM evidence e JOIN objects o ON o.blake3 = e.blake3 JOIN cases c ON c.id = e.case_id
            WHERE e.case_id = $1 ORDER BY e.blake3, e.seq""", case_id)
    return [dict(r) for r in rows]
