"""Custody's integrity core: pure functions and small value types.

``hashing`` (BLAKE3 + SHA-256 content digests, object keys), ``canonical`` (RFC 8785 entry bytes),
``entry`` (an entry's common fields: building entries, checking a case's chain, case log origins),
``merkle`` (RFC 6962/9162 tree and proofs), ``note`` (C2SP signed notes, Ed25519), ``checkpoint``
(C2SP tlog-checkpoint), ``receipt`` (checking an append's receipt), ``bundle`` (the bundle layout
and its verification over a source handed in) and ``errors`` (rooted in ``foundation.errors``, the
one module outside this package that integrity imports).  None of them does I/O; reading a stream
handed in is the most they do.  The edge, where files are opened: ``bundle_files`` (zip and
directory bundles) and ``verify`` (the offline verifier's command line).  The contract they
implement is docs/ARCHITECTURE.md, "Integrity contract (version 1)".  Import the submodules
directly; this package imports nothing itself.
"""
