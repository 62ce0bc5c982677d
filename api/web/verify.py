"""The "verify a file" page: the browser hashes the file and checks the proofs; nothing is uploaded.

The JSON the page asks for is the API's own answer (``GET /api/v1/verify/{blake3}``), served under
the web session: see the ``/ui/api/verify/{blake3}`` route.
"""

from __future__ import annotations

from aiohttp import web

from api.web import i18n
from api.web.render import page

#: Strings the page script shows, handed over as data (no inline script under the page's CSP).
SCRIPT_STRINGS = ("verify.hashing", "verify.asking", "verify.match", "verify.no_match", "verify.in_case",
                  "verify.entry", "verify.logged", "verify.recorded", "verify.camera", "verify.officer",
                  "verify.station", "verify.proof", "verify.signature", "verify.check_failed", "verify.error",
                  "ev.file", "ev.size", "verify.keys_title", "verify.keys_first_use", "verify.keys_new",
                  "verify.keys_trust", "verify.keys_remove", "verify.keys_add", "verify.keys_paste", "verify.keys_bad",
                  "verify.keys_none", "verify.keys_how_first-use", "verify.keys_how_manual",
                  "verify.keys_how_accepted", "verify.withheld_only", "verify.witnesses", "verify.no_witness",
                  "verify.timestamp", "verify.timestamp_claim")
#: Counted strings the page script shows: their plural forms by CLDR category (the script picks one).
SCRIPT_PLURALS = ("verify.withheld",)


async def verify_page(request: web.Request) -> web.StreamResponse:
    lang = i18n.choose(request)
    t = i18n.translator(lang)
    strings: dict[str, str | dict[str, str]] = {key: t(key) for key in SCRIPT_STRINGS}
    strings.update({key: i18n.plural_forms(lang, key) for key in SCRIPT_PLURALS})
    return page(request, "verify.html", {"strings": strings})
