"""Basic enforcement information (§二 行政执法基本信息) over HTTP: the staff's pages and the portal's."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web

from api.appkeys import LOCKER
from api.auth import principal_of
from api.params import int_field, json_object, json_response
from foundation import clock
from services import basic_info
from storage.basic_info import Page


def _view(page: Page) -> dict[str, Any]:
    return asdict(page)


def _str(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    return value if isinstance(value, str) else ""


async def list_pages(request: web.Request) -> web.Response:
    who = principal_of(request)
    locker = request.app[LOCKER]
    return json_response({"pages": [_view(p) for p in await basic_info.pages(locker, who=who)],
                          "updates": await basic_info.updates_due(locker, who=who)})


async def create(request: web.Request) -> web.Response:
    body = await json_object(request)
    page = await basic_info.create(request.app[LOCKER], kind=_str(body, "kind"), title=_str(body, "title"),
                                   body=_str(body, "body"), category=_str(body, "category"),
                                   who=principal_of(request))
    return json_response(_view(page), status=201)


async def act(request: web.Request) -> web.Response:
    body = await json_object(request)
    page = await basic_info.act(
        request.app[LOCKER], request.match_info["id"], request.match_info["action"], who=principal_of(request),
        today=clock.today(), reason=_str(body, "reason") or None, body=_str(body, "body") or None,
        law_change=int_field(body, "law_change", minimum=1))
    return json_response(_view(page))


async def public_pages(request: web.Request) -> web.Response:
    """The portal's basic information: published pages, no sign-in."""
    return json_response({"pages": await basic_info.public(request.app[LOCKER])})
