"""The working-day calendar over HTTP: the years it covers, and adding one (an administrator's, from the
State Council's notice).  A year added here, or by ``custody calendar add-year`` in another process, is
used by this server at once (``services.calendar.LiveCalendar``)."""

from __future__ import annotations

from aiohttp import web

from api.appkeys import CALENDAR, LOCKER, SETTINGS
from api.auth import principal_of
from api.params import json_object, json_response
from foundation.errors import Invalid
from policy.workdays import YearCalendar
from services import calendar

#: A year file is a few dozen dates and a comment or two.
MAX_YEAR_FILE_CHARS = 20_000


def _year(y: YearCalendar) -> dict[str, object]:
    return {"year": y.year, "source": y.source, "holidays": sorted(y.holidays), "workdays": sorted(y.workdays)}


async def years(request: web.Request) -> web.Response:
    """The years the calendar covers now, each with the notice it comes from."""
    return json_response({"years": [_year(y) for y in request.app[CALENDAR].current().calendars]})


async def add_year(request: web.Request) -> web.Response:
    """Install a year from its TOML text (``{"toml": ...}``); logged as ``calendar.year_added``."""
    text = (await json_object(request)).get("toml")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_YEAR_FILE_CHARS:
        raise Invalid(f"'toml' must be the year file's text, at most {MAX_YEAR_FILE_CHARS} characters")
    year = await calendar.add_year_text(request.app[LOCKER], text, request.app[SETTINGS].calendar_dir,
                                        who=principal_of(request), live=request.app[CALENDAR])
    return json_response(_year(year), status=201)
