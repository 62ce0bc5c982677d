"""An auditor's question: is the history in my old bundle still the history the log shows now?

Two verified views of one case log (two bundles, or a bundle and a server's checkpoint with a
consistency proof) agree when the smaller tree is a prefix of the larger: RFC 9162 consistency.
Otherwise the log was rewritten (or shows different histories to different people): DIVERGED.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from integrity import merkle
from integrity.bundle import Report
from integrity.checkpoint import Checkpoint
from integrity.errors import ProofError, RootMismatch

CONSISTENT = "CONSISTENT"
DIVERGED = "DIVERGED"
BEHIND = "BEHIND"  # the "newer" view is an older state of the same history


@dataclass(frozen=True, slots=True)
class Comparison:
    verdict: str
    old_size: int
    new_size: int
    detail: str

    @property
    def ok(self) -> bool:
        return self.verdict == CONSISTENT


def compare_reports(old: Report, new: Report) -> Comparison:
    """Compare two verified bundles of the same case by their entries (all leaf hashes are at hand)."""
    a, b = old.checkpoint, new.checkpoint
    if a is None or b is None or not old.ok or not new.ok:
        raise ValueError("compare only bundles that verified")
    if a.origin != b.origin:
        return Comparison(DIVERGED, a.size, b.size, f"different logs: {a.origin} and {b.origin}")
    small, large = (old, new) if a.size <= b.size else (new, old)
    for i, (x, y) in enumerate(zip(small.leaf_hashes, large.leaf_hashes, strict=False)):
        if x != y:
            return Comparison(DIVERGED, a.size, b.size,
                              f"entry {i} differs: the log's history was rewritten from entry {i} on "
                              f"(old leaf {x.hex()[:16]}…, new leaf {y.hex()[:16]}…)")
    tree = merkle.MemoryTree(large.leaf_hashes)
    proof = tree.consistency_proof(min(a.size, b.size), max(a.size, b.size))
    small_cp = small.checkpoint
    large_cp = large.checkpoint
    assert small_cp is not None and large_cp is not None
    merkle.verify_consistency(small_cp.size, large_cp.size, small_cp.root, large_cp.root, proof)
    if a.size > b.size:
        return Comparison(BEHIND, a.size, b.size, f"the second bundle (size {b.size}) is an older state of the "
                                                  f"same history as the first (size {a.size})")
    return Comparison(CONSISTENT, a.size, b.size, f"size {a.size} → {b.size}: the new history extends the old one; "
                                                  f"consistency proof of {len(proof)} hashes verified")


def compare_with_proof(old: Checkpoint, new: Checkpoint, proof: Sequence[bytes]) -> Comparison:
    """Compare a bundle's checkpoint with a newer one (e.g. a server's) by an RFC 9162 consistency proof."""
    if old.origin != new.origin:
        return Comparison(DIVERGED, old.size, new.size, f"different logs: {old.origin} and {new.origin}")
    if new.size < old.size:
        return Comparison(BEHIND, old.size, new.size, f"the log now shows size {new.size}, smaller than the "
                                                      f"bundle's {old.size}: a rollback, or a different history")
    try:
        merkle.verify_consistency(old.size, new.size, old.root, new.root, proof)
    except (ProofError, RootMismatch) as exc:
        return Comparison(DIVERGED, old.size, new.size, f"no consistency between size {old.size} and {new.size}: "
                                                        f"the log's history was rewritten ({exc})")
    return Comparison(CONSISTENT, old.size, new.size, f"size {old.size} → {new.size}: consistency proof of "
                                                      f"{len(proof)} hashes verified")
