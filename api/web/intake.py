"""Intake in the browser (issue 18 item 2): open a case, write a text record, add files to a case.

Files go through the docking stations' own path (``api.uploads`` on ``services.intake``): the browser
hashes the file with BLAKE3 (``static/intake.js``), declares it, sends it in resumable chunks, and the
server refuses bytes that do not hash to what was declared.  The web routes only put the same handlers
behind the web session (its CSRF token on every POST, PUT and DELETE); who may do what is the service's
``authorize`` against ``services.permissions.PERMISSIONS``, exactly as for the API.
"""

from __future__ import annotations

from aiohttp import web
from yarl import URL

from api.appkeys import LOCKER, PRINCIPAL
from api.web import forms, i18n
from api.web.cases import case_view
from api.web.render import page, redirect
from services import cases, evidence
from storage.objects import bytes_source

#: A record written in the form is at most this long (the API's records may be larger files).
RECORD_MAX_CHARS = 200_000


async def new_case_form(request: web.Request) -> web.StreamResponse:
    return _case_form(request, {"id": "", "title": "", "handler": ""})


def _case_form(request: web.Request, values: dict[str, str], error: str | None = None,
               status: int = 200) -> web.Response:
    return page(request, "case_new.html", {"values": values, "error": error}, status=status)


async def open_case(request: web.Request) -> web.StreamResponse:
    """Open a case (``services.cases.open_case``: the id policy allows, an active investigator as handler)."""
    form = await request.post()
    values = {name: forms.text(form, name, limit) for name, limit in (("id", 64), ("title", 500), ("handler", 64))}
    result = await forms.attempt(cases.open_case(request.app[LOCKER], values["id"], who=request[PRINCIPAL],
                                                 title=values["title"], handler=values["handler"] or None))
    if isinstance(result, forms.Refused):
        return _case_form(request, values, result.message, result.status)
    return redirect(str(URL(f"/cases/{values['id']}").with_query(done="case_opened")))


async def write_record(request: web.Request) -> web.StreamResponse:
    """A text record written in the form, at its enforcement stage (``services.evidence.add_record``)."""
    case_id = request.match_info["case"]
    form = await request.post()
    t = i18n.translator(i18n.choose(request))
    # A form sends a textarea's line breaks as CRLF (HTML's rule): the record keeps the lines as written.
    body = forms.text(form, "text", RECORD_MAX_CHARS).replace("\r\n", "\n")
    title = forms.text(form, "title", 500)
    stage = forms.text(form, "stage", 20)
    name = forms.text(form, "file_name", 255) or f"{(title or 'record')[:60]}-{stage or 'record'}.txt"
    if not body:
        return await case_view(request, case_id, error=t("intake.record_empty"), status=422)
    result = await forms.attempt(evidence.add_record(
        request.app[LOCKER], case_id, bytes_source(body.encode()), who=request[PRINCIPAL], stage=stage,
        file_name=name.replace("/", "_").replace("\\", "_"), media_type="text/plain; charset=utf-8",
        title=title or None, decision_no=forms.text(form, "decision_no", 200) or None))
    if isinstance(result, forms.Refused):
        return await case_view(request, case_id, error=result.message, status=result.status)
    return redirect(str(URL(f"/cases/{case_id}").with_query(done="record_added").with_fragment(f"entry-{result.seq}")))
