"""Retain-until and legal holds applied to stored objects: the part of retention the locker needs.

When an object is logged in a case, its lock follows at once from the classes that apply and the
case's holds (``on_new_evidence``); retention's own use cases (classes, holds, disposition) build on
the same functions.  Kept apart from ``services.retention`` so that the locker, which every use case
builds on, does not depend on the use cases above it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

import asyncpg

from integrity.hashing import object_key
from policy.retention import RetentionClass
from storage.objects import ObjectNotFound, ObjectStore, RetentionShortened, StoreError

logger = logging.getLogger(__name__)

#: The class of evidence no one has assigned one to.
DEFAULT_CLASS = "standard"


def day_start(d: dt.date) -> dt.datetime:
    """Retention is decided in days; the lock runs to the start (UTC) of the day after the period ends."""
    return dt.datetime.combine(d + dt.timedelta(days=1), dt.time(0), dt.UTC)


async def list_classes(pool: asyncpg.Pool) -> list[RetentionClass]:
    rows = await pool.fetch(
        "SELECT name, years, months, days, trigger, description FROM retention_classes ORDER BY name")
    return [RetentionClass(**dict(r)) for r in rows]


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


async def apply_retention(pool: asyncpg.Pool, store: ObjectStore, case_id: str,
                          blake3_hexes: list[str] | None = None, *, strict: bool = False) -> list[str]:
    """Recompute retain-until for a case's objects and extend the store's locks; returns those extended.

    ``strict`` (new evidence, before its receipt): a store that does not take the lock raises instead
    of being logged for the next run, so no receipt says the bytes are safe while they are not.
    """
    if blake3_hexes is None:
        blake3_hexes = [r["blake3"] for r in await pool.fetch(
            "SELECT DISTINCT blake3 FROM evidence WHERE case_id = $1", case_id)]
    computed = await compute(pool, blake3_hexes)
    extended = []
    for hexd, (lock, is_open) in computed.items():
        until = day_start(lock) if lock else None
        row = await pool.fetchrow(
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
                await store.extend_retention(object_key(hexd), until, row["version_id"])
                extended.append(hexd)
            except StoreError as exc:
                if strict:
                    raise
                # The database keeps the decision; the next run re-applies it.  Never silently: log it.
                logger.error("retention: could not extend the lock of %s to %s: %s", hexd, until, exc)
    return extended


async def set_store_hold(pool: asyncpg.Pool, store: ObjectStore, hexd: str, on: bool) -> None:
    """Set or clear the store's legal hold on an object (the database row first)."""
    version = await pool.fetchval(
        "UPDATE objects SET legal_hold = $2 WHERE blake3 = $1 RETURNING version_id", hexd, on)
    try:
        await store.set_legal_hold(object_key(hexd), on, version)
    except ObjectNotFound:
        logger.error("hold: object %s is gone from the store", hexd)


async def on_new_evidence(pool: asyncpg.Pool, store: ObjectStore, case_id: str, blake3: str) -> None:
    """A new object in a case: its retention from the classes, and the case's holds apply to it too."""
    await apply_retention(pool, store, case_id, [blake3], strict=True)
    await ensure_locked(pool, store, blake3)
    if await pool.fetchval(
            "SELECT 1 FROM holds WHERE case_id = $1 AND blake3 IS NULL AND lifted_at IS NULL", case_id):
        await set_store_hold(pool, store, blake3, True)


async def ensure_locked(pool: asyncpg.Pool, store: ObjectStore, hexd: str) -> None:
    """Make the store's lock on an object match what the catalogue recorded, and check it took.

    Run before any receipt for the object goes out (a first upload, or a retry that finds the entry
    already logged): an earlier attempt may have logged the entry and then failed to lock the bytes,
    or a server may have dropped the lock.  The store reads the lock back; LockNotApplied (503) stops
    the receipt, and the station keeps its copy and retries.
    """
    row = await pool.fetchrow(
        "SELECT retain_until, legal_hold, version_id FROM objects WHERE blake3 = $1 AND disposed_at IS NULL", hexd)
    if row is None:
        return
    if row["retain_until"] is not None and row["retain_until"] > dt.datetime.now(dt.UTC):
        with contextlib.suppress(RetentionShortened):  # the store already keeps it longer: fine
            await store.extend_retention(object_key(hexd), row["retain_until"], row["version_id"])
    if row["legal_hold"]:
        await store.set_legal_hold(object_key(hexd), True, row["version_id"])
