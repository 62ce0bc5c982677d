"""C2SP signed notes (c2sp.org/signed-note) with Ed25519, byte-compatible with Go's sumdb/note.

Integrity contract v1, "Checkpoint": a note is its text (valid UTF-8, no ASCII control character but
newline, ending in a newline), a blank line, then one line per signature::

    — <key name> <base64(4-byte key id || 64-byte Ed25519 signature over the text)>

with an em dash (U+2014) and a space in front.  The key id is the first 4 bytes of
``SHA-256(key name || 0x0A || 0x01 || public key)``; verifier keys are written
``<name>+<8 hex key id>+<base64(0x01 || public key)>`` and signer keys, as Go writes them,
``PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || 32-byte seed)>``.

Opening a note follows the spec's rules: signatures by unknown keys are ignored; a signature by a
known key (name *and* id match) must verify or the whole note is rejected; at least one known key
must have signed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from integrity.errors import BadSignature, NoteFormatError, UnknownKey

#: Signature type identifier byte for Ed25519 (c2sp.org/signed-note, "Signature types").
ALG_ED25519 = b"\x01"
#: Every signature line starts with an em dash and a space.
SIG_PREFIX = "\u2014 ".encode()
#: The text ends at the last blank line: its own final newline plus the empty separator line.
SIG_SPLIT = b"\n\n"
SIGNER_KEY_PREFIX = "PRIVATE+KEY+"
KEY_ID_SIZE = 4  # bytes
ED25519_KEY_SIZE = 32  # bytes, public key and seed alike
ED25519_SIG_SIZE = 64  # bytes
#: Go's sumdb/note limit; the spec asks verifiers to accept at least 16.
MAX_SIGNATURES = 100

_HEX8 = re.compile(r"[0-9a-fA-F]{8}\Z")  # Go's ParseUint accepts either case
# Note text and names: no ASCII controls except newline (names: not even that).
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


class NoteSignature(NamedTuple):
    """A signature line's key name and 4-byte key id."""

    name: str
    key_id: bytes


def _check_name(name: str) -> None:
    # Go's isValidName: non-empty, no Unicode space, no '+'.  Controls are refused as well,
    # because a name goes into note lines, where they are not allowed.
    if not name or "+" in name or any(c.isspace() or c < " " for c in name):
        raise NoteFormatError(f"invalid key name {name!r}: it must be non-empty, without spaces or '+'")


def key_id(name: str, public_key: bytes) -> bytes:
    """Key id of an Ed25519 key: SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + ALG_ED25519 + public_key).digest()[:KEY_ID_SIZE]


def decode_base64(text: str, what: str) -> bytes:
    """Strict standard base64 (RFC 4648 §4) as note lines and keys use it; NoteFormatError names ``what``."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise NoteFormatError(f"{what} is not valid base64") from None
    # One spelling per value: padding and trailing bits must be exactly as an encoder writes them.
    if base64.b64encode(raw).decode("ascii") != text:
        raise NoteFormatError(f"{what} is not canonical base64")
    return raw


def encode_base64(raw: bytes) -> str:
    """Standard base64 with padding, as text."""
    return base64.b64encode(raw).decode("ascii")


def _public_bytes(public_key: bytes | Ed25519PublicKey) -> bytes:
    if isinstance(public_key, Ed25519PublicKey):
        return public_key.public_bytes_raw()
    return bytes(public_key)


@dataclass(frozen=True, slots=True)
class Verifier:
    """A trusted Ed25519 verifier key: its name and raw 32-byte public key."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        _check_name(self.name)
        if len(self.public_key) != ED25519_KEY_SIZE:
            raise NoteFormatError(f"Ed25519 public key for {self.name} is {len(self.public_key)} bytes, "
                                  f"expected {ED25519_KEY_SIZE}")

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    @property
    def vkey(self) -> str:
        return vkey_string(self.name, self.public_key)

    @classmethod
    def from_vkey(cls, vkey: str) -> Verifier:
        """Parse ``<name>+<8 hex key id>+<base64(0x01 || public key)>``; NoteFormatError if malformed."""
        parts = vkey.strip().split("+", 2)  # base64 may itself contain '+'
        if len(parts) != 3:
            raise NoteFormatError("verifier key must be <name>+<hex key id>+<base64 key>")
        name, hex_id, key64 = parts
        _check_name(name)
        if not _HEX8.match(hex_id):
            raise NoteFormatError(f"verifier key id {hex_id!r} is not 8 hex digits")
        key = decode_base64(key64, "verifier key")
        if key[:1] != ALG_ED25519 or len(key) != 1 + ED25519_KEY_SIZE:
            raise NoteFormatError("verifier key is not an Ed25519 key (0x01 followed by 32 bytes)")
        verifier = cls(name, key[1:])
        if verifier.key_id != bytes.fromhex(hex_id):
            raise NoteFormatError(f"verifier key id {hex_id} does not match the key "
                                  f"(computed {verifier.key_id.hex()})")
        return verifier

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (64 bytes, without key id) is this key's Ed25519 signature of ``text``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, text)
        except (InvalidSignature, ValueError):
            return False
        return True


def parse_vkey(vkey: str) -> Verifier:
    """Parse a verifier key string (see ``Verifier.from_vkey``)."""
    return Verifier.from_vkey(vkey)


def vkey_string(name: str, public_key: bytes | Ed25519PublicKey) -> str:
    """``<name>+<8 hex key id>+<base64(0x01 || public key)>``."""
    _check_name(name)
    raw = _public_bytes(public_key)
    return f"{name}+{key_id(name, raw).hex()}+{encode_base64(ALG_ED25519 + raw)}"


@dataclass(frozen=True, eq=False)
class Signer:
    """An Ed25519 signing key under a key name."""

    name: str
    private_key: Ed25519PrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def public_key(self) -> bytes:
        return self.private_key.public_key().public_bytes_raw()

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.name, self.public_key)

    @property
    def vkey(self) -> str:
        return vkey_string(self.name, self.public_key)

    def sign(self, text: str | bytes) -> bytes:
        """The signed note of ``text`` carrying this key's signature."""
        return sign_note(text, [self])

    def signature_line(self, text: bytes) -> bytes:
        sig = self.private_key.sign(text)
        return SIG_PREFIX + f"{self.name} {encode_base64(self.key_id + sig)}\n".encode()


def signer_key_string(name: str, private_key: Ed25519PrivateKey) -> str:
    """Go's signer key form ``PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || seed)>``."""
    _check_name(name)
    seed = private_key.private_bytes_raw()
    public = private_key.public_key().public_bytes_raw()
    return f"{SIGNER_KEY_PREFIX}{name}+{key_id(name, public).hex()}+{encode_base64(ALG_ED25519 + seed)}"


def parse_signer_key(skey: str) -> Signer:
    """Parse Go's signer key form; NoteFormatError if malformed or the key id does not match."""
    skey = skey.strip()
    if not skey.startswith(SIGNER_KEY_PREFIX):
        raise NoteFormatError(f"signer key must start with {SIGNER_KEY_PREFIX}")
    parts = skey[len(SIGNER_KEY_PREFIX):].split("+", 2)
    if len(parts) != 3:
        raise NoteFormatError("signer key must be PRIVATE+KEY+<name>+<hex key id>+<base64 key>")
    name, hex_id, key64 = parts
    _check_name(name)
    if not _HEX8.match(hex_id):
        raise NoteFormatError(f"signer key id {hex_id!r} is not 8 hex digits")
    key = decode_base64(key64, "signer key")
    if key[:1] != ALG_ED25519 or len(key) != 1 + ED25519_KEY_SIZE:
        raise NoteFormatError("signer key is not an Ed25519 key (0x01 followed by a 32-byte seed)")
    signer = Signer(name, Ed25519PrivateKey.from_private_bytes(key[1:]))
    if signer.key_id != bytes.fromhex(hex_id):
        raise NoteFormatError(f"signer key id {hex_id} does not match the key "
                              f"(computed {signer.key_id.hex()})")
    return signer


def generate_signer(name: str) -> tuple[str, str]:
    """A fresh Ed25519 key under ``name``: (signer key string, verifier key string)."""
    private_key = Ed25519PrivateKey.generate()
    return signer_key_string(name, private_key), vkey_string(name, private_key.public_key())


def _check_text(text: bytes, what: str) -> str:
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NoteFormatError(f"{what} is not valid UTF-8 (byte {exc.start})") from None
    control = _CONTROL.search(decoded)
    if control:
        raise NoteFormatError(f"{what} contains control character U+{ord(control.group()):04X}")
    return decoded


def sign_note(text: str | bytes, signers: Sequence[Signer]) -> bytes:
    """Sign ``text`` with each signer, in order (several for key rotation or cosigning)."""
    body = text.encode() if isinstance(text, str) else bytes(text)
    _check_text(body, "note text")
    if not body.endswith(b"\n"):
        raise NoteFormatError("note text must end with a newline")
    if not signers:
        raise ValueError("a note needs at least one signer")
    seen = {(s.name, s.key_id) for s in signers}
    if len(seen) != len(signers):
        raise ValueError("duplicate signer")
    return body + b"\n" + b"".join(s.signature_line(body) for s in signers)


def _parse_signature_line(line: bytes) -> tuple[NoteSignature, bytes]:
    if not line.startswith(SIG_PREFIX):
        raise NoteFormatError("signature line does not start with an em dash and a space")
    name, space, b64 = line[len(SIG_PREFIX):].decode("utf-8").partition(" ")
    if not space or not b64:
        raise NoteFormatError("signature line must be '— <key name> <base64 signature>'")
    _check_name(name)
    raw = decode_base64(b64, f"signature by {name}")
    if len(raw) <= KEY_ID_SIZE:
        raise NoteFormatError(f"signature by {name} is too short ({len(raw)} bytes)")
    return NoteSignature(name, raw[:KEY_ID_SIZE]), raw[KEY_ID_SIZE:]


def split_note(note: bytes) -> tuple[bytes, list[tuple[NoteSignature, bytes]]]:
    """A note's text (ending in its newline) and its signature lines as (key name and id, signature).

    Checks the form only, never a signature: NoteFormatError if the note is malformed.  The
    signature bytes are what follows the 4-byte key id, whatever its type (Ed25519 or a cosignature).
    """
    _check_text(note, "note")
    split = note.rfind(SIG_SPLIT)
    if split < 0:
        raise NoteFormatError("note has no blank line between its text and its signatures")
    text, sig_block = note[: split + 1], note[split + 2 :]
    if not sig_block:
        raise NoteFormatError("note has no signature lines after its blank line")
    if not sig_block.endswith(b"\n"):
        raise NoteFormatError("note does not end with a newline")
    lines = sig_block[:-1].split(b"\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteFormatError(f"note has more than {MAX_SIGNATURES} signatures")
    return text, [_parse_signature_line(line) for line in lines]


def open_note(note: bytes, verifiers: Iterable[Verifier]) -> tuple[str, list[NoteSignature]]:
    """Verify a signed note against trusted keys; return its text and the keys that signed it.

    Raises NoteFormatError if the note is malformed, BadSignature if a signature by a trusted key
    (matching name and key id) does not verify, UnknownKey if no trusted key signed it.
    Signatures by other keys are ignored, as the spec requires.
    """
    text, signatures = split_note(note)
    known = {(v.name, v.key_id): v for v in verifiers}
    verified: list[NoteSignature] = []
    unknown: list[NoteSignature] = []
    for ref, sig in signatures:
        verifier = known.get(ref)
        if verifier is None:
            if ref not in unknown:
                unknown.append(ref)
            continue
        if ref in verified:  # a repeated line by one key counts once, as in Go
            continue
        if len(sig) != ED25519_SIG_SIZE:
            raise NoteFormatError(f"signature by {ref.name} is {len(sig)} bytes, "
                                  f"Ed25519 needs {ED25519_SIG_SIZE}")
        if not verifier.verify(text, sig):
            raise BadSignature(ref.name, ref.key_id)
        verified.append(ref)
    if not verified:
        raise UnknownKey([(ref.name, ref.key_id) for ref in unknown])
    return text.decode("utf-8"), verified
