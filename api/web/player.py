"""The staff player's tools (issue 18 item 4): frame stepping at the clip's own frame rate, speeds,
keyboard shortcuts and bookmarks at a moment of the recording.

The page's script is ``static/custody-player.js``; bookmarks go through ``api.bookmarks``, the API's own
handlers, under the web session (``/ui/api/...``), so the rule (``services.bookmarks``) is enforced once.
The frame rate is the one ffprobe recorded at ingest (``frame_rate`` in the item's entry, or in its
original's for a proxy that lacks it); an item without one steps by ``FALLBACK_FPS`` and says so.
"""

from __future__ import annotations

import json
import re
from fractions import Fraction

from aiohttp import web

from api.appkeys import LOCKER
from storage import catalog
from storage.catalog import EvidenceRow

#: The playback speeds offered (and reached with < and >).
SPEEDS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 4.0)
#: Frames per second assumed for a recording whose entry records no frame rate.
FALLBACK_FPS = 30
_FRAME_RATE = re.compile(r"([1-9][0-9]{0,8})/([1-9][0-9]{0,8})")


def parse_frame_rate(value: object) -> Fraction | None:
    """``"30000/1001"`` as a fraction; None for anything else (or a rate no camera records)."""
    m = _FRAME_RATE.fullmatch(value) if isinstance(value, str) else None
    rate = Fraction(int(m.group(1)), int(m.group(2))) if m else None
    return rate if rate is not None and 1 <= rate <= 1000 else None


async def recorded_frame_rate(request: web.Request, case_id: str, item: EvidenceRow) -> Fraction | None:
    """The frame rate ingest recorded for ``item``, else for its original (a proxy keeps the original's rate)."""
    log = request.app[LOCKER].log
    rate = parse_frame_rate(json.loads((await log.entry(case_id, item.seq)).body).get("frame_rate"))
    if rate is None and item.original_blake3:
        evidence = await catalog.case_evidence(request.app[LOCKER].pool, case_id)
        original = next((e for e in evidence if e.blake3 == item.original_blake3), None)
        if original is not None:
            rate = parse_frame_rate(json.loads((await log.entry(case_id, original.seq)).body).get("frame_rate"))
    return rate


async def tools(request: web.Request, case_id: str, item: EvidenceRow) -> dict[str, object]:
    """What the player page's tools need: the frame rate, the speeds, and whose bookmarks these are (a
    proxy's bookmarks are its original's: the same recording, the same times)."""
    rate = await recorded_frame_rate(request, case_id, item)
    fps = float(rate) if rate is not None else float(FALLBACK_FPS)
    return {"fps": f"{fps:.6f}".rstrip("0").rstrip("."), "frame_rate_known": rate is not None,
            "frame_rate_label": f"{fps:.3f}".rstrip("0").rstrip("."), "speeds": SPEEDS,
            "bookmark_target": item.original_blake3 or item.blake3}
