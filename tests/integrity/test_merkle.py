"""RFC 6962 / 9162 tree, proofs and verification against known answers and a naive reference."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from integrity.errors import IntegrityError, ProofError, RootMismatch
from integrity.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    append_to_frontier,
    consistency_proof,
    frontier_from_nodes,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_frontier,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    root_from_nodes,
    verify_consistency,
    verify_inclusion,
)
from tests.conftest import VECTORS

MAX_PAIRS_SIZE = 64
# Sizes whose proofs get every byte of every element flipped: powers of two, their neighbours, odd shapes.
FLIP_SIZES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 15, 16, 17, 21, 31, 32, 33)


# --- an independent reference: RFC 9162 §2.1 written out recursively, hashing with hashlib directly ---

def _ref_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _ref_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(leaves: Sequence[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return _ref_node(ref_mth(leaves[:k]), ref_mth(leaves[k:]))


def ref_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if m < k:
        return [*ref_path(m, leaves[:k]), ref_mth(leaves[k:])]
    return [*ref_path(m - k, leaves[k:]), ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [ref_mth(leaves)]
    k = _split(n)
    if m <= k:
        return [*ref_subproof(m, leaves[:k], complete), ref_mth(leaves[k:])]
    return [*ref_subproof(m - k, leaves[k:], False), ref_mth(leaves[:k])]


def ref_consistency(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    return [] if m == 0 else ref_subproof(m, leaves, True)


# --- fixtures ---

def make_leaves(n: int) -> list[bytes]:
    return [_ref_leaf(f"entry {i}".encode()) for i in range(n)]


LEAVES = make_leaves(2 * MAX_PAIRS_SIZE + 2)
TREE = MemoryTree(LEAVES)
ROOTS = [ref_mth(LEAVES[:n]) for n in range(len(LEAVES) + 1)]
STRANGER = _ref_leaf(b"not in the tree")


def persisted_nodes(leaves: Sequence[bytes]) -> tuple[dict[tuple[int, int], bytes], list[list[bytes]]]:
    """What the storage layer would keep: the nodes append_to_frontier reports, plus each frontier."""
    nodes: dict[tuple[int, int], bytes] = {}
    frontiers: list[list[bytes]] = [[]]
    for size, leaf in enumerate(leaves):
        frontier, completed = append_to_frontier(frontiers[-1], leaf, size)
        for level, index, digest in completed:
            assert (level, index) not in nodes
            nodes[(level, index)] = digest
        frontiers.append(frontier)
    return nodes, frontiers


NODES, FRONTIERS = persisted_nodes(LEAVES)


def strict_getter(size: int, calls: list[tuple[int, int]] | None = None) -> Callable[[int, int], bytes]:
    """A get_node that fails the test if asked for a subtree not complete within ``size``."""

    def get_node(level: int, index: int) -> bytes:
        assert level >= 0 and index >= 0
        assert (index + 1) << level <= size, f"asked for ({level}, {index}) beyond size {size}"
        if calls is not None:
            calls.append((level, index))
        return NODES[(level, index)]

    return get_node


def load_vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / "rfc6962.json").read_text())
    return data


# --- known answers ---

def test_rfc6962_roots_and_proofs_known_answers() -> None:
    vectors = load_vectors()
    leaves = [leaf_hash(bytes.fromhex(h)) for h in vectors["leaves_hex"]]
    tree = MemoryTree(leaves)
    for size, root_hex in enumerate(vectors["roots_by_size_hex"]):
        root = bytes.fromhex(root_hex)
        assert tree.root(size) == root
        assert root_from_leaf_hashes(leaves[:size]) == root
    for case in vectors["inclusion"]:
        index, size = case["index"], case["size"]
        expected = [bytes.fromhex(h) for h in case["proof"]]
        assert tree.inclusion_proof(index, size) == expected
        verify_inclusion(leaves[index], index, size, expected, tree.root(size))
    for case in vectors["consistency"]:
        first, second = case["first"], case["second"]
        expected = [bytes.fromhex(h) for h in case["proof"]]
        assert tree.consistency_proof(first, second) == expected
        verify_consistency(first, second, tree.root(first), tree.root(second), expected)


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root_from_leaf_hashes([]) == EMPTY_ROOT == MemoryTree().root() == root_from_frontier([])


def test_hash_domain_separation() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert node_hash(b"l" * 32, b"r" * 32) == hashlib.sha256(b"\x01" + b"l" * 32 + b"r" * 32).digest()


# --- roots against the naive reference ---

@pytest.mark.parametrize("size", [*range(21), *random.Random(6962).sample(range(21, 2001), 12), 2000])
def test_roots_match_naive_mth(size: int) -> None:
    leaves = make_leaves(size)
    expected = ref_mth(leaves)
    assert root_from_leaf_hashes(leaves) == expected
    assert MemoryTree(leaves).root() == expected
    frontier: list[bytes] = []
    for i, leaf in enumerate(leaves):
        frontier, _ = append_to_frontier(frontier, leaf, i)
    assert root_from_frontier(frontier) == expected


def test_large_tree_root_paths_agree() -> None:
    leaves = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(50_000)]
    tree = MemoryTree(leaves)
    frontier = frontier_from_nodes(len(leaves), tree.get_node)
    assert root_from_leaf_hashes(leaves) == tree.root() == root_from_frontier(frontier)


def test_frontier_is_one_perfect_subtree_per_set_bit() -> None:
    for size in range(len(LEAVES) + 1):
        assert len(FRONTIERS[size]) == size.bit_count()
        assert FRONTIERS[size] == frontier_from_nodes(size, strict_getter(size))
        assert root_from_frontier(FRONTIERS[size]) == ROOTS[size]
        assert root_from_nodes(size, strict_getter(size)) == ROOTS[size]


def test_persisted_nodes_are_exactly_the_complete_perfect_subtrees() -> None:
    n = len(LEAVES)
    expected = {(level, index) for level in range(n.bit_length()) for index in range(n >> level)}
    assert set(NODES) == expected
    for (level, index), digest in NODES.items():
        assert digest == ref_mth(LEAVES[index << level:(index + 1) << level])
        assert TREE.get_node(level, index) == digest


def test_append_to_frontier_reports_completed_nodes() -> None:
    frontier, completed = append_to_frontier(FRONTIERS[7], LEAVES[7], 7)
    assert [(level, index) for level, index, _ in completed] == [(0, 7), (1, 3), (2, 1), (3, 0)]
    assert frontier == [ref_mth(LEAVES[:8])]
    with pytest.raises(ValueError, match="frontier for size 7"):
        append_to_frontier(FRONTIERS[6], LEAVES[7], 7)


# --- proofs: generation agrees with the reference and across storage paths; all verify ---

def test_every_inclusion_proof_up_to_64_agrees_and_verifies() -> None:
    for size in range(1, MAX_PAIRS_SIZE + 1):
        root = ROOTS[size]
        for index in range(size):
            calls: list[tuple[int, int]] = []
            proof = inclusion_proof(index, size, strict_getter(size, calls))
            assert proof == TREE.inclusion_proof(index, size) == ref_path(index, LEAVES[:size])
            assert len(calls) <= 2 * size.bit_length()  # O(log n) node reads
            verify_inclusion(LEAVES[index], index, size, proof, root)
            assert root_from_inclusion_proof(LEAVES[index], index, size, proof) == root


def test_every_consistency_proof_up_to_64_agrees_and_verifies() -> None:
    for new in range(MAX_PAIRS_SIZE + 1):
        for old in range(new + 1):
            calls: list[tuple[int, int]] = []
            proof = consistency_proof(old, new, strict_getter(new, calls))
            assert proof == TREE.consistency_proof(old, new) == ref_consistency(old, LEAVES[:new])
            assert len(calls) <= 2 * new.bit_length() + 1
            verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)


def test_proof_generation_refuses_impossible_requests() -> None:
    with pytest.raises(ValueError):
        inclusion_proof(5, 5, TREE.get_node)
    with pytest.raises(ValueError):
        inclusion_proof(-1, 5, TREE.get_node)
    with pytest.raises(ValueError):
        consistency_proof(6, 5, TREE.get_node)
    with pytest.raises(ValueError):
        TREE.root(len(LEAVES) + 1)


# --- corrupted proofs are rejected ---

def flipped(proof: list[bytes]) -> list[list[bytes]]:
    """Every proof with exactly one byte of one element changed."""
    out = []
    for i, element in enumerate(proof):
        for j in range(len(element)):
            bad = bytearray(element)
            bad[j] ^= 0x01
            out.append([*proof[:i], bytes(bad), *proof[i + 1:]])
    return out


def mangled(proof: list[bytes]) -> list[list[bytes]]:
    """Truncations, extensions, reorderings and wrong-length elements."""
    out = [[*proof, proof[-1] if proof else LEAVES[0]], [*proof, b"\x00" * 32], [LEAVES[0], *proof]]
    if proof:
        out += [proof[:-1], proof[1:], [*proof[:-1], proof[-1][:31]], [*proof[:-1], proof[-1] + b"\x00"]]
    if len(proof) > 1:
        out.append(list(reversed(proof)))
    return [p for p in out if p != proof]


def test_corrupted_inclusion_proofs_are_rejected() -> None:
    for size in range(1, MAX_PAIRS_SIZE + 1):
        root = ROOTS[size]
        for index in range(size):
            proof = TREE.inclusion_proof(index, size)
            bad_proofs = mangled(proof) + (flipped(proof) if size in FLIP_SIZES else [])
            for bad in bad_proofs:
                with pytest.raises((ProofError, RootMismatch)):
                    verify_inclusion(LEAVES[index], index, size, bad, root)
            bad_root = bytes([root[0] ^ 0x80]) + root[1:]
            with pytest.raises(RootMismatch):
                verify_inclusion(LEAVES[index], index, size, proof, bad_root)
            with pytest.raises(RootMismatch):
                verify_inclusion(STRANGER, index, size, proof, root)
            for other in {index - 1, index + 1, size, size + 1, -1} - {index}:
                with pytest.raises((ProofError, RootMismatch)):
                    verify_inclusion(LEAVES[index], other, size, proof, root)
            for other_size in {size - 1, size + 1, size + 2, 2 * size} - {size}:
                if index < other_size and TREE.inclusion_proof(index, other_size) == proof:
                    continue
                with pytest.raises((ProofError, RootMismatch)):
                    verify_inclusion(LEAVES[index], index, other_size, proof, ROOTS[max(other_size, 0)])


def test_inclusion_index_outside_tree_is_a_proof_error() -> None:
    with pytest.raises(ProofError, match="not within tree size"):
        verify_inclusion(LEAVES[3], 3, 3, TREE.inclusion_proof(2, 3), ROOTS[3])
    with pytest.raises(ProofError, match="not within tree size"):
        verify_inclusion(LEAVES[0], 0, 0, [], EMPTY_ROOT)
    with pytest.raises(ProofError, match="too short"):
        verify_inclusion(LEAVES[0], 0, 4, TREE.inclusion_proof(0, 4)[:1], ROOTS[4])
    with pytest.raises(ProofError, match="too long"):
        verify_inclusion(LEAVES[0], 0, 1, [LEAVES[1]], ROOTS[1])


def test_corrupted_consistency_proofs_are_rejected() -> None:
    for new in range(1, MAX_PAIRS_SIZE + 1):
        for old in range(new + 1):
            proof = TREE.consistency_proof(old, new)
            flips = flipped(proof) if new in FLIP_SIZES else []
            for bad in mangled(proof) + flips:
                with pytest.raises((ProofError, RootMismatch)):
                    verify_consistency(old, new, ROOTS[old], ROOTS[new], bad)
            if old:  # from the empty tree no root is checked (transparency-dev/merkle)
                bad_old = bytes([ROOTS[old][0] ^ 0x80]) + ROOTS[old][1:]
                bad_new = bytes([ROOTS[new][0] ^ 0x80]) + ROOTS[new][1:]
                with pytest.raises(RootMismatch):
                    verify_consistency(old, new, bad_old, ROOTS[new], proof)
                with pytest.raises(RootMismatch):
                    verify_consistency(old, new, ROOTS[old], bad_new, proof)
            for other_old, other_new in {(old - 1, new), (old + 1, new), (old, new + 1), (old, new - 1),
                                         (old + 1, new + 1)}:
                if not 0 <= other_old <= other_new:
                    with pytest.raises(ProofError):
                        verify_consistency(other_old, other_new, ROOTS[0], ROOTS[new], proof)
                    continue
                if TREE.consistency_proof(other_old, other_new) == proof:
                    continue  # e.g. both empty: a correct proof for that pair too
                with pytest.raises((ProofError, RootMismatch)):
                    verify_consistency(other_old, other_new, ROOTS[other_old], ROOTS[other_new], proof)


def test_consistency_edge_cases() -> None:
    # Equal sizes: empty proof and equal roots.
    verify_consistency(5, 5, ROOTS[5], ROOTS[5], [])
    with pytest.raises(RootMismatch):
        verify_consistency(5, 5, ROOTS[5], ROOTS[6], [])
    with pytest.raises(ProofError, match="not empty"):
        verify_consistency(5, 5, ROOTS[5], ROOTS[5], [ROOTS[5]])
    # From the empty tree: trivially consistent, but only with an empty proof.
    verify_consistency(0, 7, EMPTY_ROOT, ROOTS[7], [])
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    with pytest.raises(ProofError, match="must be empty"):
        verify_consistency(0, 7, EMPTY_ROOT, ROOTS[7], [ROOTS[7]])
    # Shrinking is never consistent.
    with pytest.raises(ProofError, match="not within"):
        verify_consistency(8, 7, ROOTS[8], ROOTS[7], TREE.consistency_proof(7, 8))
    # Structure is checked before roots: extra or missing elements are a malformed proof.
    proof = TREE.consistency_proof(3, 7)
    with pytest.raises(ProofError, match="too long"):
        verify_consistency(3, 7, ROOTS[3], ROOTS[7], [*proof, ROOTS[1]])
    with pytest.raises(ProofError, match="too short"):
        verify_consistency(3, 7, ROOTS[3], ROOTS[7], proof[:-1])
    # Missing proof between different non-empty sizes.
    with pytest.raises(ProofError, match="empty proof"):
        verify_consistency(3, 7, ROOTS[3], ROOTS[7], [])
    # Specific root named in the error.
    bad = bytes(32)
    with pytest.raises(RootMismatch, match="old tree size 3") as info:
        verify_consistency(3, 7, bad, ROOTS[7], TREE.consistency_proof(3, 7))
    assert info.value.expected == bad
    with pytest.raises(RootMismatch, match="new tree size 7"):
        verify_consistency(3, 7, ROOTS[3], bad, TREE.consistency_proof(3, 7))


def test_errors_share_the_integrity_base() -> None:
    with pytest.raises(IntegrityError):
        verify_inclusion(LEAVES[0], 0, 2, [b"short"], ROOTS[2])
