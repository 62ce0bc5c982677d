"""Need to know on the request path: may this principal read this case?  (RULES §三)

One check for every route.  ``api.auth.guard`` and ``api.web.guard`` call ``require_read`` for every
route whose path names ``{case}``; the few handlers whose case comes from the query or the body
(verification by hash, legal holds, disclosure records) call ``require_read`` or ``readable``
themselves.  Stations are never asked: they upload into cases and read none.

The answer is cached per (case, principal).  A case's access state is decided on its log alone, so
while the server hears the log's changes (``storage.changes``) an answer is kept for
``HEARD_SECONDS`` and dropped when the case changes, whichever process changed it; while it does not
hear them (the listening connection is down), for as long as a token lookup is (``api.auth``), so a
grant revoked in another process takes effect within that time, as a revoked token does.  Changes made
through this process drop the case's entries at once (``AccessCache.forget``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from aiohttp import web

from api.appkeys import LOCKER, METRICS, PRINCIPAL
from policy.errors import Restricted
from services import restriction
from services.restriction import UNASKED_ROLES, CaseAccess
from storage.changes import CaseChanges

logger = logging.getLogger(__name__)

#: How long an access state is kept while every change to its case is heard (a safety net only).
HEARD_SECONDS = 300.0



class AccessCache:
    """(case, principal) -> the case's access state, for ``ttl_s`` seconds (``HEARD_SECONDS`` while heard)."""

    def __init__(self, ttl_s: float, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._cases: dict[str, dict[str, tuple[float, CaseAccess]]] = {}
        self._count = 0
        self.changes: CaseChanges | None = None

    def hear(self, changes: CaseChanges) -> None:
        """Drop a case's entries when ``changes`` says it changed, and all of them when it stops hearing."""
        self.changes = changes
        changes.subscribe(self.forget, self.clear)

    def mark(self) -> int | None:
        """Take before reading a state to ``put``."""
        return self.changes.mark() if self.changes is not None else None

    def get(self, case_id: str, principal: str) -> CaseAccess | None:
        hit = self._cases.get(case_id, {}).get(principal)
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    def put(self, case_id: str, principal: str, state: CaseAccess, mark: int | None = None) -> None:
        """Keep ``state``, read after ``mark``: long if no change to the case was heard since, else briefly."""
        if self._count >= self.max_entries:
            self.clear()
        heard = self.changes is not None and mark is not None and self.changes.unchanged_since(case_id, mark)
        entries = self._cases.setdefault(case_id, {})
        self._count += principal not in entries
        entries[principal] = (time.monotonic() + (HEARD_SECONDS if heard else self.ttl_s), state)

    def forget(self, case_id: str) -> None:
        """Drop every principal's entry for a case (its level or grants changed here)."""
        self._count -= len(self._cases.pop(case_id, {}))

    def clear(self) -> None:
        self._cases.clear()
        self._count = 0


ACCESS = web.AppKey("access", AccessCache)


async def states(request: web.Request, case_ids: Iterable[str]) -> dict[str, CaseAccess]:
    """The access state of each known case for the request's principal: cache first, then one query."""
    cache = request.app[ACCESS]
    name = request[PRINCIPAL].name
    found: dict[str, CaseAccess] = {}
    missing: list[str] = []
    for case_id in set(case_ids):
        hit = cache.get(case_id, name)
        if hit is None:
            missing.append(case_id)
        else:
            found[case_id] = hit
    if missing:
        mark = cache.mark()
        pool = request.app[LOCKER].pool
        if len(missing) == 1:
            one = await restriction.access(pool, missing[0], name)
            fetched = {missing[0]: one} if one is not None else {}
        else:
            fetched = await restriction.access_many(pool, missing, name)
        for case_id, state in fetched.items():  # unknown cases are not cached: their handler answers 404
            cache.put(case_id, name, state, mark)
        found.update(fetched)
    return found


def allowed(request: web.Request, state: CaseAccess) -> bool:
    principal = request[PRINCIPAL]
    return principal.role in UNASKED_ROLES or state.may_read(principal.id)


async def require_read(request: web.Request, case_id: str) -> CaseAccess | None:
    """Refuse (403 ``restricted``) unless the request's principal may read ``case_id``.

    Returns the case's state, or None for an unknown case (the handler then answers 404 as usual).
    """
    state = (await states(request, (case_id,))).get(case_id)
    if state is not None and not allowed(request, state):
        raise refusal(request, case_id, state)
    return state


async def readable(request: web.Request, case_ids: Iterable[str]) -> set[str]:
    """Which of ``case_ids`` the request's principal may read (unknown cases are left out)."""
    return {case_id for case_id, state in (await states(request, case_ids)).items() if allowed(request, state)}


def refusal(request: web.Request, case_id: str, state: CaseAccess) -> Restricted:
    """The 403 for a principal without need to know: counted and logged (who, which case, which level)."""
    principal = request[PRINCIPAL]
    request.app[METRICS].access_denied.labels(state.level).inc()
    logger.warning("need to know: %s may not read case %s (%s)", principal.actor, case_id, state.level,
                   extra={"event": "access_denied", "principal": principal.actor, "case": case_id,
                          "restriction": state.level, "method": request.method, "path": request.path})
    return Restricted(state.level, case_id=case_id, handler=state.handler)


async def withheld(request: web.Request, case_id: str) -> str | None:
    """The level of ``case_id`` when the request's principal may not read it, else None (for pages that
    show a case's material beside other things, and hide only that material)."""
    state = (await states(request, (case_id,))).get(case_id)
    return state.level if state is not None and not allowed(request, state) else None
