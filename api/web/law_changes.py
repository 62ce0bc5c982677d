"""Law and mandate changes (法律法规变更): the list, the 20-working-day deadline, and recording one.

Recording a change gives every affected published record (by category) an update deadline of 20
working days after the change takes effect (policy §二; counting in ``policy.workdays``).  The
deadline can be computed before recording; a date outside the working-day calendar is the calendar's
own error, shown as it is, never a weekday-only guess.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web
from yarl import URL

from api.appkeys import CALENDAR, LOCKER, PRINCIPAL, SETTINGS
from api.web import forms, i18n
from api.web.forms import Refused
from api.web.render import page, redirect
from policy.errors import PolicyError
from policy.takedown import parse_iso_date
from services import calendar, disclosure

TITLE_MAX_CHARS = 500
FIELDS = ("title", "effective", "categories", "description")


def _deadline(request: web.Request, effective: str) -> tuple[str, str]:
    """(the sentence naming the deadline, the calendar's refusal) for ``?effective=``; both "" if none asked."""
    if not effective:
        return "", ""
    t = i18n.translator(i18n.choose(request))
    try:
        day = parse_iso_date(effective)
        due = request.app[CALENDAR].current().update_due(day)
    except PolicyError as exc:
        return "", str(exc)
    return t("law.deadline", effective=day.isoformat(), due=due.isoformat()), ""


async def law_view(request: web.Request, *, error: str | None = None, status: int = 200,
                   typed: dict[str, str] | None = None, year_text: str = "") -> web.Response:
    t = i18n.translator(i18n.choose(request))
    changes = await disclosure.law_changes(request.app[LOCKER].pool)
    typed = typed if typed is not None else {k: request.query.get(k, "")[:TITLE_MAX_CHARS] for k in FIELDS}
    deadline, calendar_error = _deadline(request, typed["effective"]) if request.method == "GET" else ("", "")
    recorded = request.query.get("recorded", "") if request.method == "GET" else ""
    notice = ""
    added = request.query.get("year_added", "") if request.method == "GET" else ""
    years = request.app[CALENDAR].current().calendars
    if any(str(y.year) == added for y in years):
        notice = t("law.year_added", year=added)
    for change in changes:
        if str(change["id"]) == recorded:
            notice = t("law.recorded", due=change["update_due"].isoformat(), n=change["affected"])
    return page(request, "law_changes.html", {
        "changes": changes, "typed": typed, "deadline": deadline, "error": error or calendar_error or None,
        "notice": notice, "years": years, "year_text": year_text,
    }, status=status if not calendar_error else 422)


async def show(request: web.Request) -> web.StreamResponse:
    """The list; ``?effective=YYYY-MM-DD`` (the form's "compute" button) also shows that change's deadline."""
    return await law_view(request)


async def record(request: web.Request) -> web.StreamResponse:
    """Record a change: affected published records get their update deadline."""
    form = await request.post()
    typed = {k: v if isinstance(v := form.get(k), str) else "" for k in FIELDS}

    async def save() -> dict[str, Any]:
        effective: dt.date = parse_iso_date(forms.text(form, "effective", 10))
        return await disclosure.record_law_change(
            request.app[LOCKER], request.app[CALENDAR].current(), title=forms.text(form, "title", TITLE_MAX_CHARS),
            effective=effective, categories=forms.text_list(forms.text(form, "categories", TITLE_MAX_CHARS)),
            description=forms.text(form, "description"), who=request[PRINCIPAL])

    done = await forms.attempt(save())
    if isinstance(done, Refused):
        return await law_view(request, error=done.message, status=done.status, typed=typed)
    return redirect(str(URL("/admin/law-changes").with_query(recorded=str(done["id"]))))


async def add_year(request: web.Request) -> web.StreamResponse:
    """Add (or correct) a year of the working-day calendar from its TOML text; used at once."""
    form = await request.post()
    text = form.get("toml")
    text = text if isinstance(text, str) else ""
    done = await forms.attempt(calendar.add_year_text(
        request.app[LOCKER], text.replace("\r\n", "\n"), request.app[SETTINGS].calendar_dir, who=request[PRINCIPAL],
        live=request.app[CALENDAR]))
    if isinstance(done, Refused):
        return await law_view(request, error=done.message, status=done.status, year_text=text[:20_000])
    return redirect(str(URL("/admin/law-changes").with_query(year_added=str(done.year))) + "#calendar")
