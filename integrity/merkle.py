"""The per-case Merkle tree: RFC 6962 / RFC 9162 §2.1 with SHA-256.

Integrity contract v1, "Tree": leaf hash ``SHA-256(0x00 || entry_bytes)``, interior node
``SHA-256(0x01 || left || right)``, empty tree ``SHA-256("")``; inclusion and consistency proofs as
RFC 9162 §2.1.3-2.1.4 define them.  Verification follows the RFC's algorithms (§2.1.3.2, §2.1.4.2)
step for step, with the edge cases of transparency-dev/merkle (size1 == size2, size1 == 0).

Storage model.  RFC 6962's tree of ``n`` leaves is made of *perfect* subtrees — node ``(level,
index)`` covers leaves ``[index * 2**level, (index + 1) * 2**level)`` — plus, along the right edge,
"ephemeral" nodes whose range is cut short by ``n``.  Perfect nodes never change once their last
leaf exists, so the storage layer persists exactly those (``append_to_frontier`` reports them as
they complete) and proof generation asks only for perfect nodes complete within the tree size,
computing the ragged right edge from them: O(log n) reads per proof.  Which nodes a proof or root
asks for depends only on the index and sizes, never on hash values, so a caller may first collect
the addresses with a placeholder getter and then fetch them all in one query.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import TypeAlias

from integrity.errors import ProofError, RootMismatch

#: RFC 6962 §2.1 domain separation: leaves and interior nodes can never hash to the same value.
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
#: SHA-256 output length in bytes.
HASH_SIZE = 32
#: MTH({}) = SHA-256 of the empty string.
EMPTY_ROOT = hashlib.sha256(b"").digest()

#: ``get_node(level, index)`` returns the hash of the perfect subtree covering leaves
#: ``[index * 2**level, (index + 1) * 2**level)``; level 0 is the leaf hashes.
NodeGetter = Callable[[int, int], bytes]


#: A perfect subtree's ``(level, index, hash)``.
Node: TypeAlias = tuple[int, int, bytes]


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash of an entry's canonical bytes."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _check_hashes(hashes: Iterable[bytes], what: str) -> None:
    for i, h in enumerate(hashes):
        if len(h) != HASH_SIZE:
            raise ValueError(f"{what} {i} is {len(h)} bytes, a SHA-256 hash is {HASH_SIZE}")


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH of the given leaf hashes (RFC 9162 §2.1.1), level by level without recursion.

    Pairing each level and carrying an odd last node up unchanged builds the same tree as the
    RFC's "largest power of two smaller than n" split; it takes n - 1 hashes and O(n) memory.
    """
    if not hashes:
        return EMPTY_ROOT
    _check_hashes(hashes, "leaf hash")
    sha256 = hashlib.sha256
    level = list(hashes)
    while len(level) > 1:
        paired = [sha256(NODE_PREFIX + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _fold_right(hashes: Sequence[bytes]) -> bytes:
    # Perfect subtrees, largest (leftmost) first, combine from the right: that is MTH's shape.
    result = hashes[-1]
    for h in reversed(hashes[:-1]):
        result = node_hash(h, result)
    return result


def _perfect_cover(start: int, end: int) -> list[tuple[int, int]]:
    """(level, index) of the perfect subtrees tiling ``[start, end)``, left to right.

    ``start`` must be a multiple of a power of two not smaller than ``end - start``, which holds
    for every node of an RFC 6962 tree: the range then splits by the set bits of its width.
    """
    nodes = []
    width = end - start
    for level in reversed(range(width.bit_length())):
        if width >> level & 1:
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


def _subtree_root(start: int, end: int, get_node: NodeGetter) -> bytes:
    return _fold_right([get_node(level, index) for level, index in _perfect_cover(start, end)])


def root_from_nodes(size: int, get_node: NodeGetter) -> bytes:
    """MTH of the first ``size`` leaves from at most log2(size) + 1 perfect-subtree reads."""
    if size < 0:
        raise ValueError(f"tree size {size} is negative")
    if size == 0:
        return EMPTY_ROOT
    return _subtree_root(0, size, get_node)


def frontier_from_nodes(size: int, get_node: NodeGetter) -> list[bytes]:
    """The frontier (see ``append_to_frontier``) of a tree of ``size`` leaves, read from its nodes."""
    if size < 0:
        raise ValueError(f"tree size {size} is negative")
    return [get_node(level, index) for level, index in _perfect_cover(0, size)]


def _path(level: int, index: int, size: int, get_node: NodeGetter) -> list[bytes]:
    """Audit path of perfect node ``(level, index)`` in the tree of ``size`` leaves, bottom up.

    This is RFC 9162 PATH generalised from a leaf to a node.  Below the level where the node's
    path up the tree meets the last leaf's, every sibling is a complete perfect node; at that
    level the sibling is the (possibly ragged) subtree holding the last leaf; above it only left
    siblings exist, and they are complete.
    """
    first_leaf = index << level
    last_leaf = size - 1
    meet = (first_leaf ^ last_leaf).bit_length()  # lowest level where both paths share a node
    proof = [get_node(lvl, (first_leaf >> lvl) ^ 1) for lvl in range(level, meet - 1)]
    if meet > level:
        sibling_start = ((first_leaf >> (meet - 1)) ^ 1) << (meet - 1)
        proof.append(_subtree_root(sibling_start, size, get_node))
    for lvl in range(max(meet, level), last_leaf.bit_length()):
        if first_leaf >> lvl & 1:
            proof.append(get_node(lvl, (first_leaf >> lvl) - 1))
    return proof


def inclusion_proof(index: int, size: int, get_node: NodeGetter) -> list[bytes]:
    """RFC 9162 §2.1.3.1 inclusion proof of leaf ``index`` in the tree of ``size`` leaves.

    ``get_node`` is asked only for perfect subtrees complete within ``size``.
    Raises ValueError unless ``0 <= index < size``.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not within a tree of size {size}")
    return _path(0, index, size, get_node)


def consistency_proof(old_size: int, new_size: int, get_node: NodeGetter) -> list[bytes]:
    """RFC 9162 §2.1.4.1 consistency proof between tree sizes ``old_size`` and ``new_size``.

    Empty when ``old_size`` is 0 or equals ``new_size``.  ``get_node`` is asked only for perfect
    subtrees complete within ``new_size``.  Raises ValueError unless ``0 <= old_size <= new_size``.
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return []
    # The largest perfect subtree ending at old_size: the proof is its inclusion path in the new tree.
    level = (old_size & -old_size).bit_length() - 1
    index = (old_size - 1) >> level
    path = _path(level, index, new_size, get_node)
    if index == 0:
        # old_size is a power of two, so that subtree is the old root the verifier already holds.
        return path
    return [get_node(level, index), *path]


def append_to_frontier(frontier: Sequence[bytes], leaf: bytes, size: int) -> tuple[list[bytes], list[Node]]:
    """Append leaf hash ``leaf`` as leaf number ``size`` of a tree given by its frontier.

    The frontier of a tree of ``size`` leaves is the list of its maximal perfect subtree roots, one
    per set bit of ``size``, left (largest) to right.  Returns the frontier for ``size + 1`` and the
    perfect nodes this append completed — the leaf itself at level 0, then each parent it closes —
    which is what the storage layer persists to answer ``get_node`` later.
    """
    if len(frontier) != size.bit_count():
        raise ValueError(f"a frontier for size {size} has {size.bit_count()} hashes, got {len(frontier)}")
    if len(leaf) != HASH_SIZE:
        raise ValueError(f"leaf hash is {len(leaf)} bytes, a SHA-256 hash is {HASH_SIZE}")
    new_frontier = list(frontier)
    completed: list[Node] = [(0, size, leaf)]
    current, level, index = leaf, 0, size
    while index & 1:  # a right child: it closes its parent with the frontier's last (left) subtree
        current = node_hash(new_frontier.pop(), current)
        level, index = level + 1, index >> 1
        completed.append((level, index, current))
    new_frontier.append(current)
    return new_frontier, completed


def root_from_frontier(frontier: Sequence[bytes]) -> bytes:
    """MTH of the tree whose frontier (see ``append_to_frontier``) is given."""
    if not frontier:
        return EMPTY_ROOT
    return _fold_right(frontier)


class MemoryTree:
    """An in-memory tree holding every perfect node; for tests and offline bundle verification."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        self.extend(leaf_hashes)

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def append(self, leaf: bytes) -> None:
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"leaf hash is {len(leaf)} bytes, a SHA-256 hash is {HASH_SIZE}")
        levels = self._levels
        levels[0].append(leaf)
        level, index, current = 0, len(levels[0]) - 1, leaf
        while index & 1:
            current = node_hash(levels[level][index - 1], current)
            level, index = level + 1, index >> 1
            if level == len(levels):
                levels.append([])
            levels[level].append(current)

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        for leaf in leaf_hashes:
            self.append(leaf)

    def get_node(self, level: int, index: int) -> bytes:
        """Hash of the complete perfect subtree ``(level, index)``; IndexError if not complete."""
        if level < 0 or index < 0 or level >= len(self._levels) or index >= len(self._levels[level]):
            raise IndexError(f"no complete perfect subtree at level {level}, index {index}")
        return self._levels[level][index]

    def _size(self, size: int | None) -> int:
        if size is None:
            return self.size
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} is not within 0..{self.size}")
        return size

    def root(self, size: int | None = None) -> bytes:
        return root_from_nodes(self._size(size), self.get_node)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(index, self._size(size), self.get_node)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        return consistency_proof(old_size, self._size(new_size), self.get_node)


def _check_proof(kind: str, proof: Sequence[bytes]) -> None:
    for i, h in enumerate(proof):
        if len(h) != HASH_SIZE:
            raise ProofError(kind, f"element {i} is {len(h)} bytes, expected {HASH_SIZE}")


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` implies for ``leaf`` at ``index`` in a tree of ``size`` (RFC 9162 §2.1.3.2).

    Raises ProofError if the index is not in the tree or the proof has the wrong number of
    elements for this index and size.
    """
    _check_proof("inclusion", proof)
    if len(leaf) != HASH_SIZE:
        raise ProofError("inclusion", f"leaf hash is {len(leaf)} bytes, expected {HASH_SIZE}")
    # Step 1.
    if not 0 <= index < size:
        raise ProofError("inclusion", f"leaf index {index} is not within tree size {size}")
    # Steps 2-3.
    fn, sn, r = index, size - 1, leaf
    # Step 4.
    for p in proof:
        if sn == 0:  # 4a: more elements than the path has levels
            raise ProofError("inclusion", f"proof too long for index {index} in size {size}")
        if fn & 1 or fn == sn:  # 4b
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1  # 4c
    # Step 5 (sn; the root comparison is the caller's).
    if sn != 0:
        raise ProofError("inclusion", f"proof too short for index {index} in size {size}")
    return r


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that leaf hash ``leaf`` is leaf ``index`` of the tree of ``size`` with root ``root``.

    Raises ProofError for a malformed proof, RootMismatch if it leads to a different root.
    """
    computed = root_from_inclusion_proof(leaf, index, size, proof)
    if computed != root:
        raise RootMismatch(root, computed, f"root of tree size {size} (inclusion of leaf {index})")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> None:
    """Check that the tree of ``new_size`` with ``new_root`` extends that of ``old_size`` with ``old_root``.

    RFC 9162 §2.1.4.2, with transparency-dev/merkle's edge cases: equal sizes need an empty proof
    and equal roots; any tree is consistent with the empty tree (empty proof).  Raises ProofError
    for a malformed proof, RootMismatch if it leads to a different old or new root.
    """
    kind = "consistency"
    _check_proof(kind, proof)
    if not 0 <= old_size <= new_size:
        raise ProofError(kind, f"old size {old_size} is not within 0..new size {new_size}")
    if old_size == new_size:
        if proof:
            raise ProofError(kind, f"sizes are equal ({old_size}) but the proof is not empty")
        if old_root != new_root:
            raise RootMismatch(old_root, new_root, f"root of tree size {old_size}")
        return
    if old_size == 0:
        if proof:
            raise ProofError(kind, "any tree extends the empty tree; the proof must be empty")
        return
    fr, sr = _consistency_roots(old_size, new_size, old_root, proof)
    if fr != old_root:
        raise RootMismatch(old_root, fr, f"root of old tree size {old_size}")
    if sr != new_root:
        raise RootMismatch(new_root, sr, f"root of new tree size {new_size}")


def _consistency_roots(old_size: int, new_size: int, old_root: bytes,
                       proof: Sequence[bytes]) -> tuple[bytes, bytes]:
    """RFC 9162 §2.1.4.2 steps 1-7 for 0 < old_size < new_size: the (old, new) roots the proof implies."""
    kind = "consistency"
    # Step 1.
    if not proof:
        raise ProofError(kind, f"empty proof from size {old_size} to size {new_size}")
    # Step 2: a power-of-two old tree is itself the subtree the proof starts from.
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # Steps 3-4.
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    # Step 5.
    fr = sr = path[0]
    # Step 6.
    for c in path[1:]:
        if sn == 0:  # 6a
            raise ProofError(kind, f"proof too long from size {old_size} to size {new_size}")
        if fn & 1 or fn == sn:  # 6b
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1  # 6c
    # Step 7 (sn here; the root comparisons are the caller's).
    if sn != 0:
        raise ProofError(kind, f"proof too short from size {old_size} to size {new_size}")
    return fr, sr
