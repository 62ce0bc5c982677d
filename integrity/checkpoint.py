"""Signed tree heads: C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint) inside a C2SP signed note.

Integrity contract v1, "Checkpoint": the body is the origin line (``<host>/case/<case-id>``, no
spaces or ``+``), the tree size in decimal, the root hash in base64, and no extension lines::

    custody.example/case/2024-0042
    17
    <base64 of the 32-byte RFC 6962 root>

We never emit extension lines; when parsing we accept and ignore non-empty ones, as the C2SP
spec tells clients to, so checkpoints from other tooling still open.  A checkpoint takes any origin
the C2SP rules allow; a case log's origin is made and read by ``integrity.entry.case_origin``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from integrity.errors import NoteFormatError, OriginMismatch
from integrity.merkle import HASH_SIZE
from integrity.note import Signer, Verifier, decode_base64, encode_base64, open_note, sign_note

#: C2SP caps nothing, but a tree size is a uint64 in every implementation we interoperate with.
MAX_TREE_SIZE = 2**64 - 1

_DECIMAL = re.compile(r"(0|[1-9][0-9]*)\Z")


def _check_origin(origin: str) -> None:
    if not origin:
        raise NoteFormatError("checkpoint origin is empty")
    if "+" in origin or any(c.isspace() or c < " " for c in origin):
        raise NoteFormatError(f"checkpoint origin {origin!r} contains a space, control character or '+'")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's tree head: which log (origin), how many leaves, and their Merkle root."""

    origin: str
    size: int
    root: bytes

    def __post_init__(self) -> None:
        _check_origin(self.origin)
        size_ok = isinstance(self.size, int) and not isinstance(self.size, bool)
        if not size_ok or not 0 <= self.size <= MAX_TREE_SIZE:
            raise NoteFormatError(f"checkpoint tree size {self.size!r} is not an integer in 0..2**64-1")
        if len(self.root) != HASH_SIZE:
            raise NoteFormatError(f"checkpoint root hash is {len(self.root)} bytes, expected {HASH_SIZE}")

    def body(self) -> str:
        """The note text: origin, size and root lines, each newline-terminated."""
        return f"{self.origin}\n{self.size}\n{encode_base64(self.root)}\n"


def parse_checkpoint_body(text: str) -> Checkpoint:
    """Parse a checkpoint note text strictly; extension lines are accepted and ignored.

    Raises NoteFormatError for fewer than three lines, an empty line, a missing final newline,
    an invalid origin, a size with a sign, leading zeros or non-ASCII digits, or a root that is
    not the canonical base64 of exactly 32 bytes.
    """
    if not text.endswith("\n"):
        raise NoteFormatError("checkpoint body must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteFormatError(f"checkpoint body has {len(lines)} lines, needs origin, size and root")
    if "" in lines:
        raise NoteFormatError("checkpoint body contains an empty line")
    origin, size_text, root_text = lines[:3]
    _check_origin(origin)
    if len(size_text) > len(str(MAX_TREE_SIZE)) or not _DECIMAL.match(size_text):
        raise NoteFormatError(f"checkpoint tree size {size_text!r} is not a decimal without leading zeros")
    root = decode_base64(root_text, "checkpoint root hash")
    return Checkpoint(origin, int(size_text), root)


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer, *cosigners: Signer) -> bytes:
    """The checkpoint as a signed note (cosigners add their lines, e.g. during key rotation)."""
    return sign_note(checkpoint.body(), [signer, *cosigners])


def open_checkpoint(note: bytes, verifiers: Iterable[Verifier], *,
                    expected_origin: str | None = None) -> tuple[Checkpoint, list[str]]:
    """Verify a signed checkpoint; return it and the names of the trusted keys that signed it.

    Raises what ``open_note`` raises, NoteFormatError for a malformed body, and OriginMismatch if
    ``expected_origin`` is given and differs (a valid checkpoint of another case's log).
    """
    text, signatures = open_note(note, verifiers)
    checkpoint = parse_checkpoint_body(text)
    if expected_origin is not None and checkpoint.origin != expected_origin:
        raise OriginMismatch(expected_origin, checkpoint.origin)
    return checkpoint, [sig.name for sig in signatures]

