"""The case page's intake panel (``templates/intake.html``, ``static/intake.js``): what it offers this user.

Its own module so that the case page (``api.web.cases``) can ask for it while ``api.web.intake``, whose
forms answer a refusal with the case page, imports the case page.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api.appkeys import PRINCIPAL
from api.web import i18n
from api.web.timeline import stage_label
from policy.cases import STAGES
from services.permissions import roles_for

#: What a record is usually called (a suggestion list; any title may be typed).
RECORD_TITLES = ("询问笔录", "现场笔录", "现场检查笔录", "勘验笔录", "听证笔录", "送达回证")
#: Strings ``intake.js`` shows, passed to it in the page's language.
_JS_STRINGS = ("hashing", "declaring", "uploading", "resuming", "verifying", "committed", "already", "failed",
               "mismatch", "receipt", "receipt_ok", "receipt_bad", "entry", "offline", "refused")


def panel(request: web.Request, case_forms: bool) -> dict[str, Any]:
    """The case page's intake panel: whether it shows its forms, and the strings its script needs."""
    role = request[PRINCIPAL].role
    t = i18n.translator(i18n.choose(request))
    return {
        "can_upload": case_forms and role in roles_for("evidence.add"),
        "can_write": case_forms and role in roles_for("record.add"),
        "stages": [(key, stage_label(key, t)) for key in STAGES],
        "titles": RECORD_TITLES,
        "strings": {key: t(f"intake.js.{key}") for key in _JS_STRINGS},
    }
