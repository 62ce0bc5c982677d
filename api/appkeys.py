"""Typed application keys: every resource the handlers reach, declared once."""

from __future__ import annotations

from aiohttp import web

from api.metrics import Metrics
from custody.settings import Settings
from storage.intake import UploadManager
from storage.locker import Locker
from storage.principals import Principal

SETTINGS = web.AppKey("settings", Settings)
LOCKER = web.AppKey("locker", Locker)
UPLOADS = web.AppKey("uploads", UploadManager)
METRICS = web.AppKey("metrics", Metrics)
REQUEST_ID = web.RequestKey("request_id", str)
PRINCIPAL = web.RequestKey("principal", Principal)
