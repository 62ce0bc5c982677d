"""Failures of the integrity contract (ARCHITECTURE.md, "Integrity contract (version 1)").

One exception per way evidence can fail to verify, each carrying the data a report needs (which
entry, what was expected, what was found) so callers never have to parse a message.  ``code`` is a
stable machine-readable name for the failure; mapping it to an HTTP status is the API's business,
not this package's.  Like the rest of ``integrity/``, this module imports nothing of Custody's.
"""

from __future__ import annotations


def _hex(value: bytes) -> str:
    return value.hex()


class IntegrityError(Exception):
    """Base class: the evidence, a proof or a signature does not check out.

    Not a ``foundation.errors.CustodyError``: this package is copied alone by outside verifiers and
    imports nothing of Custody's.  ``status`` is the name of the kind of failure (``Status.INVALID``'s
    value) so that the front ends treat it as they treat the application's own errors.
    """

    status = "invalid"
    code = "integrity_error"


class CanonicalError(IntegrityError):
    """A value cannot be an entry: not canonical JSON, or not representable in it."""

    code = "non_canonical"

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class ProofError(IntegrityError):
    """An inclusion or consistency proof is malformed or does not fit the tree sizes given."""

    code = "bad_proof"

    def __init__(self, kind: str, reason: str) -> None:
        self.kind = kind  # "inclusion" or "consistency"
        self.reason = reason
        super().__init__(f"{kind} proof: {reason}")


class RootMismatch(IntegrityError):
    """A recomputed Merkle root differs from the one that was claimed or signed."""

    code = "root_mismatch"

    def __init__(self, expected: bytes, actual: bytes, what: str = "root hash") -> None:
        self.expected = expected
        self.actual = actual
        self.what = what
        super().__init__(f"{what} mismatch: expected {_hex(expected)}, computed {_hex(actual)}")


class BadSignature(IntegrityError):
    """A signature by a known key (name and key id match) does not verify."""

    code = "bad_signature"

    def __init__(self, name: str, key_id: bytes) -> None:
        self.name = name
        self.key_id = key_id
        super().__init__(f"signature by {name}+{_hex(key_id)} does not verify")


class UnknownKey(IntegrityError):
    """A signed note carries no signature by any trusted key."""

    code = "unknown_key"

    def __init__(self, present: list[tuple[str, bytes]]) -> None:
        self.present = present  # (name, key id) of every signature line found
        listed = ", ".join(f"{name}+{_hex(key_id)}" for name, key_id in present) or "none"
        super().__init__(f"no signature by a trusted key (signatures present: {listed})")


class NoteFormatError(IntegrityError):
    """A signed note, checkpoint body, or key string is malformed."""

    code = "malformed_note"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class OriginMismatch(IntegrityError):
    """A checkpoint is for a different log (origin line) than the one being verified."""

    code = "origin_mismatch"

    def __init__(self, expected: str, actual: str) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(f"checkpoint origin is {actual!r}, expected {expected!r}")


class BrokenChain(IntegrityError):
    """Entry ``seq`` does not name the leaf hash of entry ``seq - 1`` in its ``prev`` field."""

    code = "broken_chain"

    def __init__(self, seq: int, expected: str, actual: str) -> None:
        self.seq = seq
        self.expected = expected
        self.actual = actual
        super().__init__(f"entry {seq}: prev is {actual}, expected {expected}")


class SeqGap(IntegrityError):
    """The entry at a position carries the wrong ``seq`` (a gap, a repeat, or a reordering)."""

    code = "seq_gap"

    def __init__(self, index: int, expected: int, actual: object) -> None:
        self.index = index
        self.expected = expected
        self.actual = actual
        super().__init__(f"entry at position {index} has seq {actual!r}, expected {expected}")


class ObjectMismatch(IntegrityError):
    """An object's bytes do not match the BLAKE3, SHA-256 or size recorded for it."""

    code = "object_mismatch"

    def __init__(self, what: str, field: str, expected: str | int, actual: str | int) -> None:
        self.what = what
        self.field = field
        self.expected = expected
        self.actual = actual
        super().__init__(f"{what}: {field} is {actual}, expected {expected}")
