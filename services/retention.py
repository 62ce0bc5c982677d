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
import json
import logging
from dataclasses import dataclass

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
from storage import retention as rows
from storage import thumbnails as thumb_rows
from storage.log import CaseExists, CaseNotFound, Draft, LogError
from storage.objects import ObjectLocked, ObjectNotFound, StoreError
from storage.principals import Principal
from storage.retention import DueObject as DueObject
from storage.retention import Hold as Hold
from storage.retention import active_holds_on as active_holds_on
from storage.retention import case_objects as case_objects
from storage.retention import due as due
from storage.retention import list_holds as list_holds

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
class DispositionReport:
    disposed: list[DueObject]
    held: list[DueObject]
    failed: list[tuple[DueObject, str]]
    dry_run: bool
    #: Stills (thumbnails) disposed of because the proxy they were made from was.
    stills: int = 0


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
    await rows.put_class(locker.pool, cls, actor)
    await locker.log.append(GOVERNANCE_CASE, Draft("retention.class_set", actor, {
        "class": cls.name, "years": cls.years, "months": cls.months, "days": cls.days,
        "trigger": cls.trigger, "description": cls.description, "reason": reason}))
    # Objects already under the class take the new period now (a longer one extends their locks; a
    # shorter one changes nothing already decided: retention never moves earlier).
    for case_id in await rows.cases_under_class(locker.pool, cls.name, DEFAULT_CLASS):
        await apply_retention(locker, case_id)


async def _class_exists(pool: asyncpg.Pool, name: str) -> None:
    if not await rows.class_exists(pool, name):
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
        if not await rows.assign_case_class(locker.pool, case_id, class_name):
            raise CaseNotFound(case_id)
    elif not await rows.assign_item_class(locker.pool, case_id, blake3, class_name):
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
    if not await rows.close_case(locker.pool, case_id, at):
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
        if not await rows.is_evidence_in(pool, case_id, blake3):
            raise RetentionError(f"object {blake3} is not evidence in case {case_id}")
        return [blake3]
    return await rows.case_object_hashes(pool, case_id)


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
    hold = await rows.insert_hold(locker.pool, case_id, blake3, reason, actor)
    for hexd in covered:
        await _set_store_hold(locker, hexd, True)
    await locker.log.append(case_id, Draft("hold.placed", actor, {
        "hold": hold.id, "scope": "item" if blake3 else "case", "reason": reason,
        "objects": len(covered), **({"blake3": blake3} if blake3 else {})}, blake3=blake3))
    return hold


async def lift_hold(locker: Locker, hold_id: int, *, who: Principal, reason: str) -> Hold:
    """Lift a hold (its placer or an admin); objects no other hold covers are released in the store."""
    authorize(who, "hold.lift")
    actor = who.actor
    if not reason.strip():
        raise RetentionError("lifting a legal hold needs a reason")
    hold = await get_hold(locker.pool, hold_id)
    if hold.lifted_at is not None:
        raise RetentionError(f"legal hold {hold_id} was already lifted")
    # Who placed it is the log's answer, not the row's (rows are a cache a superuser can edit).
    placer = await _logged_placer(locker, hold.case_id, hold_id)
    if placer is None:
        raise HoldNotFound(f"legal hold {hold_id} is not in the log of case {hold.case_id} (run custody scrub)")
    if who.role != "admin" and actor != placer:
        raise NotAllowed(f"only an admin or its placer ({placer}) may lift legal hold {hold_id}")
    hold = await rows.mark_lifted(locker.pool, hold_id, actor, reason)
    covered = await _covered(locker.pool, hold.case_id, hold.blake3)
    still = await active_holds_on(locker.pool, covered)
    for hexd in covered:
        if hexd not in still:
            await _set_store_hold(locker, hexd, False)
    await locker.log.append(hold.case_id, Draft("hold.lifted", actor, {
        "hold": hold_id, "reason": reason, "released": len([h for h in covered if h not in still]),
        **({"blake3": hold.blake3} if hold.blake3 else {})}, blake3=hold.blake3))
    return hold


async def _logged_placer(locker: Locker, case_id: str, hold_id: int) -> str | None:
    """The actor of the ``hold.placed`` entry of hold ``hold_id`` in the case's log; None if there is none."""
    for row in await locker.log.entries_of_kinds(case_id, ("hold.placed",)):
        if json.loads(row.body).get("hold") == hold_id:
            return row.actor
    return None


async def get_hold(pool: asyncpg.Pool, hold_id: int) -> Hold:
    hold = await rows.get_hold(pool, hold_id)
    if hold is None:
        raise HoldNotFound(f"no legal hold {hold_id}")
    return hold


# -- disposition ------------------------------------------------------------------------------------


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
    return DispositionReport(disposed, held, failed, False, await _dispose_stills(locker, actor, now))


async def _dispose_stills(locker: Locker, actor: str, now: dt.datetime) -> int:
    """A still shows what its recording showed: it goes when the proxy it was made from went (this run's
    or an earlier one's, so a run that failed half-way is finished by the next).  Logged in each case
    that holds it, like any disposal."""
    done = 0
    for still in await thumb_rows.outliving(locker.pool):
        try:
            await rows.mark_disposing(locker.pool, still.blake3)
            try:
                await locker.store.delete(object_key(still.blake3), still.version_id)
            except ObjectNotFound:
                pass
            for case_id in still.cases:
                await locker.log.append(case_id, Draft("retention.disposed", actor, {
                    "blake3": still.blake3, "sha256": still.sha256, "size": still.size,
                    "of_blake3": still.of_blake3, "reason": "a still of a recording disposed of under retention",
                }, blake3=still.blake3, dedupe=catalog.object_dedupe("retention.disposed", still.blake3, still.lives)))
            await rows.mark_disposed(locker.pool, still.blake3, now)
            done += 1
        except (StoreError, LogError) as exc:
            await rows.clear_disposing(locker.pool, still.blake3)
            logger.error("disposition of still %s failed: %s", still.blake3, exc)
    return done


async def _dispose(locker: Locker, item: DueObject, actor: str, now: dt.datetime) -> None:
    await rows.mark_disposing(locker.pool, item.blake3)
    try:
        await locker.store.delete(object_key(item.blake3), item.version_id)
    except ObjectNotFound:
        pass  # deleted by an earlier run that died before logging it
    except ObjectLocked:
        await rows.clear_disposing(locker.pool, item.blake3)
        raise
    for case_id in item.cases:
        await locker.log.append(case_id, Draft("retention.disposed", actor, {
            "blake3": item.blake3, "sha256": item.sha256, "size": item.size,
            "retain_until": item.retain_until.isoformat(), "reason": "retention period passed",
        }, blake3=item.blake3, dedupe=catalog.object_dedupe("retention.disposed", item.blake3, item.lives)))
    await rows.mark_disposed(locker.pool, item.blake3, now)
