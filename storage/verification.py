"""Verification by hash in one round trip: every entry about an object, with what proves it, from one statement.

For each entry of the asked kinds whose ``blake3`` is the hash (in one case, or in all): the entry, its
case's latest signed checkpoint, the witnesses' cosignature lines on that checkpoint, the largest size a
quorum of the witnesses cosigned, the first timestamp that covers the entry, the last read that found
the stored bytes changed, and the perfect-subtree nodes its inclusion proof is computed from.  These
were six or seven queries, each with asyncpg's reset round trip after it; now it is one statement,
sent with ``db.fetch_read``.

Which tree nodes an inclusion proof reads depends only on the leaf index ``s`` and the tree size ``z``
(``integrity.merkle._path``).  With ``x = s XOR (z - 1)`` and ``meet`` the bit length of ``x`` (the
lowest level where the leaf's path and the last leaf's meet), level ``L`` contributes:

- ``(L, (s >> L) XOR 1)``, the sibling, below ``meet - 1``;
- ``(L, (z >> L) - 1)``, the perfect subtrees tiling the ragged sibling at ``meet - 1``: at each
  level below ``meet - 1`` where ``z`` has a bit, and at ``meet - 1`` itself when that sibling is
  complete (the low ``meet`` bits of ``z`` are zero);
- ``(L, (s >> L) - 1)``, the left siblings above, from ``meet`` up to the bit length of ``z - 1``,
  where ``s`` has a bit.

The statement asks for exactly those (``L < meet - 1`` is ``x >> (L + 1) > 0``, ``L = meet - 1`` is
``x >> L = 1``, ``L >= meet`` is ``x >> L = 0``).

Most of the statement's work was those node lookups, and the upper ones are shared by every entry of a
case.  Perfect subtrees never change once complete (RFC 6962), so each process keeps, per case asked by
name, an ``UpperTree``: every node at ``level >= min_level`` complete within a signed size, and the
checkpoint signed at that size.  The statement is told that size and reads only the nodes below
``min_level`` or completed after it, and sends the note only if a newer checkpoint was signed.  What
can change (the latest checkpoint, its cosignatures, timestamps, failed reads, new entries) is read
every time.  ``services.verification`` checks every proof against the checkpoint's root and asks
again without the cache if one does not lead there.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from integrity.merkle import HASH_SIZE, NodeGetter
from storage.db import fetch_read
from storage.witnessing import Stamp

logger = logging.getLogger(__name__)

#: The lowest level an ``UpperTree`` keeps: below it, each node serves at most 16 leaves' proofs.
UPPER_MIN_LEVEL = 4
#: A case's ``UpperTree`` holds at most about 2 * 2**11 nodes (128 KiB): a bigger tree starts higher up.
UPPER_LEVELS_BELOW_TOP = 11
#: Bytes of hashes the ``UpperTree``s of one process hold at most (per database), least recently used out.
TREE_CACHE_BYTES = 16 * 1024 * 1024
#: Databases (pools) a process keeps trees for: a server has one, a test run many in turn.
CACHED_POOLS = 4


@dataclass(frozen=True, slots=True)
class UpperTree:
    """A case's perfect subtrees at ``level >= min_level`` complete within ``size``, and its checkpoint there."""

    size: int
    root: bytes
    note: bytes
    min_level: int
    #: ``levels[i]``: the hashes of nodes ``(min_level + i, 0 .. (size >> level) - 1)``, concatenated.
    levels: tuple[bytes, ...]

    def node(self, level: int, idx: int) -> bytes | None:
        i = level - self.min_level
        if i < 0 or i >= len(self.levels) or (idx + 1) << level > self.size:
            return None
        return self.levels[i][idx * HASH_SIZE:(idx + 1) * HASH_SIZE]

    @property
    def nbytes(self) -> int:
        return sum(len(h) for h in self.levels) + len(self.note)


class TreeCache:
    """case -> ``UpperTree``, at most ``max_bytes`` of hashes and notes, least recently used first out."""

    def __init__(self, max_bytes: int = TREE_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._trees: OrderedDict[str, UpperTree] = OrderedDict()

    def __len__(self) -> int:
        return len(self._trees)

    def get(self, case_id: str) -> UpperTree | None:
        tree = self._trees.get(case_id)
        if tree is not None:
            self._trees.move_to_end(case_id)
        return tree

    def put(self, case_id: str, tree: UpperTree) -> None:
        self.drop(case_id)
        if tree.nbytes > self.max_bytes:
            return
        self._trees[case_id] = tree
        self.nbytes += tree.nbytes
        while self.nbytes > self.max_bytes:
            _, old = self._trees.popitem(last=False)
            self.nbytes -= old.nbytes

    def drop(self, case_id: str) -> None:
        old = self._trees.pop(case_id, None)
        if old is not None:
            self.nbytes -= old.nbytes


# Per pool, by identity (asyncpg pools take no weak references), least recently used first.
_caches: OrderedDict[int, tuple[asyncpg.Pool, TreeCache]] = OrderedDict()


def tree_cache(pool: asyncpg.Pool) -> TreeCache:
    """This process's ``TreeCache`` for the database ``pool`` reaches."""
    held = _caches.get(id(pool))
    if held is None or held[0] is not pool:
        held = _caches[id(pool)] = (pool, TreeCache())
    _caches.move_to_end(id(pool))
    while len(_caches) > CACHED_POOLS:
        _caches.popitem(last=False)
    return held[1]


@dataclass(frozen=True, slots=True)
class ObjectMatch:
    """One entry about an object and everything its verification answer needs, as read in one statement."""

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
    #: Whether ``node`` answers from this process's ``UpperTree`` of the case.
    cached: bool


_MATCHES = """
SELECT e.case_id, e.seq, e.kind, e.body, e.failed_at, k.size AS tree_size, k.root,
       CASE WHEN k.size = $8 THEN NULL ELSE k.note END AS checkpoint,
       array(SELECT s.line FROM cosignatures s WHERE s.case_id = e.case_id AND s.size = k.size
              ORDER BY s.received_at, s.witness) AS cosignatures,
       (SELECT max(q.size) FROM (SELECT s.size FROM cosignatures s
                                  WHERE cardinality($5::text[]) > 0 AND s.case_id = e.case_id
                                    AND (s.witness, s.key_id) IN (SELECT * FROM unnest($5::text[], $6::text[]))
                                  GROUP BY s.size HAVING count(DISTINCT (s.witness, s.key_id)) >= $7) q
       ) AS witnessed_size,
       t.gen_time AS stamp_time, t.tsa AS stamp_tsa, t.size AS stamp_size,
       n.levels, n.idxs, n.hashes, u.min_level AS upper_level, u.hashes AS upper_hashes
  FROM (SELECT f.case_id, f.seq, f.kind, f.body,
               max(f.seq) FILTER (WHERE f.kind = $4) OVER (PARTITION BY f.case_id) AS failed_at
          FROM entries f WHERE f.blake3 = $1 AND ($2::text IS NULL OR f.case_id = $2)) e
 CROSS JOIN LATERAL (SELECT c.size, c.root, c.note FROM checkpoints c WHERE c.case_id = e.case_id
                      ORDER BY c.size DESC LIMIT 1) k
  LEFT JOIN LATERAL (SELECT tk.gen_time, tk.tsa, l.size FROM timestamp_leaves l
                       JOIN timestamp_tokens tk ON tk.round_id = l.round_id
                      WHERE l.case_id = e.case_id AND l.size > e.seq
                      ORDER BY l.round_id, tk.gen_time LIMIT 1) t ON true
 CROSS JOIN LATERAL (
       SELECT array_agg(tn.level) AS levels, array_agg(tn.idx) AS idxs, array_agg(tn.hash) AS hashes
         FROM (SELECT g.lvl, e.seq # (k.size - 1) AS x, k.size AS z
                 FROM generate_series(0, 62) AS g(lvl) WHERE k.size >> g.lvl > 0) p
        CROSS JOIN LATERAL (VALUES
              (CASE WHEN p.x >> (p.lvl + 1) > 0 THEN (e.seq >> p.lvl) # 1 END),
              (CASE WHEN (p.x >> (p.lvl + 1) > 0 AND (p.z >> p.lvl) & 1 = 1)
                      OR (p.x >> p.lvl = 1 AND p.z & ((1::bigint << (p.lvl + 1)) - 1) = 0)
                    THEN (p.z >> p.lvl) - 1 END),
              (CASE WHEN p.x >> p.lvl = 0 AND (p.z - 1) >> p.lvl > 0 AND (e.seq >> p.lvl) & 1 = 1
                    THEN (e.seq >> p.lvl) - 1 END)) AS w(idx)
         JOIN tree_nodes tn ON tn.case_id = e.case_id AND tn.level = p.lvl AND tn.idx = w.idx
        WHERE p.lvl < $9 OR (w.idx + 1) << p.lvl > $8 OR p.z < $8) n
  LEFT JOIN LATERAL (
       SELECT m.min_level, array_agg(un.hash ORDER BY un.level, un.idx) AS hashes
         FROM (SELECT greatest($10::int, length(ltrim(k.size::bit(64)::text, '0')) - $11::int) AS min_level) m
         JOIN tree_nodes un ON un.case_id = e.case_id AND un.level >= m.min_level
                           AND (un.idx + 1) << un.level <= k.size
        WHERE $10::int >= 0
        GROUP BY m.min_level) u ON true
 WHERE e.kind = ANY($3::text[])
 ORDER BY e.case_id, e.seq"""


async def object_matches(pool: asyncpg.Pool, blake3_hex: str, case_id: str | None, kinds: Sequence[str],
                         failed_kind: str, witnesses: Sequence[tuple[str, str]], quorum: int, *,
                         use_cache: bool = True) -> list[ObjectMatch]:
    """Entries of ``kinds`` about ``blake3_hex`` (in ``case_id``, or in every case), ordered by case and seq.

    ``witnesses``: (name, key id) of each configured witness, ``quorum`` how many must cosign a size.
    ``use_cache``: False reads every node and the note from the database and drops the case's tree.
    """
    cache = tree_cache(pool)
    tree = cache.get(case_id) if case_id is not None and use_cache else None
    if case_id is not None and not use_cache:
        cache.drop(case_id)
    load = case_id is not None and tree is None  # the statement also sends the case's upper tree
    rows = await fetch_read(
        pool, _MATCHES, blake3_hex, case_id, list(kinds), failed_kind,
        [name for name, _ in witnesses], [key_id for _, key_id in witnesses], quorum,
        tree.size if tree else 0, tree.min_level if tree else 0,
        UPPER_MIN_LEVEL if load else -1, UPPER_LEVELS_BELOW_TOP)
    out = []
    loaded: UpperTree | None = None
    for r in rows:
        if tree is not None and (r["tree_size"] < tree.size or
                                 (r["tree_size"] == tree.size and r["root"] != tree.root)):
            # A log that got shorter or a different root at the same size: nothing kept of it holds.
            logger.error("case %s: checkpoint %d/%s does not extend the kept one %d/%s; asking again",
                         r["case_id"], r["tree_size"], r["root"].hex()[:16], tree.size, tree.root.hex()[:16])
            return await object_matches(pool, blake3_hex, case_id, kinds, failed_kind, witnesses, quorum,
                                        use_cache=False)
        if load and loaded is None and r["upper_hashes"] is not None and r["case_id"] == case_id:
            loaded = _upper_tree(r)  # for the next requests: this one has every node it needs already
            if loaded is not None:
                cache.put(r["case_id"], loaded)
        note = r["checkpoint"].encode() if r["checkpoint"] is not None else tree.note if tree else b""
        out.append(_match(r, note, tree))
        if tree is not None and r["tree_size"] >= tree.size + (1 << tree.min_level):
            cache.drop(r["case_id"])  # new complete nodes up there: the next request reads the tree afresh
    return out


def _upper_tree(r: asyncpg.Record) -> UpperTree | None:
    """The ``UpperTree`` the statement sent, if it holds every node it should (else none is kept)."""
    size, min_level, hashes = r["tree_size"], r["upper_level"], r["upper_hashes"]
    levels, at = [], 0
    for level in range(min_level, size.bit_length()):
        count = size >> level
        levels.append(b"".join(hashes[at:at + count]))
        at += count
    if at != len(hashes) or r["checkpoint"] is None:
        return None
    return UpperTree(size, r["root"], r["checkpoint"].encode(), min_level, tuple(levels))


def _match(r: asyncpg.Record, note: bytes, tree: UpperTree | None) -> ObjectMatch:
    read = dict(zip(zip(r["levels"] or (), r["idxs"] or (), strict=True), r["hashes"] or (), strict=True))

    def node(level: int, idx: int) -> bytes:
        found: bytes | None = read.get((level, idx))
        if found is None and tree is not None:
            found = tree.node(level, idx)
        if found is None:
            raise KeyError((level, idx))
        return found

    stamp_time: dt.datetime | None = r["stamp_time"]
    return ObjectMatch(
        r["case_id"], r["seq"], r["kind"], r["body"], r["tree_size"], r["root"], note,
        [line.encode() for line in r["cosignatures"]], int(r["witnessed_size"] or 0),
        None if stamp_time is None else Stamp(stamp_time, r["stamp_tsa"], r["stamp_size"]), r["failed_at"],
        node, tree is not None)
