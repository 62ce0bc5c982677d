"""Receipts: checking, client-side, that the server really logged an entry (before a camera is wiped).

A receipt is ``{"case", "leaf_index", "entry", "tree_size", "inclusion_proof", "checkpoint"}``:
the entry's exact canonical text, an RFC 9162 inclusion proof, and the C2SP signed checkpoint of the
tree the proof is for.  It holds when the checkpoint verifies under a pinned vkey, is for the named
case, has the stated size, and the entry's leaf hash is included at ``leaf_index`` under its root.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from integrity import merkle
from integrity.canonical import parse_entry
from integrity.checkpoint import open_checkpoint
from integrity.entry import parse_case_origin
from integrity.errors import NoteFormatError, ObjectMismatch, ProofError
from integrity.hashing import ContentDigest
from integrity.note import Verifier


def verify_receipt(receipt: Mapping[str, Any], verifiers: Iterable[Verifier],
                   digest: ContentDigest | None = None) -> dict[str, Any]:
    """Return the receipt's entry if everything holds; raise the specific IntegrityError if not."""
    try:
        note = str(receipt["checkpoint"]).encode()
        entry_bytes = str(receipt["entry"]).encode()
        index, size = int(receipt["leaf_index"]), int(receipt["tree_size"])
        proof = [bytes.fromhex(h) for h in receipt["inclusion_proof"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise NoteFormatError(f"malformed receipt: {exc}") from None
    checkpoint, _ = open_checkpoint(note, verifiers)
    _, case_id = parse_case_origin(checkpoint.origin)
    if checkpoint.size != size:
        raise ProofError("inclusion", f"receipt says tree size {size}, its checkpoint says {checkpoint.size}")
    entry = parse_entry(entry_bytes)
    if entry.get("case") != case_id or entry.get("seq") != index or receipt.get("case", case_id) != case_id:
        raise ProofError("inclusion", f"entry is seq {entry.get('seq')} of case {entry.get('case')!r}; the "
                                      f"receipt claims index {index} of {case_id!r}")
    merkle.verify_inclusion(merkle.leaf_hash(entry_bytes), index, size, proof, checkpoint.root)
    if digest is not None:
        digest.check(blake3=entry.get("blake3"), sha256=entry.get("sha256"), size=entry.get("size"),
                     what=f"entry {index} of case {case_id}")
        if entry.get("blake3") != digest.blake3:
            raise ObjectMismatch(f"entry {index}", "blake3", str(entry.get("blake3")), digest.blake3)
    return entry
