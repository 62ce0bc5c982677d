"""Assigning a recording from an intake case to the case it belongs to (issue 18, item 3).

A station that is not told the case files each recording in the officer's intake case of the day
(``services.intake``: ``INTAKE-<officer>-<yyyymmdd>``).  An investigator later assigns it to its
case.  Nothing moves and nothing is copied: the object stays where it is, write-once; the target case
logs the original and each of its proxies as evidence of its own (the same kind and fields, plus
``assigned_from`` and ``assigned_from_seq``: where it came from), and the intake case logs
``evidence.assigned`` (the hash, the target case and its entry, the reason).  Both logs thus tell
the story, and each case's bundle verifies on its own.  The intake case keeps its entries: a log is
never rewritten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from foundation.errors import Conflict, Invalid, NotFound
from integrity.entry import COMMON_FIELDS
from integrity.hashing import ContentDigest, object_key
from policy.cases import GOVERNANCE_CASE
from services.locker import Locker
from services.permissions import authorize
from services.restriction import require_read
from storage import catalog
from storage.catalog import EvidenceRow
from storage.log import CaseNotFound, Draft
from storage.objects import StoredObject
from storage.principals import Principal

#: The prefix of the intake cases ``services.intake`` opens.
INTAKE_PREFIX = "INTAKE-"
REASON_MAX_CHARS = 2000
ASSIGNED = "evidence.assigned"
_OBJECT_FIELDS = frozenset({"blake3", "sha256", "size", "version_id"})


class AlreadyAssigned(Conflict):
    code = "already_assigned"


@dataclass(frozen=True, slots=True)
class Assigned:
    blake3: str
    to_case: str
    to_seq: int
    proxies: int
    from_seq: int


def is_intake(case_id: str) -> bool:
    return case_id.startswith(INTAKE_PREFIX)


async def _moved(locker: Locker, row: EvidenceRow, from_case: str, to_case: str, who: Principal) -> int:
    """Log ``row`` (an entry of ``from_case``) as evidence of ``to_case``; returns its seq there."""
    entry = json.loads((await locker.log.entry(from_case, row.seq)).body)
    fields = {k: v for k, v in entry.items() if k not in COMMON_FIELDS and k not in _OBJECT_FIELDS}
    fields.update(assigned_from=from_case, assigned_from_seq=row.seq)
    stored = StoredObject(ContentDigest(entry["blake3"], entry["sha256"], entry["size"]), object_key(row.blake3),
                          created=False, version_id=entry.get("version_id"))
    appended = await locker.log_object(to_case, stored, kind=row.kind, actor=who.actor, fields=fields)
    return appended.seq


async def assign(locker: Locker, from_case: str, blake3: str, to_case: str, *, who: Principal,
                 reason: str) -> Assigned:
    """Assign a recording (an original with its proxies) of an intake case to ``to_case``; logged in both."""
    authorize(who, "evidence.assign")
    why = (reason or "").strip()
    if not why or len(why) > REASON_MAX_CHARS:
        raise Invalid(f"a reason (1 to {REASON_MAX_CHARS} characters) is needed to assign evidence to a case")
    if not is_intake(from_case):
        raise Invalid(f"case {from_case!r} is not an intake case: only recordings of an intake case are assigned")
    if to_case == GOVERNANCE_CASE or is_intake(to_case) or to_case == from_case:
        raise Invalid(f"recordings are assigned to an investigation case, not to {to_case!r}")
    await require_read(locker.pool, from_case, who)
    await require_read(locker.pool, to_case, who)
    if not await locker.log.takes_station_uploads(to_case):
        raise CaseNotFound(to_case) if not await locker.log.case_exists(to_case) else \
            Conflict(f"case {to_case!r} is closed: it takes no new evidence")
    hexd = blake3.strip().lower()
    items = await catalog.case_evidence(locker.pool, from_case)
    original = next((e for e in items if e.blake3 == hexd and e.original_blake3 is None
                     and e.kind in ("evidence.ingested", "record.added")), None)
    if original is None:
        raise NotFound(f"intake case {from_case!r} holds no original {hexd[:80]}")
    if any(e.blake3 == hexd for e in await catalog.case_evidence(locker.pool, to_case)):
        raise AlreadyAssigned(f"{original.file_name or hexd[:16]} is already evidence in case {to_case!r}")
    to_seq = await _moved(locker, original, from_case, to_case, who)
    proxies = [e for e in items if e.kind == "evidence.derived" and e.original_blake3 == hexd]
    for proxy in proxies:
        await _moved(locker, proxy, from_case, to_case, who)
    note = await locker.log.append(from_case, Draft(ASSIGNED, who.actor, {
        "blake3": hexd, "to_case": to_case, "to_seq": to_seq, "proxies": [p.blake3 for p in proxies],
        "reason": why}, blake3=hexd, dedupe=f"assigned:{hexd}:{to_case}"))
    return Assigned(hexd, to_case, to_seq, len(proxies), note.seq)


async def assignments(locker: Locker, case_id: str) -> dict[str, str]:
    """Which items of an intake case were assigned, and to which case (the latest assignment)."""
    found: dict[str, str] = {}
    for row in await locker.log.entries_of_kinds(case_id, (ASSIGNED,)):
        body = json.loads(row.body)
        found[str(body.get("blake3"))] = str(body.get("to_case"))
    return found
