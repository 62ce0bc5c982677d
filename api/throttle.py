"""Back-off after failed authentication, per client address and per presented credential.

A bearer token is 256 random bits, so guessing one is hopeless; what failed sign-ins cost is database
round trips, log volume and (before this) the token cache.  So: after ``FAILURES_PER_BURST`` failures
from one key within ``WINDOW_SECONDS``, that key is refused with 429 and ``Retry-After`` for a back-off
that doubles with each further burst (``BASE_BACKOFF_SECONDS`` up to ``MAX_BACKOFF_SECONDS``) and
resets after a quiet window.  Each burst is one warning in the log and one count in the metrics,
never a line per attempt.  Memory is bounded (``MAX_KEYS``; the stalest key is dropped first).
"""

from __future__ import annotations

import collections
import logging
import time
from dataclasses import dataclass

from aiohttp import web

from foundation.errors import CustodyError, Status

logger = logging.getLogger(__name__)

FAILURES_PER_BURST = 20
WINDOW_SECONDS = 60.0
BASE_BACKOFF_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 300.0
MAX_KEYS = 50_000


class TooManyFailures(CustodyError):
    status = Status.TOO_MANY
    code = "too_many_failures"


@dataclass
class _Key:
    window_start: float
    failures: int = 0
    bursts: int = 0
    blocked_until: float = 0.0


class FailureLimiter:
    """Failed attempts per key (``addr:1.2.3.4``, ``token:<hash prefix>``) and the back-off they earn."""

    def __init__(self, failures: int = FAILURES_PER_BURST, window_s: float = WINDOW_SECONDS,
                 base_s: float = BASE_BACKOFF_SECONDS, max_s: float = MAX_BACKOFF_SECONDS,
                 max_keys: int = MAX_KEYS) -> None:
        self.failures, self.window_s, self.max_keys = failures, window_s, max_keys
        self.base_s, self.max_s = base_s, max_s
        self._keys: collections.OrderedDict[str, _Key] = collections.OrderedDict()
        self.bursts_total = 0

    def retry_after(self, key: str, now: float | None = None) -> float:
        """Seconds ``key`` must still wait (0: it may try)."""
        state = self._keys.get(key)
        now = time.monotonic() if now is None else now
        return max(0.0, state.blocked_until - now) if state else 0.0

    def failed(self, key: str, now: float | None = None) -> bool:
        """Count a failure; True when it starts a new back-off (a burst)."""
        now = time.monotonic() if now is None else now
        state = self._keys.pop(key, None)
        if state is None:
            if len(self._keys) >= self.max_keys:
                self._keys.popitem(last=False)
            state = _Key(now)
        if now - state.window_start > self.window_s:
            if now - state.window_start > 4 * self.window_s and state.blocked_until < now:
                state.bursts = 0  # quiet for a while: the back-off starts small again
            state.window_start, state.failures = now, 0
        state.failures += 1
        self._keys[key] = state
        if state.failures < self.failures:
            return False
        state.bursts += 1
        state.failures, state.window_start = 0, now
        state.blocked_until = now + min(self.max_s, self.base_s * 2 ** (state.bursts - 1))
        self.bursts_total += 1
        return True


LIMITER = web.AppKey("auth_limiter", FailureLimiter)


def check(limiter: FailureLimiter, keys: list[str]) -> None:
    """Refuse (429) while any of ``keys`` is backing off."""
    wait = max(limiter.retry_after(k) for k in keys)
    if wait > 0:
        raise TooManyFailures(f"too many failed sign-ins; retry in {wait:.0f} s", retry_after=int(wait) + 1)


def record_failure(limiter: FailureLimiter, keys: list[str], client: str) -> list[str]:
    """Count a failure against each key; returns the keys that start a back-off now (for the metric and log)."""
    started = [k for k in keys if limiter.failed(k)]
    for key in started:
        logger.warning("authentication failures: %s backs off after %d failures in %.0f s",
                       key, limiter.failures, limiter.window_s,
                       extra={"event": "auth_backoff", "key": key, "client": client})
    return started
