"""The recipient's side of a share (issue 18): ``/s/{token}``, no staff account.

A prosecutor or a court clerk opens the link: a page listing the shared items, a player for their
proxies, downloads of the originals and (for a whole case) the court bundle, and the /verify page's
in-browser check of a downloaded file.  Everything is decided and logged by ``services.shares``;
an unknown, expired or revoked token gets one and the same 404 page, and bad tokens count towards
the same back-off as failed sign-ins (``api.throttle``), per client address.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from yarl import URL

from api import throttle
from api.appkeys import LOCKER, METRICS, PRINCIPAL
from api.cases import _safe_name, is_passive, parse_range, send_checked
from api.client import client_address
from api.params import blake3_param, json_response
from api.throttle import LIMITER
from api.web import forms, i18n
from api.web.bundles import send_bundle
from api.web.cases import case_view
from api.web.render import error_page, page, redirect
from api.web.verify import SCRIPT_PLURALS, SCRIPT_STRINGS
from services import shares, verification
from storage.shares import Share

#: The recipient's pages: no referrer (the token is in the path), never cached, never framed.
SHARE_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


async def _find(request: web.Request) -> tuple[str, Share]:
    """The live share of the path's token; a miss counts towards the client's back-off (429)."""
    token = request.match_info["token"]
    client = client_address(request)
    keys = [f"addr:{client}"]
    limiter = request.app[LIMITER]
    throttle.check(limiter, keys)
    try:
        return token, await shares.find(request.app[LOCKER], token)
    except shares.ShareNotFound:
        for started in throttle.record_failure(limiter, keys, client):
            request.app[METRICS].auth_backoffs.labels(started.partition(":")[0]).inc()
        raise


async def share_page(request: web.Request) -> web.StreamResponse:
    """The shared items, their players and downloads, and the in-browser verification."""
    try:
        token, _ = await _find(request)
    except shares.ShareNotFound:
        return _not_found(request)
    share, items = await shares.view(request.app[LOCKER], token, client=client_address(request))
    lang = i18n.choose(request)
    t = i18n.translator(lang)
    strings: dict[str, str | dict[str, str]] = {key: t(key) for key in SCRIPT_STRINGS}
    strings.update({key: i18n.plural_forms(lang, key) for key in SCRIPT_PLURALS})
    response = page(request, "share.html", {
        "share": share, "items": items, "base": f"/s/{token}", "strings": strings,
        "left": None if share.max_downloads is None else share.max_downloads - share.downloads})
    response.headers.update(SHARE_HEADERS)
    return response


def _not_found(request: web.Request) -> web.Response:
    response = error_page(request, 404, i18n.translator(i18n.choose(request))("share.not_found"))
    response.headers.update(SHARE_HEADERS)
    return response


async def share_object(request: web.Request) -> web.StreamResponse:
    """An original or record downloaded (counted, ``share.downloaded``) or a proxy played (``?play=1``)."""
    token, _ = await _find(request)
    play = request.query.get("play") == "1"
    hexd = blake3_param(request.match_info["blake3"])
    span = None
    locker = request.app[LOCKER]
    share, item = await shares.open_item(locker, token, hexd, play=play, client=client_address(request))
    if play:
        span = parse_range(request.headers.get("Range"), item.size)
    media_type = item.media_type.split(";")[0].strip().lower() if item.media_type else "application/octet-stream"
    headers = {**SHARE_HEADERS, "Accept-Ranges": "bytes" if play else "none", "ETag": f'"{hexd}"',
               "Content-Security-Policy": "default-src 'none'; sandbox"}
    if not play or not is_passive(media_type):
        headers["Content-Disposition"] = f"attachment; filename=\"{_safe_name(item.file_name or hexd)}\""
    start, length = (0, item.size) if span is None else span
    if span is not None:
        headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{item.size}"
    resp = web.StreamResponse(status=206 if span else 200, headers=headers)
    resp.content_type = media_type
    resp.content_length = length
    await resp.prepare(request)

    async def mismatch(found: str) -> None:
        await shares.check_failed(locker, share, hexd, found)

    # Re-hashed as it streams, like a staff read: bytes that are not the object's never arrive whole.
    return await send_checked(request, resp, hexd, start, length, whole=span is None, mismatch=mismatch)


async def share_bundle(request: web.Request) -> web.StreamResponse:
    """The court bundle of a whole-case share: every entry, the checkpoint, the media and the index."""
    token, share = await _find(request)
    locker, client = request.app[LOCKER], client_address(request)

    async def write(out: Path) -> None:
        await shares.write_bundle(locker, token, out, client=client)

    return await send_bundle(request, share.case_id, write, headers=SHARE_HEADERS)


async def share_verify(request: web.Request) -> web.Response:
    """The /verify answer for a hash, within the share's own items only (proofs checked in the browser)."""
    _, share = await _find(request)
    hexd = blake3_param(request.match_info["blake3"])
    locker = request.app[LOCKER]
    shared = await shares.shared_items(locker, share)
    held = {s.item.blake3 for s in shared} | {s.proxy.blake3 for s in shared if s.proxy is not None}
    found = await verification.matches(locker, hexd, share.case_id) if hexd in held else []
    return json_response({"blake3": hexd, "withheld": 0, **verification.answer(found)})


# -- the staff side: the share form and the shares list on the case page ---------------------------


async def create(request: web.Request) -> web.StreamResponse:
    """The share form: selected items or the whole case; the answer shows the link once."""
    case_id = request.match_info["case"]
    form = await request.post()
    t = i18n.translator(i18n.choose(request))
    try:
        days = forms.count(form, "days", t("share.bad_number")) or 0
        limit = forms.count(form, "max_downloads", t("share.bad_number")) or None
    except forms.FormError as exc:
        return await case_view(request, case_id, error=str(exc), status=422)
    items = forms.choices(form, "items") or None
    result = await forms.attempt(shares.create(
        request.app[LOCKER], case_id, who=request[PRINCIPAL], organisation=forms.text(form, "organisation", 500),
        person=forms.text(form, "person", 500), purpose=forms.text(form, "purpose", 500), days=days,
        items=items, max_downloads=limit, recipient=forms.text(form, "recipient", 20) or "judicial"))
    if isinstance(result, forms.Refused):
        return await case_view(request, case_id, error=result.message, status=result.status)
    share, token = result
    response = page(request, "share_created.html", {
        "case_id": case_id, "share": share, "link": str(request.url.with_path(f"/s/{token}").with_query(None))})
    response.headers.update(SHARE_HEADERS)
    return response


async def revoke(request: web.Request) -> web.StreamResponse:
    """Revoke a share at once, with a reason."""
    case_id = request.match_info["case"]
    form = await request.post()
    try:
        share_id = int(request.match_info["id"])
    except ValueError:
        share_id = 0
    result = await forms.attempt(shares.revoke(request.app[LOCKER], case_id, share_id, who=request[PRINCIPAL],
                                               reason=forms.text(form, "reason", 2000)))
    if isinstance(result, forms.Refused):
        return await case_view(request, case_id, error=result.message, status=result.status)
    return redirect(str(URL(f"/cases/{case_id}").with_query(done="share_revoked")))
