"""Bearer-token authentication and role checks, applied per route from the route table."""

from __future__ import annotations

import collections
import time
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web

from api import throttle
from api.access import require_read
from api.appkeys import LOCKER, METRICS, PRINCIPAL
from api.client import client_address
from api.throttle import LIMITER
from foundation.errors import Forbidden, Unauthenticated
from storage import principals
from storage.principals import Principal

#: How long a token lookup is cached in-process: revocation takes effect within this time.
TOKEN_CACHE_SECONDS = 5.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class TokenCache:
    """Token hash -> principal for a few seconds: most requests skip the database round trip.

    Only tokens that authenticated are kept, so a flood of random tokens cannot push the good ones
    out (failures are bounded by ``api.throttle`` instead); when full, the oldest entry goes.
    """

    def __init__(self, ttl_s: float = TOKEN_CACHE_SECONDS, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: collections.OrderedDict[bytes, tuple[float, Principal]] = collections.OrderedDict()

    def get(self, key: bytes) -> Principal | None:
        hit = self._entries.get(key)
        if hit is None or hit[0] <= time.monotonic():
            return None
        return hit[1]

    def put(self, key: bytes, principal: Principal) -> None:
        self._entries.pop(key, None)
        while len(self._entries) >= self.max_entries:
            self._entries.popitem(last=False)
        self._entries[key] = (time.monotonic() + self.ttl_s, principal)

    def __contains__(self, key: bytes) -> bool:
        return self.get(key) is not None


TOKENS = web.AppKey("tokens", TokenCache)


async def authenticate(request: web.Request) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("a bearer token is required (Authorization: Bearer <token>)")
    principal = await check_token(request, token.strip())
    if principal is None:
        raise Unauthenticated("unknown or revoked token")
    return principal


async def check_token(request: web.Request, token: str) -> Principal | None:
    """The active principal holding ``token``, or None; failures count towards the back-off (429).

    The API's bearer check and the web sign-in both ask here, so both are throttled alike.
    """
    cache = request.app[TOKENS]
    key = principals.hash_token(token)
    principal = cache.get(key)
    if principal is not None:
        return principal  # known good: a back-off of this address never locks out a working client
    limiter = request.app[LIMITER]
    client = client_address(request)
    keys = [f"addr:{client}", f"token:{key.hex()[:16]}"]
    throttle.check(limiter, keys)
    principal = await principals.by_token(request.app[LOCKER].pool, token)
    if principal is None:
        metrics = request.app[METRICS]
        metrics.auth_failures.inc()
        for started in throttle.record_failure(limiter, keys, client):
            metrics.auth_backoffs.labels(started.partition(":")[0]).inc()
        return None
    cache.put(key, principal)
    return principal


def guard(roles: Iterable[str] | None, handler: Handler, *, need_to_know: bool = True) -> Handler:
    """Wrap a handler: authenticate, then allow only ``roles`` (None: a public route).

    On a route whose path names ``{case}``, the principal must also be allowed to read that case
    (RULES §三, ``api.access``); ``need_to_know=False`` leaves that to the handler, for the routes
    that manage a case's restriction (an administrator without a grant must still be able to act).
    """
    if roles is None:
        return handler
    allowed = frozenset(roles)

    async def guarded(request: web.Request) -> web.StreamResponse:
        principal = await authenticate(request)
        if principal.role not in allowed:
            raise Forbidden(f"role {principal.role!r} may not call {request.method} {request.path}")
        request[PRINCIPAL] = principal
        if need_to_know and "case" in request.match_info:
            await require_read(request, request.match_info["case"])
        return await handler(request)

    guarded.__name__ = getattr(handler, "__name__", "guarded")
    guarded.__doc__ = handler.__doc__
    return guarded


def principal_of(request: web.Request) -> Principal:
    return request[PRINCIPAL]
