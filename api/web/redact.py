"""The redaction editor (issue 19, item 4): a page over the redaction API, and that API under the web session.

The page draws tracks over the source recording, saves versions, asks for face suggestions and renders,
and plays the render beside the source frame by frame.  Every rule is the service's
(``services.redaction``): the page only offers what the role may do (``redaction.edit`` and the others),
and the data routes are the API's own handlers behind the web guard (session, role, CSRF, need to know).

The source and the render are read through the case's object route with an access reason (访问事由),
asked once on this page, so each opening is logged like any other playback.
"""

from __future__ import annotations

from aiohttp import web

from api.appkeys import LOCKER, PRINCIPAL
from api.params import blake3_param
from api.web import i18n
from api.web.cases import object_url
from api.web.render import page
from foundation.errors import Invalid, NotFound
from policy.redaction import AUDIO_MODES, MODES, SHAPES
from services import redaction
from services.permissions import roles_for
from storage import catalog

#: Keys of the strings the editor's script shows (passed to it as JSON, in the page's language).
SCRIPT_STRINGS = (
    "redact.track", "redact.suggestion", "redact.keyframes", "redact.accept", "redact.delete",
    "redact.saved", "redact.state.queued", "redact.state.running", "redact.state.done", "redact.state.failed",
    "redact.suggesting", "redact.suggested", "redact.no_suggestions", "redact.failed", "redact.frame",
    "redact.unsaved", "redact.mode.blur", "redact.mode.pixelate", "redact.mode.box", "redact.shape.rect",
    "redact.shape.ellipse", "redact.audio.mute", "redact.audio.bleep", "redact.range_open", "redact.render_of",
    "redact.compare_render", "redact.no_track",
)


async def editor(request: web.Request) -> web.StreamResponse:
    """The editor for one recording of the case: asks the access reason first, then loads the source."""
    case_id = request.match_info["case"]
    hexd = blake3_param(request.match_info["blake3"])
    rows = [e for e in await catalog.case_evidence(request.app[LOCKER].pool, case_id) if e.blake3 == hexd]
    if not rows:
        await request.app[LOCKER].log.head(case_id)  # an unknown case says so
        raise NotFound(f"case {case_id!r} holds no object {hexd}")
    item = rows[0]
    if item.kind not in redaction.SOURCE_KINDS or not (item.media_type or "").startswith("video/"):
        raise Invalid(f"object {hexd} is not a recording to redact (an original video or its proxy)")
    why = request.query.get("purpose", "").strip()[:500]
    role = request[PRINCIPAL].role
    t = i18n.translator(i18n.choose(request))
    return page(request, "redact.html", {
        "case_id": case_id, "item": item, "purpose": why, "asked": "purpose" in request.query,
        "src": object_url(case_id, hexd, why) if why else "",
        "can_edit": role in roles_for("redaction.edit"), "can_render": role in roles_for("redaction.render"),
        "can_suggest": role in roles_for("redaction.suggest"),
        "shapes": SHAPES, "modes": MODES, "audio_modes": AUDIO_MODES,
        "strings": {key: t(key) for key in SCRIPT_STRINGS},
    }, status=400 if "purpose" in request.query and not why else 200)
