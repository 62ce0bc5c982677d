"""``custody store check``: prove, on the configured store itself, that a locked object stays locked.

A reachable bucket is not enough: evidence is safe only if the *server* refuses to delete a locked
version or shorten its COMPLIANCE retention (a server without Object Lock, or one that drops it,
accepts both).  The check writes a small sample, reads it back and verifies it, then writes a unique
probe locked for ``PROBE_RETENTION`` and asks the store itself to delete it and to shorten its
retention.  The probe stays (it cannot be removed before its lock ends; a few dozen bytes).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

from services.permissions import authorize
from storage.objects import LockProbe, ObjectStore, bytes_source
from storage.principals import Principal

#: How long the probe object is locked: long enough to try both refusals, short enough to expire soon.
PROBE_RETENTION = dt.timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class StoreCheck:
    store: str
    key: str
    size: int
    sha256: str
    verified: bool
    probe: LockProbe

    @property
    def ok(self) -> bool:
        return self.verified and self.probe.ok


async def check_store(store: ObjectStore, *, who: Principal) -> StoreCheck:
    authorize(who, "store.check")
    await store.check()
    sample = b"custody store check\n" + os.urandom(64)
    stored = await store.put(bytes_source(sample))
    info = await store.head(stored.key)
    result = await store.verify(stored.key)
    if stored.created:
        await store.delete(stored.key, stored.version_id)  # the sample is not evidence: leave nothing behind
    probe = await store.lock_probe(PROBE_RETENTION)
    return StoreCheck(store.name, stored.key, info.size, stored.digest.sha256, result.ok, probe)
