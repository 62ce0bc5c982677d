"""The disclosure desk's basic enforcement information pages (§二 行政执法基本信息): list, draft, and the
steps each page's state allows (``services.basic_info`` decides; a refusal is shown on the page)."""

from __future__ import annotations

from aiohttp import web
from yarl import URL

from api.appkeys import LOCKER, PRINCIPAL
from api.web import forms, i18n
from api.web.forms import Refused
from api.web.render import page, redirect
from foundation import clock
from services import basic_info


async def pages_view(request: web.Request, *, error: str | None = None, status: int = 200) -> web.Response:
    locker, who = request.app[LOCKER], request[PRINCIPAL]
    t = i18n.translator(i18n.choose(request))
    done = request.query.get("done", "") if request.method == "GET" else ""
    return page(request, "basic_info.html", {
        "pages": await basic_info.pages(locker, who=who), "updates": await basic_info.updates_due(locker, who=who),
        "kinds": basic_info.KINDS, "steps": basic_info.STEPS, "error": error,
        "notice": t("basic.done") if done else ""}, status=status)


async def show(request: web.Request) -> web.StreamResponse:
    return await pages_view(request)


async def create(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    done = await forms.attempt(basic_info.create(
        request.app[LOCKER], kind=forms.text(form, "kind", 40), title=forms.text(form, "title", 200),
        body=forms.text(form, "body", 100_000), category=forms.text(form, "category", 100), who=request[PRINCIPAL]))
    if isinstance(done, Refused):
        return await pages_view(request, error=done.message, status=done.status)
    return redirect(str(URL("/basic-info").with_query(done="1")))


async def act(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    law_change = forms.text(form, "law_change", 20)
    done = await forms.attempt(basic_info.act(
        request.app[LOCKER], request.match_info["id"], request.match_info["action"], who=request[PRINCIPAL],
        today=clock.today(), reason=forms.text(form, "reason", 2000) or None,
        body=forms.text(form, "body", 100_000) or None,
        law_change=int(law_change) if law_change.isdigit() else None))
    if isinstance(done, Refused):
        return await pages_view(request, error=done.message, status=done.status)
    return redirect(str(URL("/basic-info").with_query(done="1")))
