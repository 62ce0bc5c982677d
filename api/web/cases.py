"""Case pages: search, one case (evidence, records, checkpoint, timeline), playback, export.

Evidence content is only ever read through ``api.cases.stream_object``, the same path as the API:
a stated access reason (访问事由), checked here on the server, and an ``evidence.accessed`` entry
appended before a byte leaves.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from yarl import URL

from api.appkeys import LOCKER, PRINCIPAL, SETTINGS
from api.cases import stream_object
from api.client import client_address
from api.params import blake3_param, json_response, purpose
from api.verify import check_stored
from api.web import i18n, intake_panel, organise
from api.web import player as player_tools
from api.web.bundles import send_bundle
from api.web.render import page, redirect
from api.web.timeline import describe, stage_label
from foundation.errors import Malformed, NotFound
from integrity.checkpoint import open_checkpoint
from integrity.entry import case_origin
from integrity.errors import IntegrityError
from integrity.note import encode_base64
from policy import restriction as policy
from services import case_search, cases, disclosure, evidence, restriction, retention, shares, witnessing
from services.permissions import DISCLOSURE_READERS, INVESTIGATORS, READERS, roles_for
from storage import catalog
from storage.catalog import EvidenceRow

#: The case page shows at most this many log entries (the newest); the rest are in the bundle and API.
TIMELINE_MAX_ENTRIES = 1000
SEARCH_LIMIT = 200
#: Evidence bytes served to a browser never run as a page of this site, whatever their media type.
OBJECT_HEADERS = {"Content-Security-Policy": "default-src 'none'; sandbox", "X-Frame-Options": "DENY"}
PLAYABLE = ("video/", "audio/")
#: ``?done=`` notices after the case page's own forms (legal holds; retention from the admin page).
CASE_DONE = frozenset({"hold_placed", "hold_lifted", "assigned", "closed", "restricted", "granted", "grant_revoked",
                       "handed_over", "share_revoked", "case_opened", "record_added"})


@dataclass
class EvidenceGroup:
    """An original with the proxies made from it (a proxy whose original is missing stands alone)."""

    item: EvidenceRow
    proxies: list[EvidenceRow] = field(default_factory=list)

    @property
    def play(self) -> EvidenceRow:
        """What the Play button plays: the first proxy, else the item itself."""
        return self.proxies[0] if self.proxies else self.item

    @property
    def playable(self) -> bool:
        return (self.play.media_type or "").startswith(PLAYABLE)


def group_evidence(rows: list[EvidenceRow]) -> tuple[list[EvidenceGroup], list[EvidenceRow]]:
    """(recordings grouped original -> proxies, text records)."""
    groups: dict[str, EvidenceGroup] = {}
    loose: list[EvidenceGroup] = []
    records: list[EvidenceRow] = []
    for row in rows:
        if row.kind == "record.added":
            records.append(row)
        elif row.kind == "evidence.derived" and row.original_blake3 in groups:
            groups[row.original_blake3].proxies.append(row)
        elif row.kind == "evidence.ingested":
            groups.setdefault(row.blake3, EvidenceGroup(row))
        else:
            loose.append(EvidenceGroup(row))
    return [*groups.values(), *loose], records


def _date(raw: str, zone: dt.tzinfo, *, end: bool = False) -> dt.datetime | None:
    """A search date (``YYYY-MM-DD``, a day in the bureau's zone) as a bound; ``to`` includes its whole day."""
    if not raw:
        return None
    day = dt.date.fromisoformat(raw)
    if end:
        day += dt.timedelta(days=1)
    return dt.datetime(day.year, day.month, day.day, tzinfo=zone)


async def search(request: web.Request) -> web.StreamResponse:
    """Find cases by number, officer, station and recording dates."""
    t = i18n.translator(i18n.choose(request))
    filters = {k: request.query.get(k, "").strip()[:100] for k in ("id", "officer", "station", "from", "to")}
    error = None
    try:
        zone = request.app[SETTINGS].zone
        since, until = _date(filters["from"], zone), _date(filters["to"], zone, end=True)
    except ValueError:
        since = until = None
        error = t("cases.bad_date")
    rows = [] if error else await case_search.search(
        request.app[LOCKER].pool, case_id=filters["id"] or None, officer=filters["officer"] or None,
        station=filters["station"] or None, since=since, until=until, limit=SEARCH_LIMIT,
        # rows of restricted cases this user may not read: id and level only
        reader=request[PRINCIPAL].name, reader_id=request[PRINCIPAL].id, reader_role=request[PRINCIPAL].role)
    return page(request, "cases.html", {"filters": filters, "rows": rows, "error": error,
                                        "can_open": request[PRINCIPAL].role in roles_for("case.open"),
                                        "timezone": request.app[SETTINGS].timezone},
                status=400 if error else 200)


async def case_page(request: web.Request) -> web.StreamResponse:
    return await case_view(request, request.match_info["case"])


async def case_view(request: web.Request, case_id: str, *, error: str | None = None,
                    status: int = 200) -> web.Response:
    """A case: its log head and signed checkpoint, evidence, text records, timeline, disclosure records
    and (for investigators) its legal holds; ``error`` is a refused hold form's message."""
    locker = request.app[LOCKER]
    size, root = await locker.log.head(case_id)  # 404 page for an unknown case
    stored = await locker.log.checkpoint(case_id)
    signature: dict[str, object] = {"ok": False, "signers": [], "error": ""}
    try:
        checked, signers = open_checkpoint(stored.note, locker.keys.verifiers(),
                                           expected_origin=case_origin(locker.log.host, case_id))
        signature.update(ok=True, signers=signers, origin=checked.origin)
    except IntegrityError as exc:
        signature["error"] = str(exc)
    start = max(0, size - TIMELINE_MAX_ENTRIES)
    rows = await locker.log.entries(case_id, start, size)
    opened = rows[0] if start == 0 and rows else await locker.log.entry(case_id, 0)
    t = i18n.translator(i18n.choose(request))
    listed = await catalog.case_evidence(locker.pool, case_id)
    groups, records = group_evidence(listed)
    role = request[PRINCIPAL].role
    done = request.query.get("done", "") if request.method == "GET" else ""
    access = await _access(request, case_id)
    forms = cases.case_forms_apply(case_id)  # not on the governance log
    title = t("case.governance_title") if cases.is_governance(case_id) else json.loads(opened.body).get("title", "")
    return page(request, "case.html", {
        "case_id": case_id, "title": title, "size": size, "root": root.hex(), "case_forms": forms,
        "checkpoint": {"size": stored.size, "root": stored.root.hex(), "root_b64": encode_base64(stored.root),
                       "note": stored.note.decode(), "origin": case_origin(locker.log.host, case_id)},
        "signature": signature, "groups": groups, "records": records,
        "witnessed": {"configured": bool(locker.witnesses.endpoints), "quorum": locker.witnesses.quorum,
                      "size": await witnessing.witnessed_size(locker.pool, locker.witnesses, case_id)},
        "stages": {r.blake3: stage_label(r.stage, t) for r in records},
        "timeline": [describe(r, t) for r in rows], "truncated": start > 0,
        "can_read": role in READERS, "can_verify": role in INVESTIGATORS, "can_export": role in INVESTIGATORS,
        "can_hold": forms and role in INVESTIGATORS,
        "holds": await retention.list_holds(locker.pool, case_id) if forms and role in INVESTIGATORS else [],
        "disclosures": (await disclosure.records_for(locker.pool, who=request[PRINCIPAL], case_id=case_id))[0]
        if role in DISCLOSURE_READERS else [],
        "error": error, "notice": t(f"done.{done}") if done in CASE_DONE else "", "access": access,
        "shares": await shares.of_case(locker, case_id, who=request[PRINCIPAL]) if role in INVESTIGATORS else [],
        "can_share": role in INVESTIGATORS,
        "intake": intake_panel.panel(request, forms),  # issue 18 item 2: browser intake (api/web/intake.py)
        "organise": await organise.case_context(request, case_id, listed) if forms else {},  # issue 18 item 3
    }, status=status)


async def _access(request: web.Request, case_id: str) -> dict[str, object]:
    """The case's restriction for its page: level, handler, active grants, the levels this user may set."""
    state = await restriction.access(request.app[LOCKER].pool, case_id, request[PRINCIPAL].name)
    assert state is not None  # the page has already found the case
    role = request[PRINCIPAL].role
    said = policy.notice(state.level)
    manage = role in INVESTIGATORS  # the viewer may read the case: the guard saw to that
    settable = [lv for lv in policy.ORDER if lv != state.level and (
        role == "admin" or policy.rank(lv) > policy.rank(state.level))] if manage else []
    return {"level": state.level, "handler": state.handler, "notice": said[i18n.choose(request)] if said else "",
            "grants": await restriction.grants(request.app[LOCKER].pool, case_id), "can_manage": manage,
            "levels": settable,
            "can_hand_over": role == "admin" or (role == "investigator"
                                                 and policy.is_handler(request[PRINCIPAL].id, state.handler_id))}


async def _item(request: web.Request) -> tuple[str, EvidenceRow]:
    case_id = request.match_info["case"]
    hexd = blake3_param(request.match_info["blake3"])
    rows = [e for e in await catalog.case_evidence(request.app[LOCKER].pool, case_id) if e.blake3 == hexd]
    if not rows:
        await request.app[LOCKER].log.head(case_id)  # an unknown case says so
        raise NotFound(f"case {case_id!r} holds no object {hexd}")
    return case_id, rows[0]


def object_url(case_id: str, hexd: str, why: str, *, download: bool = False) -> str:
    query = {"purpose": why, **({"download": "1"} if download else {})}
    return str(URL.build(path=f"/cases/{case_id}/objects/{hexd}", query=query))


async def player(request: web.Request) -> web.StreamResponse:
    """Ask the access reason (访问事由); with one, play (or download) the object."""
    case_id, item = await _item(request)
    why = request.query.get("purpose", "").strip()[:500]
    asked = "purpose" in request.query
    if not why:
        return page(request, "purpose.html", {"case_id": case_id, "item": item, "missing": asked,
                                               "playable": (item.media_type or "").startswith(PLAYABLE)},
                    status=400 if asked else 200)
    if request.query.get("intent") == "download":
        return redirect(object_url(case_id, item.blake3, why, download=True))
    return page(request, "player.html", {
        **await player_tools.tools(request, case_id, item),  # frame rate, speeds, bookmarks (issue 18 item 4)
        "case_id": case_id, "item": item, "purpose": why, "src": object_url(case_id, item.blake3, why),
        "download": object_url(case_id, item.blake3, why, download=True),
        "kind": "video" if (item.media_type or "").startswith("video/") else
                "audio" if (item.media_type or "").startswith("audio/") else
                "text" if (item.media_type or "").split(";")[0].strip().lower() == "text/plain" else "other",
    })


async def read_object(request: web.Request) -> web.StreamResponse:
    """The bytes behind the player (HTTP Range for seeking); refused without an access reason."""
    why = purpose(request)  # 400 without one: enforced here, not only in the form
    case_id, item = await _item(request)
    return await stream_object(request, case_id, item.blake3, why, download=bool(request.query.get("download")),
                               extra_headers=OBJECT_HEADERS)


async def verify_item(request: web.Request) -> web.StreamResponse:
    """Re-hash one stored object of the case now (the "verify now" button)."""
    _, item = await _item(request)
    return json_response(await check_stored(request.app[LOCKER], item.blake3))


async def export(request: web.Request) -> web.StreamResponse:
    """Stream the case bundle with every object (a logged access), built in a temp file then removed."""
    locker = request.app[LOCKER]
    case_id = request.match_info["case"]
    form = await request.post()
    why = form.get("purpose")
    why = why.strip()[:500] if isinstance(why, str) else ""
    if not why:
        raise Malformed(i18n.translator(i18n.choose(request))("purpose.required"))
    await locker.log.head(case_id)
    who = request[PRINCIPAL]

    async def write(out: Path) -> None:
        await evidence.export(locker, case_id, out, who=who, with_media=True, purpose=why,
                              client=client_address(request))

    return await send_bundle(request, case_id, write)
