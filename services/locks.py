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

import asyncpg

from integrity.hashing import object_key
from policy.retention import RetentionClass
from storage import retention as rows
from storage.objects import ObjectNotFound, ObjectStore, RetentionShortened, StoreError

logger = logging.getLogger(__name__)

#: The class of evidence no one has assigned one to.
DEFAULT_CLASS = "standard"


def day_start(d: dt.date) -> dt.datetime:
    """Retention is decided in days; the lock runs to the start (UTC) of the day after the period ends."""
    return dt.datetime.combine(d + dt.timedelta(days=1), dt.time(0), dt.UTC)


async def list_classes(pool: asyncpg.Pool) -> list[RetentionClass]:
    return await rows.list_classes(pool)


async def compute(pool: asyncpg.Pool, blake3_hexes: list[str]) -> dict[str, tuple[dt.date | None, bool]]:
    """blake3 -> (lock date, open).  Lock date: the latest end any applicable class gives so far (and the
    takedown date of a published decision); open: some clock has not started yet (case not closed, no
    decision), so the object is not due whatever the lock date."""
    classes = {c.name: c for c in await rows.list_classes(pool)}
    result: dict[str, tuple[dt.date | None, bool]] = {}
    for row in await rows.lock_inputs(pool, blake3_hexes):
        names = {row.item_class or row.case_class or DEFAULT_CLASS}
        if row.item_class and row.case_class:
            names.add(row.case_class)  # both apply: the longest wins
        starts = {"recorded": row.recorded, "case_closed": row.case_closed, "decision": row.decision}
        lock, is_open = result.get(row.blake3, (None, False))
        for name in names:
            cls = classes[name]
            end = cls.until(starts[cls.trigger])
            if end is None:
                is_open = True
            elif lock is None or end > lock:
                lock = end
        floor = row.takedown_due
        if floor is not None and (lock is None or floor > lock):
            lock = floor
        result[row.blake3] = (lock, is_open)
    return result


async def apply_retention(pool: asyncpg.Pool, store: ObjectStore, case_id: str,
                          blake3_hexes: list[str] | None = None, *, strict: bool = False) -> list[str]:
    """Recompute retain-until for a case's objects and extend the store's locks; returns those extended.

    ``strict`` (new evidence, before its receipt): a store that does not take the lock raises instead
    of being logged for the next run, so no receipt says the bytes are safe while they are not.
    """
    if blake3_hexes is None:
        blake3_hexes = await rows.case_object_hashes(pool, case_id)
    computed = await compute(pool, blake3_hexes)
    extended = []
    for hexd, (lock, is_open) in computed.items():
        until = day_start(lock) if lock else None
        moved = await rows.raise_retain_until(pool, hexd, until, is_open)
        # A date already past needs no lock (and S3 refuses one); the database still records it.
        if moved and moved[0] and until and until > dt.datetime.now(dt.UTC):
            try:
                await store.extend_retention(object_key(hexd), until, moved[1])
                extended.append(hexd)
            except StoreError as exc:
                if strict:
                    raise
                # The database keeps the decision; the next run re-applies it.  Never silently: log it.
                logger.error("retention: could not extend the lock of %s to %s: %s", hexd, until, exc)
    return extended


async def set_store_hold(pool: asyncpg.Pool, store: ObjectStore, hexd: str, on: bool) -> None:
    """Set or clear the store's legal hold on an object (the database row first)."""
    version = await rows.set_legal_hold_flag(pool, hexd, on)
    try:
        await store.set_legal_hold(object_key(hexd), on, version)
    except ObjectNotFound:
        logger.error("hold: object %s is gone from the store", hexd)


async def on_new_evidence(pool: asyncpg.Pool, store: ObjectStore, case_id: str, blake3: str) -> None:
    """A new object in a case: its retention from the classes, and the case's holds apply to it too."""
    await apply_retention(pool, store, case_id, [blake3], strict=True)
    await ensure_locked(pool, store, blake3)
    if await rows.case_held(pool, case_id):
        await set_store_hold(pool, store, blake3, True)


async def ensure_locked(pool: asyncpg.Pool, store: ObjectStore, hexd: str) -> None:
    """Make the store's lock on an object match what the catalogue recorded, and check it took.

    Run before any receipt for the object goes out (a first upload, or a retry that finds the entry
    already logged): an earlier attempt may have logged the entry and then failed to lock the bytes,
    or a server may have dropped the lock.  The store reads the lock back; LockNotApplied (503) stops
    the receipt, and the station keeps its copy and retries.
    """
    row = await rows.lock_row(pool, hexd)
    if row is None:
        return
    retain_until, legal_hold, version_id = row
    if retain_until is not None and retain_until > dt.datetime.now(dt.UTC):
        with contextlib.suppress(RetentionShortened):  # the store already keeps it longer: fine
            await store.extend_retention(object_key(hexd), retain_until, version_id)
    if legal_hold:
        await store.set_legal_hold(object_key(hexd), True, version_id)
