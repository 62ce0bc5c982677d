"""Who may read a case, decided on its log, not on rows anyone with the database can edit.

The ``cases.restriction`` and ``cases.handler`` columns and ``case_grants`` are a cache for lists and
search; the decisions (``services.restriction.access``) take the level, handler and active grants
folded from the case's ``case.opened``, ``case.handed_over`` and ``access.*`` entries
(``policy.log_state.fold_access``); the handler is the principal id those entries record.
Each process keeps the fold per case with the log size it was
derived at, and each check reads, in one query, the log's size (counted from the entries) and only
the access entries appended since: a check costs what the old row lookup cost.  A log that got
shorter than the fold (a rollback) is folded again from the start and logged at ERROR.

Entries are append-only below the application too (triggers), their chain and signed checkpoints
are what ``custody scrub`` checks: an edit of an entry is a broken log, reported, not a silent
change of access.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import replace

import asyncpg

from policy.log_state import AccessState, fold_access
from storage import cached_rows, principals

logger = logging.getLogger(__name__)

#: Cases whose fold a process keeps (a fold is a level, a name and a few grantees).
CACHED_CASES = 10_000

#: Pools (databases) a process keeps folds for; a server has one, a test run many in turn.
CACHED_POOLS = 4

# Per pool, by identity (asyncpg pools take no weak references): the folds, least recently used first.
_folds: OrderedDict[int, tuple[asyncpg.Pool, OrderedDict[str, AccessState]]] = OrderedDict()


def _folds_of(pool: asyncpg.Pool) -> OrderedDict[str, AccessState]:
    held = _folds.get(id(pool))
    if held is None or held[0] is not pool:
        held = _folds[id(pool)] = (pool, OrderedDict())
    _folds.move_to_end(id(pool))
    while len(_folds) > CACHED_POOLS:
        _folds.popitem(last=False)
    return held[1]


async def of_cases(pool: asyncpg.Pool, case_ids: Iterable[str]) -> dict[str, AccessState]:
    """The log's access state of each case that exists (others are left out), caught up to now."""
    folds = _folds_of(pool)
    known = {cid: folds.get(cid, AccessState()) for cid in dict.fromkeys(case_ids)}
    if not known:
        return {}
    news = await cached_rows.access_entries(pool, {cid: s.size for cid, s in known.items()})
    shrunk = {cid: size for cid, (size, _) in news.items() if size < known[cid].size}
    if shrunk:
        for cid, size in shrunk.items():
            logger.error("case %s: the log holds %d entries, %d were folded before: entries were removed; "
                         "access is decided on the log as it now stands (run custody scrub)",
                         cid, size, known[cid].size)
        news |= await cached_rows.access_entries(pool, dict.fromkeys(shrunk, 0))
        known |= dict.fromkeys(shrunk, AccessState())
    out = {}
    for cid, (size, bodies) in news.items():
        state = known[cid]
        if size != state.size or bodies:
            state = fold_access(state, [json.loads(b) for b in bodies], size)
        if state.handler_unbound_at is not None and state.handler is not None:
            # An entry from before ids were logged: the principal its role:name named then.
            state = replace(state, handler_unbound_at=None,
                            handler_id=await principals.id_named(pool, state.handler, state.handler_unbound_at))
        folds[cid] = out[cid] = state
        folds.move_to_end(cid)
    while len(folds) > CACHED_CASES:
        folds.popitem(last=False)
    return out


async def of_case(pool: asyncpg.Pool, case_id: str) -> AccessState | None:
    """The log's access state of one case; None if it has no log (no such case)."""
    return (await of_cases(pool, [case_id])).get(case_id)
