"""Typed application keys: every resource the handlers reach, declared once."""

from __future__ import annotations

from aiohttp import web

from api.cookies import Session, SessionCodec
from api.holders import HolderCache
from api.metrics import Metrics
from foundation.settings import Settings
from services.calendar import LiveCalendar
from services.intake import UploadManager
from services.locker import Locker
from services.redaction import RenderPool
from services.witnessing import Witnessing
from storage.principals import Principal

SETTINGS = web.AppKey("settings", Settings)
LOCKER = web.AppKey("locker", Locker)
UPLOADS = web.AppKey("uploads", UploadManager)
METRICS = web.AppKey("metrics", Metrics)
CALENDAR = web.AppKey("calendar", LiveCalendar)
REQUEST_ID = web.RequestKey("request_id", str)
PRINCIPAL = web.RequestKey("principal", Principal)
WEB_SESSIONS = web.AppKey("web_sessions", SessionCodec)
WEB_HOLDERS = web.AppKey("web_holders", HolderCache)
WEB_SESSION = web.RequestKey("web_session", Session)
#: The background witness sender, when witnesses are configured.
WITNESSING = web.AppKey("witnessing", Witnessing)
#: The bounded pool of redaction renders.
RENDERS = web.AppKey("renders", RenderPool)
