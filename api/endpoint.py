"""One API route as data: what the route table declares and the OpenAPI document describes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    roles: tuple[str, ...] | None  # None: public, no case data behind it
    summary: str
    params: tuple[tuple[str, str, str, bool], ...] = ()  # (name, in, type, required)
    body: str | None = None  # request content type
    body_schema: dict[str, Any] = field(default_factory=dict)
    body_required: bool = True  # False: an empty body means something (an empty file to verify)
    responses: tuple[int, ...] = (200,)
    produces: str = "application/json"
    # A ``{case}`` route also needs the principal to be allowed to read the case (RULES §三); False:
    # the handler applies the restriction rules itself (the routes that manage a case's access).
    need_to_know: bool = True
