"""Who holds a web session: a few seconds' cache of the database's answer, and the sessions' clock."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import asyncpg

from storage import web_sessions
from storage.web_sessions import LiveSession

#: How long a session's check is trusted: a revocation on another server reaches it within this.
HOLDER_CACHE_SECONDS = 5.0


class HolderCache:
    """Session id -> its live holder (principal and session times) for a few seconds; the sessions' clock.

    A cached answer is re-checked against the clock (idle and absolute expiry) on every hit, so only a
    revocation waits for the cache: made by this process it is seen at once (``forget``), by another
    within ``ttl_s``.  ``clock`` (unix seconds) decides every session time; tests move it.
    """

    def __init__(self, ttl_s: float = HOLDER_CACHE_SECONDS, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.time) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[str, tuple[float, LiveSession | None]] = {}

    async def lookup(self, pool: asyncpg.Pool, session_id: str, now: dt.datetime,
                     idle: dt.timedelta) -> LiveSession | None:
        """The live holder of ``session_id`` at ``now`` (None: ended, expired or idle longer than ``idle``)."""
        hit = self._entries.get(session_id)
        if hit is not None and hit[0] > time.monotonic():
            found = hit[1]
        else:
            found = await web_sessions.live(pool, session_id, now=now, idle=idle)
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[session_id] = (time.monotonic() + self.ttl_s, found)
        return found if found is not None and found.live_at(now, idle) else None

    def forget(self, session_id: str) -> None:
        """Drop a cached check: this process sees the session's end at once."""
        self._entries.pop(session_id, None)

    def forget_principal(self, name: str) -> None:
        """Drop the cached checks of every session of ``name``."""
        for key in [k for k, (_, found) in self._entries.items() if found and found.principal.name == name]:
            del self._entries[key]
