"""Release of recordings (issue 19 item 5): what may leave the bureau, to whom, and how it is shown.

**The gate** (``require_releasable``, the one place this rule lives): only a redacted render
(``evidence.redacted``) may be attached to a disclosure record, and every disclosure record is public
(the portal, §二 公示); an unredacted original, its proxy or any other object of the case never may.
``services.shares`` asks the same gate for a share with anyone but a prosecutor or a court.

Why judicial recipients differ (RULES.md, docs/policy): §二 keeps personal privacy out of what is
*published* and lets it out only "after suitable processing" (作适当处理后公开); §四 names the transfer
of a matter to judicial organs as part of the review, and a prosecutor or a court weighs the evidence
itself — a masked copy is not the evidence.  So a share with a prosecutor or a court may carry
originals (and the whole case); a share with anyone else (the party's lawyer, the press, a requester
under the information-disclosure rules) carries redacted renders only.

**Attachments** are entries in the case's log: ``disclosure.attached`` (the render's hash, name and
size, and the hash of the source it masks) and ``disclosure.detached`` (with a reason); the rows
(``storage.releases``) commit with their entry and scrub re-derives them (``policy.log_state``).  A
record takes attachments while it is a draft or approved, so what it publishes is fixed when it is
published, like its text.  The portal serves a render only while its record is published: a takedown
or revocation ends serving at the next request, because every request asks.
"""

from __future__ import annotations

from foundation.errors import Conflict, Invalid, NotFound
from services import disclosure
from services.evidence import check_failed_by
from services.locker import Locker
from services.permissions import authorize
from storage import catalog, releases
from storage.catalog import EvidenceRow
from storage.log import Draft
from storage.principals import Principal
from storage.releases import Attachment as Attachment

#: The one kind of object that may be released to the public or to a recipient outside the courts.
RELEASABLE = "evidence.redacted"
ATTACHED = "disclosure.attached"
DETACHED = "disclosure.detached"
#: Record states that take (and give up) attachments: before publication only.
OPEN_STATES = ("draft", "approved")
REASON_MAX_CHARS = 2000
#: Who reads a published render in the case log's integrity alarm (the portal has no principal).
PUBLIC_ACTOR = "public:portal"


class NotReleasable(Invalid):
    """An unredacted recording (or anything else but a redacted render) asked to leave the bureau."""

    code = "unredacted_release"


async def require_releasable(locker: Locker, case_id: str, blake3_hex: str, *, to: str = "the public") -> EvidenceRow:
    """The release rule: ``blake3_hex`` is a redacted render of the case (returned), else
    ``NotReleasable`` (422, ``unredacted_release``) — an original or its proxy never leaves this way."""
    found = [e for e in await catalog.case_evidence(locker.pool, case_id) if e.blake3 == blake3_hex]
    if not found:
        raise NotFound(f"case {case_id!r} holds no object {blake3_hex}")
    render = next((e for e in found if e.kind == RELEASABLE), None)
    if render is None:
        kinds = ", ".join(sorted({e.kind for e in found}))
        raise NotReleasable(f"object {blake3_hex} is not a redacted render ({kinds}); an unredacted recording can "
                            f"never be released to {to}: redact it and release the render")
    return render


async def attach(locker: Locker, disclosure_id: str, blake3_hex: str, *, who: Principal) -> Attachment:
    """Attach a redacted render of the record's case to a draft or approved record (``disclosure.attached``)."""
    authorize(who, "disclosure.attach")
    d = await disclosure.read(locker.pool, disclosure_id, who=who)
    wanted = blake3_hex.strip().lower()
    render = await require_releasable(locker, d.case_id, wanted, to="a public disclosure")
    if d.state not in OPEN_STATES:
        raise Conflict(f"{disclosure_id} is {d.state}: renders are attached before publication (a draft or an "
                       "approved record); what a record publishes is fixed when it is published")
    stored = await catalog.get_object(locker.pool, wanted)
    if stored is None or stored.disposed_at is not None:
        raise NotFound(f"object {wanted} is no longer held")
    live = {a.blake3 for a in await releases.of_disclosure(locker.pool, disclosure_id) if a.detached_by is None}
    if wanted in live:
        raise Conflict(f"{disclosure_id} already carries {wanted}")
    name = render.file_name or f"{wanted[:16]}.mp4"

    async def row(conn: object, case: str, seq: int) -> None:
        await releases.insert(conn, disclosure_id=disclosure_id, blake3=wanted, case_id=case, file_name=name,
                              size=render.size, attached_by=who.actor, seq=seq)

    await locker.log.append(d.case_id, Draft(ATTACHED, who.actor, {
        "disclosure": disclosure_id, "decision_no": d.decision_no, "blake3": wanted, "file_name": name,
        "size": render.size, "source": render.original_blake3 or ""}, blake3=wanted, rows=row))
    return next(a for a in await releases.of_disclosure(locker.pool, disclosure_id) if a.blake3 == wanted)


async def detach(locker: Locker, disclosure_id: str, blake3_hex: str, *, who: Principal, reason: str) -> None:
    """Take a render off a draft or approved record, with a reason (``disclosure.detached``)."""
    authorize(who, "disclosure.attach")
    d = await disclosure.read(locker.pool, disclosure_id, who=who)
    why = (reason or "").strip()
    if not why or len(why) > REASON_MAX_CHARS:
        raise Invalid(f"a detachment gives its reason (at most {REASON_MAX_CHARS} characters)")
    if d.state not in OPEN_STATES:
        raise Conflict(f"{disclosure_id} is {d.state}: a published record's renders end with the record "
                       "(take it down or revoke it)")
    wanted = blake3_hex.strip().lower()
    live = {a.blake3 for a in await releases.of_disclosure(locker.pool, disclosure_id) if a.detached_by is None}
    if wanted not in live:
        raise NotFound(f"{disclosure_id} carries no render {wanted[:80]}")

    async def row(conn: object, case: str, seq: int) -> None:
        await releases.detach(conn, disclosure_id, wanted, who.actor, why)

    await locker.log.append(d.case_id, Draft(DETACHED, who.actor, {
        "disclosure": disclosure_id, "decision_no": d.decision_no, "blake3": wanted, "reason": why},
        blake3=wanted, rows=row))


async def attachments(locker: Locker, disclosure_id: str, *, who: Principal) -> list[Attachment]:
    """A record's attachments, live and detached (for whoever may read its case)."""
    await disclosure.read(locker.pool, disclosure_id, who=who)
    return await releases.of_disclosure(locker.pool, disclosure_id)


async def published_renders(locker: Locker, disclosure_ids: list[str]) -> dict[str, list[Attachment]]:
    """The portal's part: each published record's live renders (the caller lists published records only)."""
    out: dict[str, list[Attachment]] = {}
    for a in await releases.live_of(locker.pool, disclosure_ids):
        out.setdefault(a.disclosure_id, []).append(a)
    return out


async def open_published(locker: Locker, disclosure_id: str, blake3_hex: str) -> Attachment:
    """A render the portal may serve now: attached, not detached, its record published at this moment and
    its object still held; anything else is one and the same ``NotFound``."""
    found = await releases.published_attachment(locker.pool, disclosure_id, blake3_hex.strip().lower())
    stored = None if found is None else await catalog.get_object(locker.pool, found.blake3)
    if found is None or stored is None or stored.disposed_at is not None:
        raise NotFound("no such published recording")
    return found


async def public_check_failed(locker: Locker, attachment: Attachment, found: str) -> None:
    """The portal's bytes of a render did not hash to its address: the alarm, in the case log too."""
    await check_failed_by(locker, attachment.case_id, attachment.blake3, PUBLIC_ACTOR, found)
