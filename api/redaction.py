"""Redaction projects and renders over HTTP (issue 19): save a version, suggest face tracks, request a
render and poll its progress.  Every rule is the service's (``services.redaction``)."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

from aiohttp import web

from api.appkeys import LOCKER, RENDERS
from api.auth import principal_of
from api.params import blake3_param, int_field, json_object, json_response, text_field
from foundation.errors import Invalid
from services import redaction


def _render(row: Any) -> dict[str, Any]:
    data = asdict(row)
    data["id"] = str(row.id)
    return data


async def list_projects(request: web.Request) -> web.Response:
    """Every saved version of the case's redaction projects, and its renders with their progress."""
    locker, who, case_id = request.app[LOCKER], principal_of(request), request.match_info["case"]
    versions = await redaction.projects(locker, case_id, who=who)
    renders = await redaction.renders(locker, case_id, who=who)
    return json_response({"case": case_id, "versions": [asdict(v) for v in versions],
                          "renders": [_render(r) for r in renders]})


async def save_project(request: web.Request) -> web.Response:
    """A new version of a project (a new project when ``project`` is absent); 201 with its hash."""
    body = await json_object(request)
    saved = await redaction.save(
        request.app[LOCKER], request.match_info["case"], who=principal_of(request),
        source_blake3=blake3_param(body.get("source", ""), "source"),
        body={k: body[k] for k in ("tracks", "audio") if k in body},
        name=text_field(body, "name", max_len=redaction.NAME_MAX_CHARS) or "",
        project_id=text_field(body, "project", max_len=64), base_version=int_field(body, "base_version", minimum=1))
    return json_response(asdict(saved), status=201)


async def suggest(request: web.Request) -> web.Response:
    """Face and plate tracks the detectors propose for a recording (``detect``: which, default both); the
    user accepts, adjusts or deletes them."""
    body = await json_object(request)
    detect = body.get("detect", list(redaction.DETECTORS))
    if not isinstance(detect, list) or not all(isinstance(d, str) for d in detect):
        raise Invalid(f"detect: a list of {', '.join(redaction.DETECTORS)}")
    tracks = await redaction.suggest(
        request.app[LOCKER], request.match_info["case"], blake3_param(body.get("source", ""), "source"),
        who=principal_of(request), every_ms=int_field(body, "every_ms", minimum=40) or 200, detect=tuple(detect))
    return json_response({"detector": ", ".join(redaction.DETECTOR_NAMES[d] for d in dict.fromkeys(detect)),
                          "tracks": tracks})


async def request_render(request: web.Request) -> web.Response:
    """Queue a render of a project version (the latest unless ``version``); 202 with the render's id."""
    body = await json_object(request)
    render_id = await request.app[RENDERS].submit(
        request.match_info["case"], request.match_info["project"], int_field(body, "version", minimum=1),
        who=principal_of(request))
    return json_response({"render": str(render_id), "state": "queued"}, status=202)


async def render_status(request: web.Request) -> web.Response:
    """A render's state and progress (percent of the source's duration encoded)."""
    try:
        render_id = uuid.UUID(request.match_info["render"])
    except ValueError:
        raise Invalid("render: a render id (UUID)") from None
    row = await redaction.render_status(request.app[LOCKER], request.match_info["case"], render_id,
                                        who=principal_of(request))
    return json_response(_render(row))
