"""Retention classes, legal holds and disposition: evidence kept as long as it must be, and no longer.

The database decides (retain-until per object, from the classes that apply and the dates that start
their clocks); the object store enforces (S3 Object Lock COMPLIANCE retention and legal hold, or the
file store's equivalent).  Retain-until only ever moves later.  Every decision is an entry in a case
log, and disposal deletes the bytes but never the entries: the proof that a file existed, and when
and why it was destroyed, stays.

Disposal is crash-safe: ``disposing_since`` is set before the delete and ``disposed_at`` after the
entry, so a run killed in between is finished by the next run (the entry is deduplicated per object).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import asyncpg

from foundation.errors import CustodyError, Status
from integrity.hashing import object_key
from policy.cases import GOVERNANCE_CASE as GOVERNANCE_CASE
from policy.retention import RetentionClass
from services import locks
from services.locker import Locker
from services.locks import DEFAULT_CLASS as DEFAULT_CLASS
from services.locks import day_start as day_start
from services.locks import list_classes as list_classes
from services.permissions import authorize
from services.restriction import require_read
from storage import catalog
from storage.log import CaseExists, CaseNotFound, Draft, LogError
from storage.objects import ObjectLocked, ObjectNotFound, StoreError
from storage.principals import Principal

logger = logging.getLogger(__name__)



class RetentionError(CustodyError):
    status = Status.INVALID
    code = "retention"


class HoldNotFound(RetentionError):
    status = Status.NOT_FOUND
    code = "hold_not_found"


class NotAllowed(RetentionError):
    status = Status.FORBIDDEN
    code = "forbidden"


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
class DispositionReport:
    disposed: list[DueObject]
    held: list[DueObject]
    failed: list[tuple[DueObject, str]]
    dry_run: bool


async def ensure_governance_log(locker: Locker) -> None:
    if not await locker.log.case_exists(GOVERNANCE_CASE):
        try:
            await locker.log.open_case(GOVERNANCE_CASE, "system", title="Bureau governance log")
        except CaseExists:
            pass  # another process opened it first


# -- classes -----------------------------------------------------------------------------------------


async def set_class(locker: Locker, cls: RetentionClass, *, who: Principal, reason: str) -> None:
    """Create or change a class (an entry in the governance log, with the reason)."""
    authorize(who, "retention.set_class")
    actor = who.actor
    if not reason.strip():
        raise RetentionError("a reason is required to change a retention class")
    await ensure_governance_log(locker)
    await locker.pool.execute(
        """INSERT INTO retention_classes (name, years, months, days, trigger, description, updated_by, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, now())
           ON CONFLICT (name) DO UPDATE SET years = $2, months = $3, days = $4, trigger = $5, description = $6,
                                            updated_by = $7, updated_at = now()""",
        cls.name, cls.years, cls.months, cls.days, cls.trigger, cls.description, actor,
    )
    await locker.log.append(GOVERNANCE_CASE, Draft("retention.class_set", actor, {
        "class": cls.name, "years": cls.years, "months": cls.months, "days": cls.days,
        "trigger": cls.trigger, "description": cls.description, "reason": reason}))
    # Objects already under the class take the new period now (a longer one extends their locks; a
    # shorter one changes nothing already decided: retention never moves earlier).
    cases = await locker.pool.fetch(
        """SELECT DISTINCT e.case_id FROM evidence e JOIN cases c ON c.id = e.case_id
            WHERE e.retention_class = $1 OR c.retention_class = $1
               OR ($1 = $2 AND e.retention_class IS NULL AND c.retention_class IS NULL)""",
        cls.name, DEFAULT_CLASS)
    for row in cases:
        await apply_retention(locker, row["case_id"])


async def _class_exists(pool: asyncpg.Pool, name: str) -> None:
    if not await pool.fetchval("SELECT 1 FROM retention_classes WHERE name = $1", name):
        raise RetentionError(f"no retention class {name!r} (see `custody retention classes`)")


async def assign_class(locker: Locker, case_id: str, class_name: str, *, blake3: str | None, who: Principal,
                       reason: str) -> list[str]:
    """Assign a class to a case or one item of it; returns the objects whose retention moved."""
    authorize(who, "retention.assign")
    actor = who.actor
    await require_read(locker.pool, case_id, who)
    if not reason.strip():
        raise RetentionError("a reason is required to assign a retention class")
    await _class_exists(locker.pool, class_name)
    if blake3 is None:
        done = await locker.pool.execute("UPDATE cases SET retention_class = $2 WHERE id = $1", case_id, class_name)
        if done.endswith(" 0"):
            raise CaseNotFound(case_id)
    else:
        done = await locker.pool.execute(
            "UPDATE evidence SET retention_class = $3 WHERE case_id = $1 AND blake3 = $2", case_id, blake3, class_name)
        if done.endswith(" 0"):
            raise RetentionError(f"object {blake3} is not evidence in case {case_id}")
    await locker.log.append(case_id, Draft("retention.assigned", actor, {
        "class": class_name, "scope": "item" if blake3 else "case", "reason": reason,
        **({"blake3": blake3} if blake3 else {})}, blake3=blake3))
    return await apply_retention(locker, case_id)


async def close_case(locker: Locker, case_id: str, *, who: Principal, reason: str = "",
                     at: dt.datetime | None = None) -> list[str]:
    """Record the case as closed (starts the ``case_closed`` clocks)."""
    authorize(who, "case.close")
    actor = who.actor
    await require_read(locker.pool, case_id, who)
    at = at or dt.datetime.now(dt.UTC)
    done = await locker.pool.execute(
        "UPDATE cases SET closed_at = $2 WHERE id = $1 AND closed_at IS NULL", case_id, at)
    if done.endswith(" 0"):
        if not await locker.log.case_exists(case_id):
            raise CaseNotFound(case_id)
        raise RetentionError(f"case {case_id} is already closed")
    await locker.log.append(case_id, Draft("case.closed", actor, {"reason": reason, "closed_at": at.isoformat()}))
    return await apply_retention(locker, case_id)


async def apply_retention(locker: Locker, case_id: str, blake3_hexes: list[str] | None = None) -> list[str]:
    """Recompute retain-until for a case's objects and extend the store's locks; returns those extended."""
    return await locks.apply_retention(locker.pool, locker.store, case_id, blake3_hexes)


# -- holds ------------------------------------------------------------------------------------------


async def _covered(pool: asyncpg.Pool, case_id: str, blake3: str | None) -> list[str]:
    if blake3:
        found = await pool.fetchval("SELECT 1 FROM evidence WHERE case_id = $1 AND blake3 = $2", case_id, blake3)
        if not found:
            raise RetentionError(f"object {blake3} is not evidence in case {case_id}")
        return [blake3]
    return [r["blake3"] for r in await pool.fetch("SELECT DISTINCT blake3 FROM evidence WHERE case_id = $1", case_id)]


async def _set_store_hold(locker: Locker, hexd: str, on: bool) -> None:
    await locks.set_store_hold(locker.pool, locker.store, hexd, on)


async def place_hold(locker: Locker, case_id: str, *, blake3: str | None, reason: str, who: Principal) -> Hold:
    """Hold a case (all its evidence, present and future) or one item: nothing held is disposed."""
    authorize(who, "hold.place")
    actor = who.actor
    await require_read(locker.pool, case_id, who)
    if not reason.strip():
        raise RetentionError("a legal hold needs a reason")
    if not await locker.log.case_exists(case_id):
        raise CaseNotFound(case_id)
    covered = await _covered(locker.pool, case_id, blake3)
    row = await locker.pool.fetchrow(
        "INSERT INTO holds (case_id, blake3, reason, placed_by) VALUES ($1, $2, $3, $4) RETURNING *",
        case_id, blake3, reason, actor)
    for hexd in covered:
        await _set_store_hold(locker, hexd, True)
    await locker.log.append(case_id, Draft("hold.placed", actor, {
        "hold": row["id"], "scope": "item" if blake3 else "case", "reason": reason,
        "objects": len(covered), **({"blake3": blake3} if blake3 else {})}, blake3=blake3))
    return Hold(**dict(row))


async def active_holds_on(pool: Any, blake3_hexes: list[str]) -> dict[str, list[int]]:
    rows = await pool.fetch(
        """SELECT e.blake3, array_agg(DISTINCT h.id ORDER BY h.id) AS holds
             FROM evidence e JOIN holds h ON h.case_id = e.case_id AND h.lifted_at IS NULL
                                         AND (h.blake3 IS NULL OR h.blake3 = e.blake3)
            WHERE e.blake3 = ANY($1::text[]) GROUP BY e.blake3""",
        blake3_hexes,
    )
    return {r["blake3"]: list(r["holds"]) for r in rows}


async def lift_hold(locker: Locker, hold_id: int, *, who: Principal, reason: str) -> Hold:
    """Lift a hold (its placer or an admin); objects no other hold covers are released in the store."""
    authorize(who, "hold.lift")
    actor = who.actor
    if not reason.strip():
        raise RetentionError("lifting a legal hold needs a reason")
    row = await locker.pool.fetchrow("SELECT * FROM holds WHERE id = $1", hold_id)
    if row is None:
        raise HoldNotFound(f"no legal hold {hold_id}")
    if row["lifted_at"] is not None:
        raise RetentionError(f"legal hold {hold_id} was already lifted")
    if who.role != "admin" and actor != row["placed_by"]:
        raise NotAllowed(f"only an admin or its placer ({row['placed_by']}) may lift legal hold {hold_id}")
    row = await locker.pool.fetchrow(
        "UPDATE holds SET lifted_by = $2, lifted_at = now(), lift_reason = $3 WHERE id = $1 RETURNING *",
        hold_id, actor, reason)
    covered = await _covered(locker.pool, row["case_id"], row["blake3"])
    still = await active_holds_on(locker.pool, covered)
    for hexd in covered:
        if hexd not in still:
            await _set_store_hold(locker, hexd, False)
    await locker.log.append(row["case_id"], Draft("hold.lifted", actor, {
        "hold": hold_id, "reason": reason, "released": len([h for h in covered if h not in still]),
        **({"blake3": row["blake3"]} if row["blake3"] else {})}, blake3=row["blake3"]))
    return Hold(**dict(row))


async def get_hold(pool: asyncpg.Pool, hold_id: int) -> Hold:
    row = await pool.fetchrow("SELECT * FROM holds WHERE id = $1", hold_id)
    if row is None:
        raise HoldNotFound(f"no legal hold {hold_id}")
    return Hold(**dict(row))


async def list_holds(pool: asyncpg.Pool, case_id: str | None = None, active_only: bool = True) -> list[Hold]:
    rows = await pool.fetch(
        """SELECT * FROM holds WHERE ($1::text IS NULL OR case_id = $1) AND (NOT $2 OR lifted_at IS NULL)
            ORDER BY id""", case_id, active_only)
    return [Hold(**dict(r)) for r in rows]


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


async def plan_disposition(locker: Locker, *, now: dt.datetime | None = None) -> DispositionReport:
    """What a disposition run would delete now, and what holds keep: a dry run, changing nothing."""
    listed = await due(locker.pool, now or dt.datetime.now(dt.UTC))
    return DispositionReport([d for d in listed if not d.held_by], [d for d in listed if d.held_by], [], True)


async def run_disposition(locker: Locker, *, now: dt.datetime | None = None, dry_run: bool = False,
                          who: Principal) -> DispositionReport:
    """Delete what is due and not held; every disposal is logged in each case that held the object."""
    authorize(who, "retention.run")
    now = now or dt.datetime.now(dt.UTC)
    plan = await plan_disposition(locker, now=now)
    if dry_run:
        return plan
    todo, held, actor = plan.disposed, plan.held, who.actor
    disposed: list[DueObject] = []
    failed: list[tuple[DueObject, str]] = []
    for item in todo:
        try:
            await _dispose(locker, item, actor, now)
            disposed.append(item)
        except (StoreError, LogError) as exc:
            logger.error("disposition of %s failed: %s", item.blake3, exc)
            failed.append((item, str(exc)))
    return DispositionReport(disposed, held, failed, False)


async def _dispose(locker: Locker, item: DueObject, actor: str, now: dt.datetime) -> None:
    await locker.pool.execute(
        "UPDATE objects SET disposing_since = coalesce(disposing_since, now()) WHERE blake3 = $1", item.blake3)
    try:
        await locker.store.delete(object_key(item.blake3), item.version_id)
    except ObjectNotFound:
        pass  # deleted by an earlier run that died before logging it
    except ObjectLocked:
        await locker.pool.execute("UPDATE objects SET disposing_since = NULL WHERE blake3 = $1", item.blake3)
        raise
    for case_id in item.cases:
        await locker.log.append(case_id, Draft("retention.disposed", actor, {
            "blake3": item.blake3, "sha256": item.sha256, "size": item.size,
            "retain_until": item.retain_until.isoformat(), "reason": "retention period passed",
        }, blake3=item.blake3, dedupe=catalog.object_dedupe("retention.disposed", item.blake3, item.lives)))
    await locker.pool.execute("UPDATE objects SET disposed_at = $2 WHERE blake3 = $1", item.blake3, now)


async def case_objects(pool: asyncpg.Pool, case_id: str) -> list[dict[str, Any]]:
    """Retention state of each object of a case."""
    rows = await pool.fetch(
        """SELECT DISTINCT ON (e.blake3) e.blake3, e.kind, e.size, coalesce(e.retention_class, c.retention_class,
                  'standard') AS class, o.retain_until, o.retention_open, o.legal_hold, o.disposed_at
             FROM evidence e JOIN objects o ON o.blake3 = e.blake3 JOIN cases c ON c.id = e.case_id
            WHERE e.case_id = $1 ORDER BY e.blake3, e.seq""", case_id)
    return [dict(r) for r in rows]
