"""Witness cosignatures: C2SP tlog-cosignature (c2sp.org/tlog-cosignature), the Ed25519 type.

Integrity contract 1.1, "Cosignatures".  A cosignature is one more signed-note signature line on a
case checkpoint::

    — <witness name> base64(key id || timestamped_signature)

- key id = ``SHA-256(<name> || 0x0A || 0x04 || 32-byte Ed25519 public key)[:4]`` (type 0x04, not the
  log's 0x01, so a witness key can never be mistaken for a log key);
- ``timestamped_signature`` = the cosigning time as an 8-byte big-endian POSIX time (at most
  2**63 - 1) followed by the 64-byte Ed25519 signature;
- the signed message is ``cosignature/v1\\ntime <t>\\n`` followed by the whole checkpoint body (with
  its final newline, without any signature line), ``<t>`` in decimal without leading zeros.

Verifier keys are vkeys of type 0x04: ``<name>+<8 hex key id>+<base64(0x04 || public key)>``.  The
witness keeps its private key as ``PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x04 || 32-byte seed)>``
(Go's signer-key form with the cosignature type byte).  Lines from keys a verifier does not know
are ignored; a line that names a known key (name and key id) must verify, or the note is refused,
as c2sp.org/signed-note asks.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from integrity.errors import BadSignature, NoteFormatError
from integrity.note import (
    _HEX8,
    ED25519_KEY_SIZE,
    ED25519_SIG_SIZE,
    KEY_ID_SIZE,
    SIG_PREFIX,
    SIGNER_KEY_PREFIX,
    _check_name,
    decode_base64,
    encode_base64,
    split_note,
)

#: Signature type byte of an Ed25519 tlog-cosignature/v1 (c2sp.org/signed-note, "Signature types").
ALG_COSIGNATURE_V1 = b"\x04"
#: The header line of the signed message: domain separation from every other use of the key.
HEADER = b"cosignature/v1\n"
#: ``timestamped_signature.timestamp`` is a u64 that "MUST NOT exceed 2^63 - 1".
MAX_TIMESTAMP = 2**63 - 1
TIMESTAMP_SIZE = 8  # bytes, big-endian
COSIGNATURE_SIZE = TIMESTAMP_SIZE + ED25519_SIG_SIZE


def cosigner_key_id(name: str, public_key: bytes) -> bytes:
    """Key id of an Ed25519 cosigner: SHA-256(name || 0x0A || 0x04 || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + ALG_COSIGNATURE_V1 + public_key).digest()[:KEY_ID_SIZE]


def signed_message(body: bytes, timestamp: int) -> bytes:
    """What the witness signs: ``cosignature/v1\\ntime <t>\\n`` + the checkpoint body."""
    _check_timestamp(timestamp)
    return HEADER + b"time " + str(timestamp).encode() + b"\n" + body


def _check_timestamp(timestamp: int) -> None:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or not 0 <= timestamp <= MAX_TIMESTAMP:
        raise NoteFormatError(f"cosignature time {timestamp!r} is not an integer in 0..2**63-1")


def cosigner_vkey(name: str, public_key: bytes) -> str:
    """``<name>+<8 hex key id>+<base64(0x04 || public key)>``."""
    _check_name(name)
    return f"{name}+{cosigner_key_id(name, public_key).hex()}+{encode_base64(ALG_COSIGNATURE_V1 + public_key)}"


class Cosigned(NamedTuple):
    """One verified cosignature: which witness, and the time it says it cosigned."""

    name: str
    key_id: bytes
    timestamp: int


@dataclass(frozen=True, slots=True)
class CosignatureVerifier:
    """A trusted witness: its name and raw 32-byte Ed25519 public key."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        _check_name(self.name)
        if len(self.public_key) != ED25519_KEY_SIZE:
            raise NoteFormatError(f"Ed25519 public key for witness {self.name} is {len(self.public_key)} bytes")

    @property
    def key_id(self) -> bytes:
        return cosigner_key_id(self.name, self.public_key)

    @property
    def vkey(self) -> str:
        return cosigner_vkey(self.name, self.public_key)

    @classmethod
    def from_vkey(cls, vkey: str) -> CosignatureVerifier:
        """Parse ``<name>+<8 hex key id>+<base64(0x04 || public key)>``; NoteFormatError if malformed."""
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise NoteFormatError("witness key must be <name>+<hex key id>+<base64 key>")
        name, hex_id, key64 = parts
        _check_name(name)
        if not _HEX8.match(hex_id):
            raise NoteFormatError(f"witness key id {hex_id!r} is not 8 hex digits")
        key = decode_base64(key64, "witness key")
        if key[:1] != ALG_COSIGNATURE_V1 or len(key) != 1 + ED25519_KEY_SIZE:
            raise NoteFormatError("witness key is not an Ed25519 cosignature/v1 key (0x04 followed by 32 bytes)")
        verifier = cls(name, key[1:])
        if verifier.key_id != bytes.fromhex(hex_id):
            raise NoteFormatError(f"witness key id {hex_id} does not match the key (computed {verifier.key_id.hex()})")
        return verifier

    def verify(self, body: bytes, signature: bytes) -> int | None:
        """The cosigning time if ``signature`` (timestamped_signature, without key id) is this witness's
        cosignature of checkpoint ``body``; None if it does not verify."""
        if len(signature) != COSIGNATURE_SIZE:
            return None
        (timestamp,) = struct.unpack(">Q", signature[:TIMESTAMP_SIZE])
        if timestamp > MAX_TIMESTAMP:
            return None
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                signature[TIMESTAMP_SIZE:], signed_message(body, timestamp))
        except (InvalidSignature, ValueError):
            return None
        return int(timestamp)


@dataclass(frozen=True, eq=False)
class Cosigner:
    """A witness's Ed25519 signing key under its name."""

    name: str
    private_key: Ed25519PrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def public_key(self) -> bytes:
        return self.private_key.public_key().public_bytes_raw()

    @property
    def key_id(self) -> bytes:
        return cosigner_key_id(self.name, self.public_key)

    @property
    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self.public_key)

    @property
    def vkey(self) -> str:
        return cosigner_vkey(self.name, self.public_key)

    def cosign(self, body: bytes, timestamp: int) -> bytes:
        """The cosignature line (``— <name> <base64>\\n``) for checkpoint ``body`` at POSIX time ``timestamp``."""
        sig = self.private_key.sign(signed_message(body, timestamp))
        raw = self.key_id + struct.pack(">Q", timestamp) + sig
        return SIG_PREFIX + f"{self.name} {encode_base64(raw)}\n".encode()

    def signer_key(self) -> str:
        """``PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x04 || seed)>``: how the witness keeps this key."""
        seed = self.private_key.private_bytes_raw()
        return f"{SIGNER_KEY_PREFIX}{self.name}+{self.key_id.hex()}+{encode_base64(ALG_COSIGNATURE_V1 + seed)}"


def generate_cosigner(name: str) -> Cosigner:
    """A fresh witness key under ``name``."""
    return Cosigner(name, Ed25519PrivateKey.generate())


def parse_cosigner_key(skey: str) -> Cosigner:
    """Parse a witness's private key (see ``Cosigner.signer_key``); NoteFormatError if malformed."""
    skey = skey.strip()
    if not skey.startswith(SIGNER_KEY_PREFIX):
        raise NoteFormatError(f"witness signer key must start with {SIGNER_KEY_PREFIX}")
    parts = skey[len(SIGNER_KEY_PREFIX):].split("+", 2)
    if len(parts) != 3:
        raise NoteFormatError("witness signer key must be PRIVATE+KEY+<name>+<hex key id>+<base64 key>")
    name, hex_id, key64 = parts
    _check_name(name)
    if not _HEX8.match(hex_id):
        raise NoteFormatError(f"witness signer key id {hex_id!r} is not 8 hex digits")
    key = decode_base64(key64, "witness signer key")
    if key[:1] != ALG_COSIGNATURE_V1 or len(key) != 1 + ED25519_KEY_SIZE:
        raise NoteFormatError("witness signer key is not an Ed25519 cosignature/v1 key (0x04 and a 32-byte seed)")
    cosigner = Cosigner(name, Ed25519PrivateKey.from_private_bytes(key[1:]))
    if cosigner.key_id != bytes.fromhex(hex_id):
        raise NoteFormatError(f"witness signer key id {hex_id} does not match the key")
    return cosigner


def cosignature_timestamp(signature: bytes) -> int:
    """The time a cosignature line's payload (key id removed) claims, without verifying it."""
    if len(signature) != COSIGNATURE_SIZE:
        raise NoteFormatError(f"a cosignature/v1 signature is {COSIGNATURE_SIZE} bytes, not {len(signature)}")
    (timestamp,) = struct.unpack(">Q", signature[:TIMESTAMP_SIZE])
    _check_timestamp(timestamp)
    return int(timestamp)


def verify_cosignatures(note: bytes, witnesses: Iterable[CosignatureVerifier]) -> list[Cosigned]:
    """The valid cosignatures on a signed checkpoint by the given witnesses, one per witness.

    Lines by other keys (the log's own among them) are ignored.  A line that names a known witness
    (name and key id) but does not verify raises BadSignature: such a note has been tampered with.
    """
    text, signatures = split_note(note)
    known = {(w.name, w.key_id): w for w in witnesses}
    found: dict[tuple[str, bytes], Cosigned] = {}
    for ref, sig in signatures:
        witness = known.get((ref.name, ref.key_id))
        if witness is None:
            continue
        timestamp = witness.verify(text, sig)
        if timestamp is None:
            raise BadSignature(ref.name, ref.key_id)
        found.setdefault((ref.name, ref.key_id), Cosigned(ref.name, ref.key_id, timestamp))
    return list(found.values())


def add_cosignatures(note: bytes, lines: Iterable[bytes]) -> bytes:
    """``note`` with cosignature lines appended after its own signature lines (each once)."""
    present = set(note.split(b"\n"))
    extra = b"".join(line for line in dict.fromkeys(lines) if line.rstrip(b"\n") not in present)
    return note + extra
