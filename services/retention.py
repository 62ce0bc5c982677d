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
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg

from integrity.hashing import object_key
from policy.retention import RetentionClass
from services.locker import Locker
from storage import catalog
from storage.log import CaseNotFound, Draft, LogError
from storage.objects import ObjectLocked, ObjectNotFound, StoreError

logger = logging.getLogger(__name__)

#: Bureau-wide decisions (retention classes, law changes) are entries in this log, like a case's.
GOVERNANCE_CASE = "governance"
DEFAULT_CLASS = "standard"


class RetentionError(LogError):
    status = 422
    code = "retention"


class HoldNotFound(RetentionError):
    status = 404
    code = "hold_not_found"


class NotAllowed(RetentionError):
    status = 403
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


@dataclass(frozen=True, slots=True)
class DispositionReport:
    disposed: list[DueObject]
    held: list[DueObject]
    failed: list[tuple[DueObject, str]]
    dry_run: bool


def day_start(d: dt.date) -> dt.datetime:
    """Retention is decided in days; the lock runs to the start (UTC) of the day after the period ends."""
    return dt.datetime.combine(d + dt.timedelta(days=1), dt.time(0), dt.UTC)


async def ensure_governance_log(locker: Locker) -> None:
    if not await locker.log.case_exists(GOVERNANCE_CASE):
        try:
            await locker.log.open_case(GOVERNANCE_CASE, "system", title="Bureau governance log")
        except LogError:
            pass  # another process opened it first


# -- classes -----------------------------------------------------------------------------------------


async def list_classes(pool: asyncpg.Pool) -> list[RetentionClass]:
    rows = await pool.fetch(
        "SELECT name, years, months, days, trigger, description FROM retention_classes ORDER BY name")
    return [RetentionClass(**dict(r)) for r in rows]


async def set_class(locker: Locker, cls: RetentionClass, *, actor: str, reason: str) -> None:
    """Create or change a class (an entry in the governance log, with the reason)."""
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


async def assign_class(locker: Locker, case_id: str, class_name: str, *, blake3: str | None, actor: str,
                       reason: str) -> list[str]:
    """Assign a class to a case or one item of it; returns the objects whose retention moved."""
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


async def close_case(locker: Locker, case_id: str, *, actor: str, reason: str = "",
                     at: dt.datetime | None = None) -> list[str]:
    """Record the case as closed (starts the ``case_closed`` clocks)."""
    at = at or dt.datetime.now(dt.UTC)
    done = await locker.pool.execute(
        "UPDATE cases SET closed_at = $2 WHERE id = $1 AND closed_at IS NULL", case_id, at)
    if done.endswith(" 0"):
        if not await locker.log.case_exists(case_id):
            raise CaseNotFound(case_id)
        raise RetentionError(f"case {case_id} is already closed")
    await locker.log.append(case_id, Draft("case.closed", actor, {"reason": reason, "closed_at": at.isoformat()}))
    return await apply_retention(locker, case_id)


# -- computing and applying retain-until -------------------------------------------------------------


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


async def compute(pool: asyncpg.Pool, blake3_hexes: list[str]) -> dict[str, tuple[dt.date | None, bool]]:
    """blake3 -> (lock date, open).  Lock date: the latest end any applicable class gives so far (and the
    takedown date of a published decision); open: some clock has not started yet (case not closed, no
    decision), so the object is not due whatever the lock date."""
    classes = {c.name: c for c in await list_classes(pool)}
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT e.blake3, e.case_id, e.retention_class, e.recorded_at, o.stored_at
                 FROM evidence e JOIN objects o ON o.blake3 = e.blake3
                WHERE e.blake3 = ANY($1::text[])""",
            blake3_hexes,
        )
        facts = await _case_facts(conn, {r["case_id"] for r in rows})
    result: dict[str, tuple[dt.date | None, bool]] = {}
    for row in rows:
        case = facts[row["case_id"]]
        names = {row["retention_class"] or case["retention_class"] or DEFAULT_CLASS}
        if row["retention_class"] and case["retention_class"]:
            names.add(case["retention_class"])  # both apply: the longest wins
        starts = {
            "recorded": (row["recorded_at"] or row["stored_at"]).date(),
            "case_closed": case["closed_at"].date() if case["closed_at"] else None,
            "decision": case["decision_date"],
        }
        lock, is_open = result.get(row["blake3"], (None, False))
        for name in names:
            cls = classes[name]
            end = cls.until(starts[cls.trigger])
            if end is None:
                is_open = True
            elif lock is None or end > lock:
                lock = end
        floor = case["takedown_due"]
        if floor is not None and (lock is None or floor > lock):
            lock = floor
        result[row["blake3"]] = (lock, is_open)
    return result


async def apply_retention(locker: Locker, case_id: str, blake3_hexes: list[str] | None = None) -> list[str]:
    """Recompute retain-until for a case's objects and extend the store's locks; returns those extended."""
    if blake3_hexes is None:
        blake3_hexes = [r["blake3"] for r in await locker.pool.fetch(
            "SELECT DISTINCT blake3 FROM evidence WHERE case_id = $1", case_id)]
    computed = await compute(locker.pool, blake3_hexes)
    extended = []
    for hexd, (lock, is_open) in computed.items():
        until = day_start(lock) if lock else None
        row = await locker.pool.fetchrow(
            """WITH old AS (SELECT blake3, retain_until FROM objects WHERE blake3 = $1 FOR UPDATE)
               UPDATE objects o SET retention_open = $3,
                      retain_until = CASE WHEN $2::timestamptz > coalesce(o.retain_until, '-infinity')
                                          THEN $2 ELSE o.retain_until END
                 FROM old WHERE o.blake3 = old.blake3 AND o.disposed_at IS NULL
            RETURNING o.retain_until IS DISTINCT FROM old.retain_until AS moved, o.version_id""",
            hexd, until, is_open,
        )
        # A date already past needs no lock (and S3 refuses one); the database still records it.
        if row and until and row["moved"] and until > dt.datetime.now(dt.UTC):
            try:
                await locker.store.extend_retention(object_key(hexd), until, row["version_id"])
                extended.append(hexd)
            except StoreError as exc:
                # The database keeps the decision; the next run re-applies it.  Never silently: log it.
                logger.error("retention: could not extend the lock of %s to %s: %s", hexd, until, exc)
    return extended


# -- holds ------------------------------------------------------------------------------------------


async def _covered(pool: asyncpg.Pool, case_id: str, blake3: str | None) -> list[str]:
    if blake3:
        found = await pool.fetchval("SELECT 1 FROM evidence WHERE case_id = $1 AND blake3 = $2", case_id, blake3)
        if not found:
            raise RetentionError(f"object {blake3} is not evidence in case {case_id}")
        return [blake3]
    return [r["blake3"] for r in await pool.fetch("SELECT DISTINCT blake3 FROM evidence WHERE case_id = $1", case_id)]


async def _set_store_hold(locker: Locker, hexd: str, on: bool) -> None:
    version = await locker.pool.fetchval(
        "UPDATE objects SET legal_hold = $2 WHERE blake3 = $1 RETURNING version_id", hexd, on)
    try:
        await locker.store.set_legal_hold(object_key(hexd), on, version)
    except ObjectNotFound:
        logger.error("hold: object %s is gone from the store", hexd)


async def place_hold(locker: Locker, case_id: str, *, blake3: str | None, reason: str, actor: str) -> Hold:
    """Hold a case (all its evidence, present and future) or one item: nothing held is disposed."""
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


async def lift_hold(locker: Locker, hold_id: int, *, actor: str, role: str, reason: str) -> Hold:
    """Lift a hold (its placer or an admin); objects no other hold covers are released in the store."""
    if not reason.strip():
        raise RetentionError("lifting a legal hold needs a reason")
    row = await locker.pool.fetchrow("SELECT * FROM holds WHERE id = $1", hold_id)
    if row is None:
        raise HoldNotFound(f"no legal hold {hold_id}")
    if row["lifted_at"] is not None:
        raise RetentionError(f"legal hold {hold_id} was already lifted")
    if role != "admin" and actor.split(":")[-1] != row["placed_by"].split(":")[-1]:
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


async def on_new_evidence(locker: Locker, case_id: str, blake3: str) -> None:
    """A new object in a case: its retention from the classes, and the case's holds apply to it too."""
    await apply_retention(locker, case_id, [blake3])
    if await locker.pool.fetchval(
            "SELECT 1 FROM holds WHERE case_id = $1 AND blake3 IS NULL AND lifted_at IS NULL", case_id):
        await _set_store_hold(locker, blake3, True)


# -- disposition ------------------------------------------------------------------------------------


async def due(pool: asyncpg.Pool, now: dt.datetime, limit: int = 100_000) -> list[DueObject]:
    """Objects whose retention has passed, with the holds that still keep them (index-driven)."""
    # One pass over the due index, then hash joins for cases, holds and live decisions (no per-row subqueries).
    rows = await pool.fetch(
        """WITH d AS (SELECT blake3, sha256, size, retain_until, legal_hold, lives FROM objects
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
           SELECT d.blake3, d.sha256, d.size, d.retain_until, d.legal_hold, d.lives, coalesce(c.cases, '{}') AS cases,
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
                             r["lives"]))
    return out


async def run_disposition(locker: Locker, *, now: dt.datetime | None = None, dry_run: bool = False,
                          actor: str = "retention") -> DispositionReport:
    """Delete what is due and not held; every disposal is logged in each case that held the object."""
    now = now or dt.datetime.now(dt.UTC)
    listed = await due(locker.pool, now)
    held = [d for d in listed if d.held_by]
    todo = [d for d in listed if not d.held_by]
    if dry_run:
        return DispositionReport(todo, held, [], True)
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
        await locker.store.delete(object_key(item.blake3))
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
