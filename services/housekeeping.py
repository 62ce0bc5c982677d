"""Housekeeping of the object store: what writers that died left behind is removed at start-up and hourly.

A server killed mid-upload leaves its temp files in the file store's ``tmp/`` (a partial object, or a
second name of an object it had just published); the sweep removes each once no live writer holds it
(``storage/filestore.py``).  An S3 store keeps nothing of the kind here: the bucket's own lifecycle
rules abort incomplete multipart uploads.
"""

from __future__ import annotations

import asyncio
import logging

from storage.filestore import FileStore
from storage.objects import ObjectStore

logger = logging.getLogger(__name__)

#: Seconds between sweeps while the server runs (the first one runs at start-up).
SWEEP_EVERY_S = 3600.0


async def sweep_store(store: ObjectStore) -> int:
    """Remove the temp files of dead writers from ``store``; how many went."""
    if not isinstance(store, FileStore):
        return 0
    gone = await store.sweep()
    if gone:
        logger.info("object store: swept %d temp file(s) left by writers that died", gone)
    return gone


async def sweep_forever(store: ObjectStore, every_s: float = SWEEP_EVERY_S) -> None:
    """Sweep now and then every ``every_s`` seconds until cancelled; a failed sweep is logged, not fatal."""
    while True:
        try:
            await sweep_store(store)
        except OSError:
            logger.exception("object store sweep failed; trying again in %.0f s", every_s)
        await asyncio.sleep(every_s)
