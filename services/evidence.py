"""Evidence in a case: adding text records and files, reading objects, exporting bundles.

Every read of evidence content is recorded in the case log as ``evidence.accessed`` before a byte
leaves, by :func:`record_access` and nowhere else: an API read, a page's player, a bundle export with
media and the linked-evidence check all go through it.  Reads by one person of one object for one
purpose within ``ACCESS_WINDOW_SECONDS`` share one entry, so a player seeking through a video does
not write hundreds.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterable, Callable, Mapping
from pathlib import Path
from typing import Any

from foundation.errors import CustodyError, Gone, Invalid, NotFound, Status
from integrity.hashing import object_key
from policy.cases import STAGES, check_stage, current_stage
from services import decisions
from services.locker import Locker
from services.permissions import authorize
from services.restriction import require_read
from storage import catalog
from storage.catalog import EvidenceRow
from storage.log import Appended, Draft
from storage.principals import Principal

logger = logging.getLogger(__name__)
#: The log entry of a read that found the stored bytes no longer what the case log says.
CHECK_FAILED = "evidence.check_failed"


class ObjectDamaged(CustodyError):
    """The stored bytes of an object are not the bytes its entry names (short, or another hash)."""

    status = Status.INTERNAL
    code = "object_damaged"


async def require_intact_size(locker: Locker, case_id: str, item: EvidenceRow, *, who: Principal) -> None:
    """Before a byte is sent: the stored object has the size its entry names, else the alarm and 500."""
    info = await locker.store.head(object_key(item.blake3))
    if info.size != item.size:
        await check_failed(locker, case_id, item.blake3, who=who,
                           found=f"{info.size} bytes stored, {item.size} logged")
        raise ObjectDamaged(f"object {item.blake3} is damaged in the store ({info.size} of {item.size} bytes); "
                            "the failed check is logged in the case and the operator alarmed")


async def check_failed(locker: Locker, case_id: str, blake3: str, *, who: Principal, found: str) -> None:
    """The alarm of a read whose bytes do not match: an error in the server log and an entry in the case log."""
    await check_failed_by(locker, case_id, blake3, who.actor, found)


async def check_failed_by(locker: Locker, case_id: str, blake3: str, actor: str, found: str) -> None:
    """``check_failed`` for a reader who is not a principal (a share's recipient, the public portal)."""
    logger.error("INTEGRITY ALARM: object %s of case %s does not match its entry (%s), read by %s",
                 blake3, case_id, found, actor,
                 extra={"event": "integrity_alarm", "case": case_id, "blake3": blake3, "found": found})
    await locker.log.append(case_id, Draft(CHECK_FAILED, actor, {"blake3": blake3, "found": found},
                                           blake3=blake3))

ACCESS_WINDOW_SECONDS = 600
#: The longest file name a record or recording may carry (no path).
FILE_NAME_MAX_CHARS = 255


def check_file_name(name: str) -> str:
    """A plain file name (no path, no control characters, not ``.``/``..``), at most ``FILE_NAME_MAX_CHARS``."""
    if (not name or len(name) > FILE_NAME_MAX_CHARS or "/" in name or "\\" in name or name in (".", "..")
            or any(ord(c) < 32 or ord(c) == 127 for c in name)):
        raise Invalid(f"file name {name[:80]!r}: a plain name of at most {FILE_NAME_MAX_CHARS} characters, no path")
    return name


async def record_access(locker: Locker, case_id: str, who: Principal, *, action: str, purpose: str,
                        blake3: str | None = None, file_name: str | None = None, client: str | None = None,
                        now: dt.datetime | None = None) -> Appended:
    """Log ``evidence.accessed``: who read what of a case, how and why (deduplicated per window)."""
    fields: dict[str, Any] = {"action": action, "purpose": purpose}
    if blake3 is not None:
        fields.update(object=blake3, file_name=file_name or "")
    if client is not None:
        fields["client"] = client
    bucket = int((now or dt.datetime.now(dt.UTC)).timestamp()) // ACCESS_WINDOW_SECONDS
    return await locker.log.append(case_id, Draft(
        "evidence.accessed", who.actor, fields,
        dedupe=f"access:{who.actor}:{blake3 or '*'}:{action}:{bucket}:{purpose}"[:500]))


async def open_object(locker: Locker, case_id: str, blake3: str, *, who: Principal, purpose: str, action: str,
                      client: str | None = None, check: Callable[[EvidenceRow], object] | None = None,
                      ) -> EvidenceRow:
    """Allow and record a read of one object of a case; returns the item (the caller streams its bytes).

    Refused when ``who`` may not read evidence or this case, when the case holds no such object, and
    when the object was disposed of (its entries stay).  ``check`` runs just before the read is logged:
    a front end's own refusal there (a byte range outside the object) reads nothing and logs nothing.
    """
    authorize(who, "evidence.read")
    await require_read(locker.pool, case_id, who)
    items = [e for e in await catalog.case_evidence(locker.pool, case_id) if e.blake3 == blake3]
    if not items:
        raise NotFound(f"case {case_id!r} holds no object {blake3}")
    stored = await catalog.get_object(locker.pool, blake3)
    if stored is not None and stored.disposed_at is not None:
        raise Gone(f"object {blake3} was disposed of on {stored.disposed_at:%Y-%m-%d} when its retention ended; "
                   "the case log keeps its hash and the retention.disposed entry")
    if check is not None:
        check(items[0])
    await record_access(locker, case_id, who, action=action, purpose=purpose, blake3=blake3,
                        file_name=items[0].file_name, client=client)
    return items[0]


async def add_record(locker: Locker, case_id: str, source: AsyncIterable[bytes], *, who: Principal, stage: str,
                     file_name: str, media_type: str, title: str | None = None,
                     decision_no: str | None = None) -> Appended:
    """Store a text record (document, scan, form, notice) of an enforcement stage in a case; logged.

    A record of the 审核决定 stage records a decision: it names the decision (``decision_no``), which
    needs its major-decision determination and, if major, a passed legal review first (§四).
    """
    authorize(who, "record.add")
    await require_read(locker.pool, case_id, who)
    fields: dict[str, Any] = {"file_name": check_file_name(file_name), "media_type": media_type,
                              "stage": check_stage(stage), "stage_zh": STAGES[stage]}
    await decision_gate(locker, case_id, stage, decision_no, fields)
    if title:
        fields["title"] = title[:500]
    return await locker.add_object(case_id, source, kind="record.added", actor=who.actor, fields=fields)


async def decision_gate(locker: Locker, case_id: str, stage: str, decision_no: object,
                         fields: dict[str, Any]) -> None:
    """The legal-review gate where the decision is made: a decision-stage record names its decision,
    which has its determination and, if major, a passed review (§四: 未经法制审核…不得作出决定)."""
    if stage != "decision":
        return
    if not isinstance(decision_no, str) or not decision_no.strip():
        raise Invalid("a record of the 审核决定 (decision) stage names the decision it records: decision_no")
    await decisions.require_cleared(locker.pool, case_id, decision_no.strip())
    fields["decision_no"] = decision_no.strip()


async def import_file(locker: Locker, case_id: str, source: AsyncIterable[bytes], *, who: Principal,
                      kind: str, fields: Mapping[str, Any]) -> Appended:
    """Store a file from the server's own disk in a case (``custody ingest`` without a server)."""
    authorize(who, "evidence.import")
    await require_read(locker.pool, case_id, who)
    if kind not in ("evidence.ingested", "record.added"):
        raise Invalid(f"kind must be evidence.ingested or record.added, not {kind!r}")
    fields = dict(fields)
    if fields.get("stage"):
        check_stage(fields["stage"])
        await decision_gate(locker, case_id, fields["stage"], fields.get("decision_no"), fields)
    elif kind == "evidence.ingested":  # evidence has a stage too: the case's current one
        fields["stage"] = current_stage(await catalog.record_stages(locker.pool, case_id))
    check_file_name(str(fields.get("file_name", "")))
    return await locker.add_object(case_id, source, kind=kind, actor=who.actor, fields=dict(fields))


async def export(locker: Locker, case_id: str, out: Path, *, who: Principal, with_media: bool = False,
                 purpose: str = "export", client: str | None = None,
                 only: frozenset[str] | None = None) -> tuple[int, int]:
    """Write the case bundle to ``out``; returns (entries, objects).  With media, the read is logged first,
    so the bundle's own checkpoint covers the entry that records it; ``only``: the media of these
    objects alone (a selection), each read logged on its own."""
    authorize(who, "case.export")
    await require_read(locker.pool, case_id, who)
    if with_media and only is None:
        await record_access(locker, case_id, who, action="export", purpose=purpose, client=client)
    elif with_media and only is not None:
        names = {e.blake3: e.file_name for e in await catalog.case_evidence(locker.pool, case_id)}
        for hexd in sorted(only):
            await record_access(locker, case_id, who, action="export", purpose=purpose, blake3=hexd,
                                file_name=names.get(hexd), client=client)
    return await locker.write_bundle(case_id, out, with_media=with_media, only=only)
