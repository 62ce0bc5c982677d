"""The web interface served by ``custody serve``: staff pages and the public portal, rendered on the
server, with a little JS.

``setup_web(app)`` mounts it: templates, the session secret (a cleanup context, so nothing is read
before the app starts), the route table and the static files.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from api.appkeys import SETTINGS, WEB_HOLDERS, WEB_SESSIONS
from api.cookies import SessionCodec, load_secret
from api.holders import HolderCache
from api.web.render import setup_templates
from api.web.routes import add_web_routes


async def _sessions_ctx(app: web.Application) -> AsyncIterator[None]:
    app[WEB_SESSIONS] = SessionCodec(await asyncio.to_thread(load_secret, app[SETTINGS].keys_dir))
    app[WEB_HOLDERS] = HolderCache()
    yield


def setup_web(app: web.Application) -> None:
    """Mount the web pages on ``app`` (call from ``create_app``)."""
    setup_templates(app)
    app.cleanup_ctx.append(_sessions_ctx)
    add_web_routes(app)
