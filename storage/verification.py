"""Verification by hash: every entry about an object with what proves it, in one statement when warm.

An answer is made of two kinds of material:

- per case (``CaseState``, statement ``_STATES``): the latest signed checkpoint (size, root, note), the
  witnesses' cosignature lines on it, the largest size a quorum cosigned, the timestamps that covered
  the case, and the tree nodes every proof in that tree size shares: the perfect subtrees at
  ``level >= min_level`` (``UPPER_MIN_LEVEL``, higher in a big case) and those tiling the ragged right
  edge below that level;
- per entry (statements ``_ENTRIES_IN_CASE``, ``_ENTRIES``): the entries about the object (in a
  case, or in all), each with its path's siblings below the state's kept levels.

Why this split: an inclusion proof of leaf ``s`` in a tree of ``z`` leaves reads two kinds of perfect
subtree (``integrity.merkle._path``): siblings ``(L, (s >> L) XOR 1)`` on the leaf's way up, and the
tiles ``(L, (z >> L) - 1)`` of the ragged edge, one per set bit ``L`` of ``z``.  The tiles and every
node at the upper levels depend on ``z`` alone: they belong to the case's state.  Only the siblings
below ``min_level`` depend on the entry: four index probes in all but the biggest cases.  The 63
candidate lookups this statement made before, re-planned at every call, took the database three
times the CPU (issue 17 item 2).

A server keeps each case's state while it hears that case's changes (``storage.changes``: triggers on
the tables it is read from notify, and a change drops the state), so a warm request is one
statement.  Without a listener (the CLI, or while the listening connection is down) the
state is read with every request.  ``services.verification`` checks every proof against its
checkpoint's root and asks again with a freshly read state if one does not lead there.
"""

from __future__ import annotations

import bisect
import itertools
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from integrity.merkle import HASH_SIZE, NodeGetter
from storage import changes as case_changes
from storage import coalesce
from storage.db import fetch_read
from storage.witnessing import Stamp

logger = logging.getLogger(__name__)

#: Levels below this are read with each entry (its path's siblings): each node serves few proofs.
BLOCK_LEVELS = 4
#: The lowest level a ``CaseState`` keeps: below it, each node serves at most 16 leaves' proofs.
UPPER_MIN_LEVEL = BLOCK_LEVELS
#: A case's state holds at most about 2 * 2**11 upper nodes (128 KiB): a bigger tree keeps fewer levels.
UPPER_LEVELS_BELOW_TOP = 11
#: Bytes the ``CaseState``s of one process hold at most (per database), least recently used out.
STATE_CACHE_BYTES = 16 * 1024 * 1024
#: ``_ENTRIES`` without a known state (across cases): every level's sibling is asked for.
ALL_LEVELS = 63


@dataclass(frozen=True, slots=True)
class CaseState:
    """What every answer about a case shares, as of its latest signed checkpoint."""

    case_id: str
    size: int
    root: bytes
    #: The signed note, without cosignatures.
    note: bytes
    #: Cosignature lines stored for this checkpoint, oldest first.
    cosignatures: tuple[bytes, ...]
    #: Largest checkpoint size cosigned by a quorum of the witnesses (0: none, or no witnesses).
    witnessed_size: int
    #: (name, key id) of the witnesses and the quorum ``witnessed_size`` was counted with.
    witnesses: tuple[tuple[str, str], ...]
    quorum: int
    #: Timestamps of the case, earliest round first; ``covered[i]``: the largest size of ``stamps[:i + 1]``.
    stamps: tuple[Stamp, ...]
    covered: tuple[int, ...]
    min_level: int
    #: ``upper[i]``: the hashes of nodes ``(min_level + i, 0 .. (size >> level) - 1)``, concatenated.
    upper: tuple[bytes, ...]
    #: The ragged edge's tiles below ``min_level``: level -> hash of node ``(level, (size >> level) - 1)``.
    edge: dict[int, bytes]

    def node(self, level: int, idx: int) -> bytes | None:
        if (idx + 1) << level > self.size:
            return None
        i = level - self.min_level
        if i >= 0:
            return self.upper[i][idx * HASH_SIZE:(idx + 1) * HASH_SIZE] if i < len(self.upper) else None
        return self.edge.get(level) if idx == (self.size >> level) - 1 else None

    def stamp_for(self, seq: int) -> Stamp | None:
        """The first timestamp whose checkpoint covers entry ``seq`` (its size > ``seq``)."""
        i = bisect.bisect_right(self.covered, seq)
        return self.stamps[i] if i < len(self.stamps) else None

    @property
    def nbytes(self) -> int:
        return (sum(map(len, self.upper)) + HASH_SIZE * len(self.edge) + len(self.note)
                + sum(map(len, self.cosignatures)) + 64 * len(self.stamps) + 256)


class StateCache:
    """case -> ``CaseState``, at most ``max_bytes``, least recently used first out; emptied by the changes it hears."""

    def __init__(self, max_bytes: int = STATE_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._states: OrderedDict[str, CaseState] = OrderedDict()

    def __len__(self) -> int:
        return len(self._states)

    def get(self, case_id: str) -> CaseState | None:
        state = self._states.get(case_id)
        if state is not None:
            self._states.move_to_end(case_id)
        return state

    def put(self, state: CaseState) -> None:
        self.drop(state.case_id)
        if state.nbytes > self.max_bytes:
            return
        self._states[state.case_id] = state
        self.nbytes += state.nbytes
        while self.nbytes > self.max_bytes:
            _, old = self._states.popitem(last=False)
            self.nbytes -= old.nbytes

    def drop(self, case_id: str) -> None:
        old = self._states.pop(case_id, None)
        if old is not None:
            self.nbytes -= old.nbytes

    def clear(self) -> None:
        self._states.clear()
        self.nbytes = 0


# Per pool, by identity (asyncpg pools take no weak references): the cache and the listener it hears.
_caches: dict[int, tuple[asyncpg.Pool, case_changes.CaseChanges, StateCache]] = {}


def state_cache(pool: asyncpg.Pool) -> tuple[case_changes.CaseChanges, StateCache] | None:
    """This process's ``StateCache`` for ``pool`` and its listener, or None when nothing listens."""
    listener = case_changes.of(pool)
    if listener is None:
        _caches.pop(id(pool), None)
        return None
    held = _caches.get(id(pool))
    if held is None or held[0] is not pool or held[1] is not listener:
        cache = StateCache()
        listener.subscribe(cache.drop, cache.clear)
        held = _caches[id(pool)] = (pool, listener, cache)
    return held[1], held[2]


@dataclass(frozen=True, slots=True)
class ObjectMatch:
    """One entry about an object and everything its verification answer needs."""

    case_id: str
    seq: int
    kind: str
    body: bytes
    #: The case's latest signed checkpoint: its size, root and signed note (without cosignatures).
    tree_size: int
    root: bytes
    checkpoint: bytes
    #: Cosignature lines stored for that checkpoint, oldest first.
    cosignatures: list[bytes]
    #: Largest checkpoint size of the case cosigned by a quorum of the witnesses (0: none, or no witnesses).
    witnessed_size: int
    #: The first timestamp whose round covers the entry, if any.
    stamp: Stamp | None
    #: Seq of the last ``failed_kind`` entry about the object in the case (a read found the bytes changed).
    failed_at: int | None
    #: The perfect-subtree nodes the entry's inclusion proof in ``tree_size`` reads (raises KeyError if not).
    node: NodeGetter
    #: Whether the case's state came from this process's ``StateCache``.
    cached: bool


_STATES = """
SELECT c.case_id, k.size, k.root, k.note,
       array(SELECT s.line FROM cosignatures s WHERE s.case_id = c.case_id AND s.size = k.size
              ORDER BY s.received_at, s.witness) AS cosignatures,
       (SELECT max(q.size) FROM (SELECT s.size FROM cosignatures s
                                  WHERE cardinality($2::text[]) > 0 AND s.case_id = c.case_id
                                    AND (s.witness, s.key_id) IN (SELECT * FROM unnest($2::text[], $3::text[]))
                                  GROUP BY s.size HAVING count(DISTINCT (s.witness, s.key_id)) >= $4) q
       ) AS witnessed_size,
       t.sizes AS stamp_sizes, t.times AS stamp_times, t.tsas AS stamp_tsas, m.min_level,
       array(SELECT u.hash FROM tree_nodes u
              WHERE u.case_id = c.case_id AND u.level >= m.min_level AND (u.idx + 1) << u.level <= k.size
              ORDER BY u.level, u.idx) AS upper,
       r.levels AS edge_levels, r.hashes AS edge_hashes
  FROM unnest($1::text[]) AS c(case_id)
 CROSS JOIN LATERAL (SELECT p.size, p.root, p.note FROM checkpoints p WHERE p.case_id = c.case_id
                      ORDER BY p.size DESC LIMIT 1) k
 CROSS JOIN LATERAL (SELECT greatest($5::int, length(ltrim(k.size::bit(64)::text, '0')) - $6::int) AS min_level) m
 CROSS JOIN LATERAL (SELECT array_agg(x.size ORDER BY x.round_id, x.gen_time, x.size) AS sizes,
                            array_agg(x.gen_time ORDER BY x.round_id, x.gen_time, x.size) AS times,
                            array_agg(x.tsa ORDER BY x.round_id, x.gen_time, x.size) AS tsas
                       FROM (SELECT l.round_id, l.size, tk.gen_time, tk.tsa FROM timestamp_leaves l
                               JOIN timestamp_tokens tk ON tk.round_id = l.round_id
                              WHERE l.case_id = c.case_id) x) t
 CROSS JOIN LATERAL (SELECT array_agg(n.level ORDER BY n.level) AS levels,
                            array_agg(n.hash ORDER BY n.level) AS hashes
                       FROM generate_series(0, m.min_level - 1) AS g(lvl)
                       JOIN tree_nodes n ON n.case_id = c.case_id AND n.level = g.lvl
                                        AND n.idx = (k.size >> g.lvl) - 1
                      WHERE (k.size >> g.lvl) & 1 = 1) r"""

# $5: the lowest level the case's state keeps (ALL_LEVELS without one); each entry's path siblings
# ``(L, (seq >> L) XOR 1)`` below it, NULL where that node is not complete yet (past the last leaf).
_ENTRIES = """
SELECT e.case_id, e.seq, e.kind, e.body,
       CASE WHEN e.kind <> $4 THEN
         array(SELECT n.hash FROM generate_series(0, $5::int - 1) AS g(lvl)
                 LEFT JOIN tree_nodes n ON n.case_id = e.case_id AND n.level = g.lvl
                                       AND n.idx = (e.seq >> g.lvl) # 1
                ORDER BY g.lvl) END AS siblings
  FROM entries e
 WHERE e.blake3 = $1 AND ($2::text IS NULL OR e.case_id = $2) AND e.kind = ANY($3::text[])
 ORDER BY e.case_id, e.seq"""

# The same in one case whose state keeps every level from 4 up (all but the biggest cases): four
# index probes.  A statement of its own because the planner keeps one generic plan for it; the
# general one is planned afresh at every call (~130 us of the database's ~250 us a request).  Sent for
# many requests at once (``storage.coalesce``): ``$1``, ``$2`` one (hash, case) a request, ``i`` its place.
_ENTRIES_IN_CASE = """
SELECT q.i, e.case_id, e.seq, e.kind, e.body,
       CASE WHEN e.kind <> $4 THEN ARRAY[
         (SELECT n.hash FROM tree_nodes n WHERE n.case_id = e.case_id AND n.level = 0 AND n.idx = e.seq # 1),
         (SELECT n.hash FROM tree_nodes n WHERE n.case_id = e.case_id AND n.level = 1 AND n.idx = (e.seq >> 1) # 1),
         (SELECT n.hash FROM tree_nodes n WHERE n.case_id = e.case_id AND n.level = 2 AND n.idx = (e.seq >> 2) # 1),
         (SELECT n.hash FROM tree_nodes n WHERE n.case_id = e.case_id AND n.level = 3 AND n.idx = (e.seq >> 3) # 1)
       ] END AS siblings
  FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS q(blake3, case_id, i)
  JOIN entries e ON e.blake3 = q.blake3 AND e.case_id = q.case_id
 WHERE e.blake3 IS NOT NULL AND e.kind = ANY($3::text[])
 ORDER BY q.i, e.seq"""


async def object_matches(pool: asyncpg.Pool, blake3_hex: str, case_id: str | None, kinds: Sequence[str],
                         failed_kind: str, witnesses: Sequence[tuple[str, str]], quorum: int, *,
                         use_cache: bool = True) -> list[ObjectMatch]:
    """Entries of ``kinds`` about ``blake3_hex`` (in ``case_id``, or in every case), ordered by case and seq.

    ``witnesses``: (name, key id) of each configured witness, ``quorum`` how many must cosign a size.
    ``use_cache``: False reads each case's state afresh (and replaces what was kept of it).
    """
    reader = _Reader(pool, tuple(witnesses), quorum, use_cache)
    asked = [*kinds, failed_kind]
    if case_id is not None:
        state = await reader.state(case_id)
        if state is None:
            return []
        rows = await _in_case(pool, blake3_hex, case_id, asked, failed_kind, state.min_level)
        if any(r["seq"] >= state.size for r in rows):
            # Appended since the state was read (kept, or read just before): read it again, and the
            # entries with it if its kept levels moved up (more siblings to ask for).
            below = state.min_level
            state = await reader.state(case_id, fresh=True)
            if state is None:
                return []
            if state.min_level > below:
                rows = await _in_case(pool, blake3_hex, case_id, asked, failed_kind, state.min_level)
        states = {case_id: state}
    else:
        rows = await fetch_read(pool, _ENTRIES, blake3_hex, None, asked, failed_kind, ALL_LEVELS)
        states = await reader.states(sorted({r["case_id"] for r in rows}))
        behind = {r["case_id"] for r in rows if r["case_id"] in states and r["seq"] >= states[r["case_id"]].size}
        if behind:
            states.update(await reader.states(sorted(behind), fresh=True))
    return _matches(rows, states, set(kinds), failed_kind, reader.kept)


async def _in_case(pool: asyncpg.Pool, blake3_hex: str, case_id: str, kinds: list[str], failed_kind: str,
                   min_level: int) -> list[asyncpg.Record]:
    if min_level <= BLOCK_LEVELS:
        return await coalesce.of(pool).fetch(_ENTRIES_IN_CASE, (blake3_hex, case_id), (tuple(kinds), failed_kind))
    return await fetch_read(pool, _ENTRIES, blake3_hex, case_id, kinds, failed_kind, min_level)


class _Reader:
    """Case states for one request: kept ones where this process listens for changes, else read."""

    def __init__(self, pool: asyncpg.Pool, witnesses: tuple[tuple[str, str], ...], quorum: int,
                 use_cache: bool) -> None:
        self.pool = pool
        self.witnesses = witnesses
        self.quorum = quorum
        self.use_cache = use_cache
        self.held = state_cache(pool)
        self.kept: set[str] = set()  # cases answered from kept states

    async def state(self, case_id: str, *, fresh: bool = False) -> CaseState | None:
        return (await self.states([case_id], fresh=fresh)).get(case_id)

    async def states(self, case_ids: list[str], *, fresh: bool = False) -> dict[str, CaseState]:
        found: dict[str, CaseState] = {}
        missing = []
        for case_id in case_ids:
            state = None
            if self.held is not None:
                _, cache = self.held
                if fresh or not self.use_cache:
                    cache.drop(case_id)
                else:
                    state = cache.get(case_id)
            if state is not None and (state.witnesses, state.quorum) == (self.witnesses, self.quorum):
                found[case_id] = state
                self.kept.add(case_id)
            else:
                missing.append(case_id)
        if missing:
            mark = self.held[0].mark() if self.held is not None else 0
            rows = await fetch_read(self.pool, _STATES, missing, [w for w, _ in self.witnesses],
                                    [k for _, k in self.witnesses], self.quorum, UPPER_MIN_LEVEL,
                                    UPPER_LEVELS_BELOW_TOP)
            for r in rows:
                state = self._state(r)
                found[state.case_id] = state
                self.kept.discard(state.case_id)
                if self.held is not None and self.held[0].unchanged_since(state.case_id, mark):
                    self.held[1].put(state)
        return found

    def _state(self, r: asyncpg.Record) -> CaseState:
        size, min_level, hashes = r["size"], r["min_level"], r["upper"]
        upper, at = [], 0
        for level in range(min_level, size.bit_length()):
            count = size >> level
            upper.append(b"".join(hashes[at:at + count]))
            at += count
        sizes = r["stamp_sizes"] or []
        stamps = tuple(Stamp(t, tsa, z) for z, t, tsa in zip(sizes, r["stamp_times"] or [], r["stamp_tsas"] or [],
                                                              strict=True))
        return CaseState(
            r["case_id"], size, r["root"], r["note"].encode(), tuple(line.encode() for line in r["cosignatures"]),
            int(r["witnessed_size"] or 0), self.witnesses, self.quorum, stamps,
            tuple(itertools.accumulate(sizes, max)), min_level, tuple(upper),
            dict(zip(r["edge_levels"] or (), r["edge_hashes"] or (), strict=True)))


def _matches(rows: list[asyncpg.Record], states: dict[str, CaseState], kinds: set[str], failed_kind: str,
             kept: set[str]) -> list[ObjectMatch]:
    failed: dict[str, int] = {}
    for r in rows:
        if r["kind"] == failed_kind:
            failed[r["case_id"]] = max(r["seq"], failed.get(r["case_id"], -1))
    out = []
    for r in rows:
        state = states.get(r["case_id"])
        if r["kind"] not in kinds or state is None or r["seq"] >= state.size:
            continue  # a case without a checkpoint, or an entry appended after the one just read
        out.append(ObjectMatch(
            state.case_id, r["seq"], r["kind"], r["body"], state.size, state.root, state.note,
            list(state.cosignatures), state.witnessed_size, state.stamp_for(r["seq"]), failed.get(state.case_id),
            _node_getter(r["seq"], r["siblings"] or [], state), state.case_id in kept))
    return out


def _node_getter(seq: int, siblings: list[bytes | None], state: CaseState) -> NodeGetter:
    """Perfect subtrees for the proof of ``seq``: its path's siblings below the state's kept levels as
    read with the entry, the rest (upper levels, the ragged edge's tiles) from the state."""

    def node(level: int, idx: int) -> bytes:
        if level < len(siblings) and idx == (seq >> level) ^ 1 and (found := siblings[level]) is not None:
            return found
        kept = state.node(level, idx)
        if kept is None:
            raise KeyError((level, idx))
        return kept

    return node
