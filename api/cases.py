"""Cases, their evidence and text records, and reading evidence (with HTTP Range, always logged)."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import asdict
from typing import Any

from aiohttp import web

from api.access import ACCESS, require_read
from api.appkeys import LOCKER, METRICS
from api.auth import principal_of
from api.client import client_address
from api.params import (
    blake3_param,
    json_object,
    json_response,
    purpose,
    query_int,
    query_time,
    text_field,
)
from foundation.errors import Invalid, Malformed, TooLarge
from integrity.hashing import ContentHasher, object_key
from policy import restriction
from policy.cases import STAGES
from services import case_search, cases, decisions, evidence, handover, witnessing
from storage import catalog

MAX_RECORD_BYTES = 2 * 1024**3
#: At most 19 digits per bound (2^63 > any object's size): a longer number is unsatisfiable, not parsed.
_RANGE = re.compile(r"^bytes=(\d{0,19})-(\d{0,19})$")


async def create_case(request: web.Request) -> web.Response:
    """Open a case; its log starts with ``case.opened``."""
    body = await json_object(request)
    case_id = text_field(body, "id", required=True, max_len=64)
    title = text_field(body, "title", max_len=500) or ""
    handler = text_field(body, "handler", max_len=100)
    assert case_id is not None
    opened = await cases.open_case(request.app[LOCKER], case_id, who=principal_of(request), title=title,
                                   handler=handler)
    return json_response({"id": case_id, "title": title, "size": opened.tree_size,
                          "checkpoint": opened.checkpoint.decode()}, status=201)


async def list_cases(request: web.Request) -> web.Response:
    """Search cases by id, officer, station and recording date range.

    A restricted case the caller may not read is listed by id and level only (RULES §三).
    """
    locker = request.app[LOCKER]
    rows = await case_search.search(
        locker.pool, case_id=request.query.get("id"), officer=request.query.get("officer"),
        station=request.query.get("station"), since=query_time(request, "from"), until=query_time(request, "to"),
        limit=query_int(request, "limit", 100, minimum=1, maximum=1000), offset=query_int(request, "offset", 0),
        reader=principal_of(request).name, reader_id=principal_of(request).id, reader_role=principal_of(request).role,
    )
    return json_response({"cases": [redacted(row) for row in rows]})


def redacted(row: dict[str, Any]) -> dict[str, Any]:
    """A search row as the caller may see it: all of it, or only id and level of a case they may not read."""
    if row.pop("readable"):
        return row
    return {"id": row["id"], "restriction": row["restriction"], "restricted": True}


async def get_case(request: web.Request) -> web.Response:
    locker = request.app[LOCKER]
    case_id = request.match_info["case"]
    size, root = await locker.log.head(case_id)
    cp = await locker.log.checkpoint(case_id)
    evidence = await catalog.case_evidence(locker.pool, case_id)
    state = await require_read(request, case_id)  # answered by the guard a moment ago: cached
    level = state.level if state else restriction.UNRESTRICTED
    notice = restriction.notice(level)
    note = await witnessing.cosigned_note(locker.pool, case_id, cp.size, cp.note)
    witnessed = await witnessing.witnessed_size(locker.pool, locker.witnesses, case_id)
    return json_response({"id": case_id, "size": size, "root": root.hex(), "checkpoint": note.decode(),
                          "witnessed_size": witnessed, "witness_quorum": locker.witnesses.quorum,
                          "restriction": level, **({"notice": dict(notice)} if notice else {}),
                          "evidence": [asdict(e) for e in evidence]})


async def case_evidence(request: web.Request) -> web.Response:
    locker = request.app[LOCKER]
    case_id = request.match_info["case"]
    await locker.log.head(case_id)  # 404 for an unknown case
    evidence = await catalog.case_evidence(locker.pool, case_id)
    return json_response({"case": case_id, "evidence": [asdict(e) for e in evidence]})


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, length) of a single ``bytes=`` range, None for the whole object; 416 if unsatisfiable."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        raise web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    first, last = m.group(1), m.group(2)
    if first:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    else:
        start, end = max(size - int(last), 0), size - 1
    if start >= size or end < start:
        raise web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    return start, end - start + 1


async def read_object(request: web.Request) -> web.StreamResponse:
    """Stream a case's object (Range supported); the read is logged before a byte leaves."""
    return await stream_object(request, request.match_info["case"], blake3_param(request.match_info["blake3"]),
                               purpose(request), download=bool(request.query.get("download")))


async def stream_object(request: web.Request, case_id: str, hexd: str, why: str, *, download: bool,
                        extra_headers: Mapping[str, str] | None = None) -> web.StreamResponse:
    """Log the read as ``evidence.accessed`` by the request's principal, then stream the bytes.

    Shared by the API and the web pages, so every reader goes through the same logging.
    """
    locker = request.app[LOCKER]
    action = "download" if download else "view"
    spans: list[tuple[int, int] | None] = []
    item = await evidence.open_object(
        locker, case_id, hexd, who=principal_of(request), purpose=why, action=action, client=client_address(request),
        check=lambda found: spans.append(parse_range(request.headers.get("Range"), found.size)))
    span = spans[0]
    request.app[METRICS].evidence_reads.labels(action).inc()
    headers = {"Accept-Ranges": "bytes", "ETag": f'"{hexd}"', "Cache-Control": "private, no-store",
               "X-Content-Type-Options": "nosniff"}
    headers.update(extra_headers or {})
    media_type = item.media_type.split(";")[0].strip().lower() if item.media_type else "application/octet-stream"
    # The bytes are a station's or a user's, not ours: never let a browser run them in our origin.
    headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    if action == "download" or not is_passive(media_type):
        headers["Content-Disposition"] = f"attachment; filename=\"{_safe_name(item.file_name or hexd)}\""
    start, length = (0, item.size) if span is None else span
    if span is not None:
        headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{item.size}"
    who = principal_of(request)
    await evidence.require_intact_size(locker, case_id, item, who=who)  # a short object: 500 before any header
    resp = web.StreamResponse(status=206 if span else 200, headers=headers)
    resp.content_type = media_type
    resp.content_length = length
    await resp.prepare(request)
    async def mismatch(found: str) -> None:
        await evidence.check_failed(locker, case_id, hexd, who=who, found=found)

    return await send_checked(request, resp, hexd, start, length, whole=span is None, mismatch=mismatch)


async def send_checked(request: web.Request, resp: web.StreamResponse, hexd: str, start: int, length: int, *,
                       whole: bool, mismatch: Callable[[str], Awaitable[None]]) -> web.StreamResponse:
    """Stream ``length`` bytes of object ``hexd`` from ``start`` into a prepared response.

    A whole read is re-hashed (BLAKE3) as it goes; the last chunk is held back until the hash is known,
    so bytes that no longer match are never delivered whole: ``mismatch(found)`` raises the alarm and the
    response breaks off short of its length (the client sees a broken download, never a bad file).
    Shared by the staff reads, the share downloads and the public portal's renders.
    """
    chunks = request.app[LOCKER].store.get(object_key(hexd), start=start, length=length)
    hasher = ContentHasher(sha256=False) if whole else None
    held: bytes | None = None
    try:
        async for chunk in chunks:
            if hasher is not None:
                hasher.update(chunk)
            if held is not None:
                await resp.write(held)
            held = chunk
        if hasher is not None and (got := hasher.digest().blake3) != hexd:
            request.app[METRICS].read_check_failures.inc()
            await mismatch(f"blake3 {got}")
            _break_off(request)
            return resp
        if held is not None:
            await resp.write(held)
        await resp.write_eof()
    except ConnectionError:
        pass  # the reader left (a video element abandons a range when it seeks): nothing more to send
    finally:
        if isinstance(chunks, AsyncGenerator):
            await chunks.aclose()  # release the store's file or connection now, not at garbage collection
    return resp


def _break_off(request: web.Request) -> None:
    """End a response that has sent its headers as a failure: close the connection short of its length."""
    if request.transport is not None:
        request.transport.close()


#: Media types a browser shows without running anything (the player's video and audio, plain pictures,
#: text): any other type (HTML, SVG, XML, scripts, PDF) is sent as an attachment, never rendered inline.
_PASSIVE = re.compile(r"^(video/[a-z0-9.+-]+|audio/[a-z0-9.+-]+|image/(png|jpeg|gif|webp|bmp|tiff)|text/plain"
                      r"|application/octet-stream)$")


def is_passive(media_type: str) -> bool:
    """Whether ``media_type`` (lowercase, no parameters) is safe to show inline."""
    return bool(_PASSIVE.match(media_type))


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:120]


async def add_record(request: web.Request) -> web.Response:
    """Add a text record (document, scan, form, notice) to a case: stored write-once, logged."""
    locker = request.app[LOCKER]
    case_id = request.match_info["case"]
    stage = request.query.get("stage", "")
    if stage not in STAGES:
        raise Malformed(f"stage must be one of {', '.join(STAGES)} ({', '.join(STAGES.values())})")
    file_name = request.query.get("file_name", "")
    if not file_name or len(file_name) > 255 or "/" in file_name or "\\" in file_name:
        raise Malformed("file_name is required: a plain name of at most 255 characters, no path")
    if request.content_length is not None and request.content_length > MAX_RECORD_BYTES:
        raise TooLarge(f"records are limited to {MAX_RECORD_BYTES} bytes")
    if not request.body_exists or request.content_length == 0:
        raise Malformed("a record needs its content as the request body")
    await locker.log.head(case_id)

    async def body() -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in request.content.iter_chunked(1024 * 1024):
            seen += len(chunk)
            if seen > MAX_RECORD_BYTES:
                raise TooLarge(f"records are limited to {MAX_RECORD_BYTES} bytes")
            yield chunk

    appended = await evidence.add_record(locker, case_id, body(), who=principal_of(request), stage=stage,
                                         file_name=file_name,
                                         media_type=request.content_type or "application/octet-stream",
                                         title=request.query.get("title"),
                                         decision_no=request.query.get("decision_no"))
    receipt = await locker.receipt_for(appended)
    return json_response({"created": appended.created, "receipt": receipt.as_json()},
                         status=201 if appended.created else 200)


async def determine(request: web.Request) -> web.Response:
    """The case handler's major-decision determination (§四(二)) for one decision."""
    body = await json_object(request)
    answers, facts = body.get("answers"), body.get("facts") or {}
    if not isinstance(answers, dict) or not isinstance(facts, dict):
        raise Invalid("'answers' maps each §四(二) criterion to true/false; 'facts' is an object")
    found = await decisions.determine(request.app[LOCKER], request.match_info["case"],
                                      text_field(body, "decision_no", required=True, max_len=200) or "",
                                      answers=answers, facts=facts, reason=text_field(body, "reason", max_len=2000)
                                      or "", who=principal_of(request))
    return json_response({**asdict(found), "criteria": found.criteria}, status=201)


async def hand_over(request: web.Request) -> web.Response:
    """Hand the case to another investigator (by its handler or an admin), with a reason; logged."""
    case_id = request.match_info["case"]
    body = await json_object(request)
    who = principal_of(request)
    previous, new = await handover.hand_over(
        request.app[LOCKER], case_id, text_field(body, "to", required=True, max_len=64) or "",
        who=who,
        reason=text_field(body, "reason", max_len=2000) or "")
    request.app[ACCESS].forget(case_id)  # the handler reads a restricted case: answers change
    return json_response({"case": case_id, "previous": previous, "handler": new})
