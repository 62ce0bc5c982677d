"""Bearer-token authentication and role checks, applied per route from the route table."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web

from api.access import require_read
from api.appkeys import LOCKER, PRINCIPAL
from foundation.errors import Forbidden, Unauthenticated
from storage import principals
from storage.principals import Principal

#: How long a token lookup is cached in-process: revocation takes effect within this time.
TOKEN_CACHE_SECONDS = 5.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class TokenCache:
    """Token hash -> principal for a few seconds: most requests skip the database round trip."""

    def __init__(self, ttl_s: float = TOKEN_CACHE_SECONDS, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[bytes, tuple[float, Principal | None]] = {}

    def get(self, key: bytes) -> tuple[bool, Principal | None]:
        hit = self._entries.get(key)
        if hit is None or hit[0] <= time.monotonic():
            return False, None
        return True, hit[1]

    def put(self, key: bytes, principal: Principal | None) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self.ttl_s, principal)


TOKENS = web.AppKey("tokens", TokenCache)


async def authenticate(request: web.Request) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("a bearer token is required (Authorization: Bearer <token>)")
    token = token.strip()
    cache = request.app[TOKENS]
    key = principals.hash_token(token)
    found, principal = cache.get(key)
    if not found:
        principal = await principals.by_token(request.app[LOCKER].pool, token)
        cache.put(key, principal)
    if principal is None:
        raise Unauthenticated("unknown or revoked token")
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
