"""The C2SP tlog-witness wire format (c2sp.org/tlog-witness): ``POST <prefix>/add-checkpoint``.

Request body: ``old <size>\\n``, zero to 63 consistency-proof lines (one base64 hash each), an empty
line, then the signed checkpoint note.  Responses: 200 with one or more cosignature lines; 409 with
``<size>\\n`` of the latest checkpoint the witness cosigned (``Content-Type: text/x.tlog.size``) when
the caller's old size is not that, or when the sizes are equal but the roots differ; 404 for an
unknown origin; 403 when no signature verifies under a key the witness trusts for it; 400 for an old
size above the checkpoint's or a malformed body; 422 when the consistency proof does not verify.

Only the formats and the witness's decision live here (pure); the HTTP server is ``witness/``, the
client is ``services/witnessing.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from integrity import merkle
from integrity.checkpoint import Checkpoint, open_checkpoint
from integrity.errors import IntegrityError, NoteFormatError, ProofError, RootMismatch
from integrity.note import Verifier, decode_base64, encode_base64

ADD_CHECKPOINT_PATH = "/add-checkpoint"
#: The 409 answer's body type.
SIZE_CONTENT_TYPE = "text/x.tlog.size"
#: "The client MUST NOT send more than 63 consistency proof lines."
MAX_PROOF_LINES = 63
_OLD = re.compile(rb"old (0|[1-9][0-9]{0,19})\Z")


@dataclass(frozen=True, slots=True)
class AddCheckpoint:
    """One add-checkpoint request: the size the caller believes the witness holds, a consistency
    proof from it, and the signed checkpoint note."""

    old_size: int
    proof: tuple[bytes, ...]
    note: bytes

    def encode(self) -> bytes:
        lines = [f"old {self.old_size}\n".encode()]
        lines += [encode_base64(h).encode() + b"\n" for h in self.proof]
        return b"".join(lines) + b"\n" + self.note


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """Parse a request body strictly; NoteFormatError (a 400) if it is not of the form above."""
    head, sep, note = body.partition(b"\n\n")
    if not sep:
        raise NoteFormatError("add-checkpoint body has no empty line before the checkpoint")
    lines = head.split(b"\n")
    match = _OLD.match(lines[0])
    if match is None:
        raise NoteFormatError("add-checkpoint body must start with 'old <size>'")
    proof_lines = lines[1:]
    if len(proof_lines) > MAX_PROOF_LINES:
        raise NoteFormatError(f"consistency proof has more than {MAX_PROOF_LINES} lines")
    proof = []
    for line in proof_lines:
        try:
            text = line.decode("ascii")
        except UnicodeDecodeError:
            raise NoteFormatError("consistency proof line is not base64") from None
        value = decode_base64(text, "consistency proof line")
        if len(value) != merkle.HASH_SIZE:
            raise NoteFormatError(f"consistency proof line is {len(value)} bytes, not {merkle.HASH_SIZE}")
        proof.append(value)
    return AddCheckpoint(int(match.group(1)), tuple(proof), note)


def parse_size_body(body: bytes) -> int:
    """The witness's size from a 409 answer (``<size>\\n``)."""
    text = body.decode("ascii", "replace")
    if not text.endswith("\n") or not re.fullmatch(r"0|[1-9][0-9]{0,19}", text[:-1]):
        raise NoteFormatError(f"409 body is not a tree size: {text[:40]!r}")
    return int(text[:-1])


def parse_cosignature_lines(body: bytes) -> list[bytes]:
    """The signature lines of a 200 answer, each ``— ...\\n``; NoteFormatError if it is not that."""
    if not body.endswith(b"\n") or not body.strip():
        raise NoteFormatError("add-checkpoint answer is not newline-terminated signature lines")
    lines = [line + b"\n" for line in body[:-1].split(b"\n")]
    if any(not line.startswith("\u2014 ".encode()) for line in lines):
        raise NoteFormatError("add-checkpoint answer has a line that is not a note signature")
    return lines


class Refusal(Exception):
    """Why a witness refuses a checkpoint: the HTTP status the spec prescribes, and a reason."""

    def __init__(self, status: int, reason: str, size: int | None = None, *, misbehaviour: bool = False) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.size = size  # for 409: the size of the latest checkpoint the witness cosigned
        #: A validly signed checkpoint that contradicts one the witness cosigned: evidence against the log.
        self.misbehaviour = misbehaviour


@dataclass(frozen=True, slots=True)
class Latest:
    """What a witness holds for one origin: the latest checkpoint it cosigned."""

    size: int
    root: bytes


def check_request(request: AddCheckpoint, verifiers: Iterable[Verifier] | None,
                  latest: Latest | None) -> Checkpoint:
    """The witness's decision, in the spec's order; the checkpoint to cosign, or Refusal.

    ``verifiers`` are the log keys the witness trusts for the checkpoint's origin (None: an origin it
    does not witness); ``latest`` what it cosigned last for that origin (None: nothing yet).
    """
    origin = _origin_of(request.note)
    if verifiers is None:
        raise Refusal(404, f"unknown log {origin!r}")
    try:
        checkpoint, _ = open_checkpoint(request.note, verifiers, expected_origin=origin)
    except NoteFormatError as exc:
        raise Refusal(400, f"malformed checkpoint: {exc}") from None
    except IntegrityError as exc:
        raise Refusal(403, f"no valid signature by a key trusted for {origin}: {exc}") from None
    if request.old_size > checkpoint.size:
        raise Refusal(400, f"old size {request.old_size} is above the checkpoint's size {checkpoint.size}")
    held = latest.size if latest is not None else 0
    if request.old_size != held:
        raise Refusal(409, f"old size {request.old_size} is not the size this witness holds ({held})", held)
    if latest is None or request.old_size == 0:
        if request.proof:
            raise Refusal(422, "the consistency proof from size 0 must be empty")
        return checkpoint
    if latest.size == checkpoint.size:
        if latest.root != checkpoint.root:
            raise Refusal(409, f"a different root at the size this witness holds ({held}): a split view", held,
                          misbehaviour=True)
        if request.proof:
            raise Refusal(422, "the consistency proof between equal sizes must be empty")
        return checkpoint
    try:
        merkle.verify_consistency(latest.size, checkpoint.size, latest.root, checkpoint.root, request.proof)
    except (ProofError, RootMismatch) as exc:
        raise Refusal(422, f"not consistent with the checkpoint of size {held} this witness cosigned: {exc}",
                      misbehaviour=True) from None
    return checkpoint


def _origin_of(note: bytes) -> str:
    first, _, _ = note.partition(b"\n")
    try:
        return first.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal(400, "checkpoint origin is not UTF-8") from None


def encode_proof(proof: Sequence[bytes]) -> tuple[bytes, ...]:
    """A consistency proof as the request carries it (checked: at most 63 hashes of 32 bytes)."""
    if len(proof) > MAX_PROOF_LINES or any(len(h) != merkle.HASH_SIZE for h in proof):
        raise ValueError("a consistency proof is at most 63 SHA-256 hashes")
    return tuple(proof)
