"""Sharing a case with a prosecutor or a court (issue 18): a link with a token, no staff account.

Who the share goes to decides what it may carry (issue 19 item 5, reasoning in ``services.release``):
a ``judicial`` recipient (a prosecutor or a court) gets originals, redacted renders or the whole case;
any ``other`` recipient (the party's lawyer, the press, a requester) gets selected redacted renders
only, each passed through the release gate (``services.release.require_releasable``).

A share names its recipient (organisation, person, purpose), the items (selected originals or the
whole case), an expiry and an optional download limit.  It is made by someone who may read the case
(need to know, ``services.restriction.require_read``) in a role that may share (``PERMISSIONS``),
and logged as ``share.created``; ``share.revoked`` ends it at once.  The token is returned once and
only its hash is kept (``storage.shares``).

The recipient is not a principal: everything they do is looked up by the token and logged in the
case under the share's id (``share.viewed``, ``share.downloaded``), with ``share:<id>`` as the actor.
Expiry, revocation and the download limit are decided here, so the API and the pages give the same
answer; an unknown, expired or revoked token is one and the same ``ShareNotFound``, telling nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from foundation.errors import Conflict, Gone, Invalid, NotFound
from integrity.hashing import object_key
from services.evidence import ObjectDamaged, check_failed_by
from services.locker import Locker
from services.permissions import authorize
from services.release import RELEASABLE, require_releasable
from services.restriction import require_read
from storage import catalog
from storage import shares as rows
from storage.catalog import EvidenceRow
from storage.log import Draft
from storage.principals import Principal
from storage.shares import Share as Share

#: The longest a share may run; a court that needs longer gets a new link.
MAX_DAYS = 365
TEXT_MAX_CHARS = 500
MAX_ITEMS = 1000
#: Views of one share within this window share one ``share.viewed`` entry (a reload is not a new look).
VIEW_WINDOW_SECONDS = 600
#: Who a share goes to: a prosecutor or a court, or anyone else (redacted renders only).
RECIPIENTS = ("judicial", "other")
#: Kinds of item a share may name: originals and records, and redacted renders.
SHAREABLE_KINDS = ("evidence.ingested", "record.added", RELEASABLE)
#: What every unknown, expired or revoked token is told: the same words, so a token tells nothing.
NOT_FOUND_MESSAGE = "no such share: the link is unknown, expired or revoked"


class ShareNotFound(NotFound):
    code = "share_not_found"

    def __init__(self, message: str = NOT_FOUND_MESSAGE) -> None:
        super().__init__(message)


class DownloadLimitReached(Gone):
    code = "download_limit_reached"


class ShareRevoked(Conflict):
    code = "share_revoked"


@dataclass(frozen=True, slots=True)
class SharedItem:
    """One original (or record) of a share, and the proxy the recipient's page plays, if any."""

    item: EvidenceRow
    proxy: EvidenceRow | None


def actor(share: Share) -> str:
    """How a recipient appears in the case log: ``share:<id>``."""
    return f"share:{share.id}"


def _text(value: str, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise Invalid(f"a share names its {what}")
    if len(value) > TEXT_MAX_CHARS:
        raise Invalid(f"{what}: at most {TEXT_MAX_CHARS} characters")
    return value


async def create(locker: Locker, case_id: str, *, who: Principal, organisation: str, person: str, purpose: str,
                 days: int, items: list[str] | None = None, max_downloads: int | None = None,
                 now: dt.datetime | None = None, recipient: str = "judicial") -> tuple[Share, str]:
    """Share selected items (BLAKE3 hashes: originals, records or redacted renders) or the whole case
    (``items`` None, judicial recipients only); returns the share and its token (shown once).  Logged as
    ``share.created``."""
    authorize(who, "share.create")
    await require_read(locker.pool, case_id, who)
    org, name, why = _text(organisation, "organisation"), _text(person, "person"), _text(purpose, "purpose")
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DAYS:
        raise Invalid(f"days: a whole number from 1 to {MAX_DAYS}")
    if max_downloads is not None and (isinstance(max_downloads, bool) or not isinstance(max_downloads, int)
                                      or not 1 <= max_downloads <= 100_000):
        raise Invalid("max_downloads: a whole number from 1, or none for no limit")
    if recipient not in RECIPIENTS:
        raise Invalid(f"recipient: one of {', '.join(RECIPIENTS)} (a prosecutor or a court: judicial)")
    if items is None and recipient != "judicial":
        raise Invalid("only a prosecutor or a court is sent the whole case; name the redacted renders to share")
    if items is not None:
        wanted = list(dict.fromkeys(h.strip().lower() for h in items))
        if not wanted or len(wanted) > MAX_ITEMS:
            raise Invalid(f"items: from 1 to {MAX_ITEMS} BLAKE3 hashes of the case, or none for the whole case")
        held = {e.blake3 for e in await catalog.case_evidence(locker.pool, case_id) if e.kind in SHAREABLE_KINDS}
        if missing := [h for h in wanted if h not in held]:
            raise Invalid(f"case {case_id} holds no original or redacted render {missing[0][:80]!r}")
        if recipient != "judicial":
            for h in wanted:
                await require_releasable(locker, case_id, h, to="anyone but a prosecutor or a court")
        items = wanted
    expires = (now or dt.datetime.now(dt.UTC)) + dt.timedelta(days=days)
    token = rows.new_token()
    share = await rows.insert(locker.pool, case_id, token, items=items, organisation=org, person=name,
                              purpose=why, expires_at=expires, max_downloads=max_downloads, created_by=who.actor,
                              recipient=recipient)
    await locker.log.append(case_id, Draft("share.created", who.actor, {
        "share": share.id, "organisation": org, "person": name, "purpose": why,
        "items": list(items) if items is not None else "case", "expires_at": expires.isoformat(),
        "max_downloads": max_downloads, "recipient": recipient}))
    return share, token


async def of_case(locker: Locker, case_id: str, *, who: Principal) -> list[Share]:
    """The case's shares, live and ended (for those who may read the case)."""
    authorize(who, "share.list")
    await require_read(locker.pool, case_id, who)
    return await rows.of_case(locker.pool, case_id)


async def revoke(locker: Locker, case_id: str, share_id: int, *, who: Principal, reason: str) -> Share:
    """End a share at once; logged as ``share.revoked``.  Its link then answers as an unknown one."""
    authorize(who, "share.revoke")
    await require_read(locker.pool, case_id, who)
    why = _text(reason, "reason for revoking")
    current = await rows.get(locker.pool, share_id)
    if current is None or current.case_id != case_id:
        raise NotFound(f"case {case_id} has no share {share_id}")
    share = await rows.revoke(locker.pool, share_id, who.actor, why)
    if share is None:
        raise ShareRevoked(f"share {share_id} of case {case_id} is already revoked")
    await locker.log.append(case_id, Draft("share.revoked", who.actor, {"share": share_id, "reason": why}))
    return share


async def find(locker: Locker, token: str, *, now: dt.datetime | None = None) -> Share:
    """The live share a token opens; ``ShareNotFound`` for an unknown, expired or revoked one alike."""
    if not token.startswith(rows.TOKEN_PREFIX) or len(token) > 100:
        raise ShareNotFound()
    share = await rows.by_token(locker.pool, token)
    if share is None or not share.live(now or dt.datetime.now(dt.UTC)):
        raise ShareNotFound()
    return share


async def shared_items(locker: Locker, share: Share) -> list[SharedItem]:
    """The originals, records and redacted renders a share covers, each with what its page plays (an
    original's proxy; a render plays itself), disposed objects left out.  A share with anyone but a
    prosecutor or a court holds redacted renders only, whatever its row says."""
    evidence = await catalog.case_evidence(locker.pool, share.case_id)
    proxies = {e.original_blake3: e for e in evidence if e.kind == "evidence.derived"}
    kinds = SHAREABLE_KINDS if share.recipient == "judicial" else (RELEASABLE,)
    chosen = [e for e in evidence if e.kind in kinds and (share.items is None or e.blake3 in share.items)]
    out = []
    for e in chosen:
        stored = await catalog.get_object(locker.pool, e.blake3)
        if stored is None or stored.disposed_at is None:
            out.append(SharedItem(e, e if e.kind == RELEASABLE else proxies.get(e.blake3)))
    return out


async def view(locker: Locker, token: str, *, client: str | None = None,
               now: dt.datetime | None = None) -> tuple[Share, list[SharedItem]]:
    """Open a share's page: its items; logged as ``share.viewed`` (once a window per share and client)."""
    share = await find(locker, token, now=now)
    bucket = int((now or dt.datetime.now(dt.UTC)).timestamp()) // VIEW_WINDOW_SECONDS
    fields: dict[str, object] = {"share": share.id}
    if client is not None:
        fields["client"] = client
    await locker.log.append(share.case_id, Draft("share.viewed", actor(share), fields,
                                                 dedupe=f"share-view:{share.id}:{client or '*'}:{bucket}"))
    return share, await shared_items(locker, share)


async def open_item(locker: Locker, token: str, blake3: str, *, play: bool = False, client: str | None = None,
                    now: dt.datetime | None = None) -> tuple[Share, EvidenceRow]:
    """Allow one object of a share to be read: an original or record downloaded (counted against the
    limit, logged ``share.downloaded``), or a proxy played (``play``: logged as ``share.viewed`` of the
    object, not counted).  The caller streams the bytes."""
    share = await find(locker, token, now=now)
    wanted = blake3.strip().lower()
    found: EvidenceRow | None = None
    for shared in await shared_items(locker, share):
        if play and shared.proxy is not None and shared.proxy.blake3 == wanted:
            found = shared.proxy
        elif not play and shared.item.blake3 == wanted:
            found = shared.item
    if found is None:
        raise NotFound(f"this share holds no {'proxy' if play else 'item'} {wanted[:80]}")
    info = await locker.store.head(object_key(found.blake3))
    if info.size != found.size:
        raise ObjectDamaged(f"object {found.blake3} is damaged in the store; the bureau has been told")
    fields: dict[str, object] = {"share": share.id, "object": found.blake3, "file_name": found.file_name or ""}
    if client is not None:
        fields["client"] = client
    if play:
        bucket = int((now or dt.datetime.now(dt.UTC)).timestamp()) // VIEW_WINDOW_SECONDS
        await locker.log.append(share.case_id, Draft("share.viewed", actor(share), fields,
                                                     dedupe=f"share-play:{share.id}:{found.blake3}:{bucket}"))
        return share, found
    share = await _count(locker, share)
    await locker.log.append(share.case_id, Draft("share.downloaded", actor(share), fields))
    return share, found


async def check_failed(locker: Locker, share: Share, blake3: str, found: str) -> None:
    """A recipient's download did not hash to the object's address: the integrity alarm, logged in the
    case under the share (the response itself is broken off by the caller)."""
    await check_failed_by(locker, share.case_id, blake3, actor(share), found)


async def write_bundle(locker: Locker, token: str, out: Path, *, client: str | None = None,
                       now: dt.datetime | None = None) -> Share:
    """The court bundle of a whole-case share (with media), counted and logged ``share.downloaded``
    before it is written, so the bundle's own checkpoint covers the entry that records it."""
    share = await find(locker, token, now=now)
    if share.items is not None or share.recipient != "judicial":
        raise NotFound("this share holds selected items; the court bundle comes with a share of the whole case")
    share = await _count(locker, share)
    fields: dict[str, object] = {"share": share.id, "object": "bundle", "file_name": f"{share.case_id}-bundle.zip"}
    if client is not None:
        fields["client"] = client
    await locker.log.append(share.case_id, Draft("share.downloaded", actor(share), fields))
    await locker.write_bundle(share.case_id, out, with_media=True)
    return share


async def _count(locker: Locker, share: Share) -> Share:
    counted = await rows.count_download(locker.pool, share.id)
    if counted is None:
        current = await rows.get(locker.pool, share.id)
        if current is not None and current.live(dt.datetime.now(dt.UTC)):
            raise DownloadLimitReached(f"this share's {share.max_downloads} downloads are used up; "
                                       "ask the bureau for a new link")
        raise ShareNotFound()
    return counted
