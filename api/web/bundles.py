"""Case bundles streamed to a browser: built in a temp file, sent as an attachment, then removed.

The staff export, a share's court bundle and the export of a selection all come through
``send_bundle``, so none leaves anything behind in ``home/tmp/exports`` whether the build, the
client or the stream fails.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from aiohttp import web

from api.appkeys import SETTINGS
from api.cases import _safe_name

CHUNK_BYTES = 1024 * 1024
#: Builds the bundle at the path it is given; may return headers that depend on what it wrote.
Writer = Callable[[Path], Awaitable[Mapping[str, str] | None]]


async def send_bundle(request: web.Request, case_id: str, write: Writer, headers: Mapping[str, str] | None = None,
                      *, suffix: str = "bundle") -> web.StreamResponse:
    """Build a bundle of ``case_id`` with ``write`` and stream it as ``<case>-<suffix>.zip``."""
    tmp_dir = request.app[SETTINGS].home / "tmp" / "exports"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    out = tmp_dir / f"{uuid.uuid4().hex}.zip"
    try:
        written = await write(out)
        name = f"{_safe_name(case_id)[:64]}-{suffix}.zip"
        response = web.StreamResponse(headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                                               **(headers or {}), **(written or {}),
                                               "Content-Disposition": f'attachment; filename="{name}"'})
        response.content_type = "application/zip"
        response.content_length = out.stat().st_size
        await response.prepare(request)
        with out.open("rb") as fh:
            while chunk := await asyncio.to_thread(fh.read, CHUNK_BYTES):
                await response.write(chunk)
        await response.write_eof()
        return response
    finally:
        out.unlink(missing_ok=True)
        out.with_name(out.name + ".part").unlink(missing_ok=True)  # left behind if the build itself failed
