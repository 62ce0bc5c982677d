"""Resumable uploads from docking stations (see ``storage/intake.py`` for the session model).

    POST   /api/v1/uploads              declare: size, blake3, metadata  -> 201 {id, offset}
                                        (or 200 with the receipt if the case already logs the file)
    PUT    /api/v1/uploads/{id}?offset=N  a chunk starting at byte N        -> {offset} or {receipt}
    GET    /api/v1/uploads/{id}         where to resume                   -> {offset, state}
    DELETE /api/v1/uploads/{id}         give up
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from api.appkeys import METRICS, UPLOADS
from api.auth import principal_of
from api.params import int_field, json_object, json_response, rfc3339_field, text_field
from foundation.errors import Forbidden, Invalid, Malformed, NotFound, TooLarge
from integrity.hashing import is_blake3_hex
from services.intake import UploadFailed, UploadStatus
from services.permissions import STATION
from storage.principals import Principal

MAX_UPLOAD_BYTES = 256 * 1024**3
#: What the server reads from a request body at a time (the intake queue holds two of these); also
#: aiohttp's per-connection read buffer (``read_bufsize`` in ``api.app.serve``).
READ_CHUNK_BYTES = 256 * 1024
_NAME = r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}"
#: Frames per second as ffprobe gives it ("30000/1001"); the player steps one frame by it.
FRAME_RATE_PATTERN = r"[1-9][0-9]{0,8}/[1-9][0-9]{0,8}"


def _upload_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["upload"])
    except ValueError:
        raise NotFound("no such upload") from None


def _uploader_fields(body: dict[str, Any], who: Principal) -> dict[str, Any]:
    """A station's name, or for a user (the browser's intake) a record's title and the decision it records."""
    declared = text_field(body, "station", max_len=64)
    if who.role in STATION:
        if declared is not None and declared != who.name:
            raise Forbidden(f"station {who.name!r} may only upload for itself, not for {declared!r}")
        return {"station": who.name}
    if declared is not None:
        raise Forbidden(f"{who.actor} is not a docking station: only a station declares 'station'")
    fields: dict[str, Any] = {}
    for name, limit in (("title", 500), ("decision_no", 200)):  # 询问笔录, 现场笔录; a decision's number
        if (text := text_field(body, name, max_len=limit)) is not None and text.strip():
            fields[name] = text.strip()
    return fields


def _metadata(body: dict[str, Any], who: Principal) -> dict[str, Any]:
    """The entry fields a station (or a user, whose entry's actor says who added it) may declare, each validated."""
    fields = _uploader_fields(body, who)
    for name in ("officer", "camera"):
        if (value := text_field(body, name, max_len=64, pattern=_NAME)) is not None:
            fields[name] = value
    file_name = text_field(body, "file_name", required=True, max_len=255)
    if file_name is None or "/" in file_name or "\\" in file_name or file_name in (".", ".."):
        raise Invalid("'file_name' must be a plain file name, without a path")
    fields["file_name"] = file_name
    fields["media_type"] = text_field(body, "media_type", max_len=100) or "application/octet-stream"
    if (recorded_at := rfc3339_field(body, "recorded_at")) is not None:
        fields["recorded_at"] = recorded_at
    for name in ("duration_ms", "width", "height"):
        if (number := int_field(body, name, maximum=2**40)) is not None:
            fields[name] = number
    # The camera's clock minus the station's when docked: recorded_at is the camera's claim.
    if (drift := int_field(body, "clock_drift_s", minimum=-(2**40), maximum=2**40)) is not None:
        fields["clock_drift_s"] = drift
    if (rate := text_field(body, "frame_rate", max_len=19, pattern=FRAME_RATE_PATTERN)) is not None:
        fields["frame_rate"] = rate
    for name in ("video_codec", "audio_codec", "stage", "location", "camera_time", "source_path"):
        if (text := text_field(body, name, max_len=255)) is not None:
            fields[name] = text
    return fields


def _proxy_fields(body: dict[str, Any]) -> dict[str, Any]:
    original = text_field(body, "original_blake3", required=True, max_len=64)
    if original is None or not is_blake3_hex(original):
        raise Invalid("a proxy names its original: 'original_blake3' (64 hex digits)")
    ffmpeg = body.get("ffmpeg")
    if not isinstance(ffmpeg, dict) or not all(isinstance(v, str) for v in ffmpeg.values()):
        raise Invalid("a proxy records how it was made: 'ffmpeg' {\"command\": ..., \"version\": ...}")
    return {"original_blake3": original,
            "ffmpeg": {k: v[:4000] for k, v in ffmpeg.items() if k in ("command", "version")}}


async def create_upload(request: web.Request) -> web.Response:
    """Declare an upload: its size, BLAKE3 hash and metadata; the station then sends the bytes."""
    body = await json_object(request)
    station = principal_of(request)
    kind = body.get("kind", "original")
    if kind not in ("original", "proxy", "record"):
        raise Invalid("'kind' must be 'original', 'proxy' or 'record'")
    blake3 = text_field(body, "blake3", required=True, max_len=64)
    if blake3 is None or not is_blake3_hex(blake3):
        raise Invalid("'blake3' must be 64 lowercase hex digits")
    size = int_field(body, "size", required=True, maximum=MAX_UPLOAD_BYTES)
    assert size is not None
    fields = _metadata(body, station)
    if kind == "proxy":
        fields.update(_proxy_fields(body))
    status = await request.app[UPLOADS].create(who=station, case_id=text_field(body, "case", max_len=64),
                                               kind=kind, blake3=blake3, size=size, fields=fields)
    return _status_response(status, created=status.state == "open")


def _status_response(status: UploadStatus, *, created: bool = False) -> web.Response:
    return json_response(status.as_json(), status=201 if created else 200)


async def upload_status(request: web.Request) -> web.Response:
    """Where to resume: the number of bytes the server holds."""
    status = await request.app[UPLOADS].status(_upload_id(request), principal_of(request).name)
    return _status_response(status)


async def put_chunk(request: web.Request) -> web.Response:
    """Send bytes starting at ``offset``; a resent overlap is skipped, the last byte commits."""
    upload_id = _upload_id(request)
    raw = request.query.get("offset", request.headers.get("Upload-Offset"))
    if raw is None or not re.fullmatch(r"[0-9]{1,16}", raw) or int(raw) > 2**53 - 1:
        raise Malformed("offset is required (?offset=N or Upload-Offset: N), a non-negative integer")
    if request.content_length is not None and request.content_length > MAX_UPLOAD_BYTES:
        raise TooLarge("chunk larger than any upload may be")
    metrics = request.app[METRICS]

    async def body() -> AsyncIterator[bytes]:
        # The pieces as aiohttp received them (each at most one socket read, and no more than
        # ``read_bufsize`` twice over is buffered), never joined: iter_chunked() copied every byte
        # once more on the event loop to cut fixed sizes.  Not iter_any(): it joins what is buffered.
        async for chunk, _ in request.content.iter_chunks():
            if chunk:  # b"" marks the end of an HTTP chunk (chunked transfer encoding)
                metrics.upload_bytes.inc(len(chunk))
                yield chunk

    try:
        status = await request.app[UPLOADS].write(upload_id, principal_of(request).name, int(raw), body())
    except UploadFailed as exc:
        metrics.uploads.labels("failed").inc()
        if "declared" in exc.extra:
            metrics.hash_mismatches.inc()
        raise
    if status.state == "committed":
        metrics.uploads.labels("committed").inc()
    return _status_response(status)


async def abort_upload(request: web.Request) -> web.Response:
    await request.app[UPLOADS].abort(_upload_id(request), principal_of(request).name)
    return json_response({"id": request.match_info["upload"], "state": "aborted"})



async def report_no_proxy(request: web.Request) -> web.Response:
    """A station could not make a proxy: the original stays evidence, flagged with ffmpeg's error."""
    body = await json_object(request)
    hexd = request.match_info["blake3"]
    if not is_blake3_hex(hexd):
        raise NotFound("no such object")
    case_id = text_field(body, "case", required=True, max_len=64)
    error = text_field(body, "error", required=True, max_len=4000)
    version = text_field(body, "ffmpeg_version", max_len=255) or ""
    assert case_id is not None and error is not None
    appended = await request.app[UPLOADS].flag_no_proxy(who=principal_of(request), case_id=case_id, original=hexd,
                                                        error=error, ffmpeg_version=version)
    return json_response({"case": case_id, "seq": appended.seq}, status=201 if appended.created else 200)
