"""Custody's integrity core: pure functions and small value types, no I/O.

``hashing`` (BLAKE3 + SHA-256 content digests), ``canonical`` (RFC 8785 entry bytes), ``merkle``
(RFC 6962/9162 tree and proofs), ``note`` (C2SP signed notes, Ed25519), ``checkpoint`` (C2SP
tlog-checkpoint) and ``errors``.  The contract they implement is ARCHITECTURE.md, "Integrity
contract (version 1)".  Import the submodules directly; this package imports nothing itself.
"""
