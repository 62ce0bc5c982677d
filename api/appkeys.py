"""Typed application keys: every resource the handlers reach, declared once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from api.metrics import Metrics
from foundation.settings import Settings
from policy.workdays import WorkCalendar
from services.intake import UploadManager
from services.locker import Locker
from storage.principals import Principal

if TYPE_CHECKING:  # the web package imports these keys, so its types are named lazily
    from api.web.cookies import Session, SessionCodec
    from api.web.session import HolderCache

SETTINGS = web.AppKey("settings", Settings)
LOCKER = web.AppKey("locker", Locker)
UPLOADS = web.AppKey("uploads", UploadManager)
METRICS = web.AppKey("metrics", Metrics)
CALENDAR = web.AppKey("calendar", WorkCalendar)
REQUEST_ID = web.RequestKey("request_id", str)
PRINCIPAL = web.RequestKey("principal", Principal)
WEB_SESSIONS: web.AppKey[SessionCodec] = web.AppKey("web_sessions")
WEB_HOLDERS: web.AppKey[HolderCache] = web.AppKey("web_holders")
WEB_SESSION: web.RequestKey[Session] = web.RequestKey("web_session")
