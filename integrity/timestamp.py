"""Trusted timestamps (RFC 3161) over a bureau-wide digest of case checkpoints.

Integrity contract 1.1, "Timestamps".  A timestamp round is an RFC 6962 tree (``integrity.merkle``)
whose leaf data are the signed notes of the case checkpoints of that round (the checkpoint body and
the log's signature line, exactly as the log signed it, cosignatures not included), in the order
the locker lists them.  The RFC 3161 token's message imprint is SHA-256 over the tree's 32-byte root:
``messageImprint.hashedMessage = SHA-256(root)`` with ``hashAlgorithm`` id-sha256 (the root is the
datum the authority stamps, as a file would be).  A case proves its checkpoint was in a round with
the leaf index, the tree size and the RFC 9162 inclusion path of its note.

In a bundle, one stamped checkpoint is four files under ``timestamps/``, sharing a name ``<n>``:
``<n>.tst`` (the DER TimeStampToken, as ``openssl ts -reply -token_out`` writes it), ``<n>.checkpoint``
(the leaf data), ``<n>.proof`` (``index <i>\\nsize <n>\\n`` then one base64 hash per line) and,
optionally, ``<n>.pem`` (the authority's certificate chain, if the locker knows it).

Checking the token needs ``rfc3161-client``.  It is imported only when a token is checked (the
``# Deferred:`` import below): a verifier without it still verifies the rest of a bundle, and the
report says that the timestamp was not checked.  Everything else here is pure.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from integrity import merkle
from integrity.errors import IntegrityError, NoteFormatError
from integrity.note import decode_base64, encode_base64

TOKEN_SUFFIX = ".tst"
CHECKPOINT_SUFFIX = ".checkpoint"
PROOF_SUFFIX = ".proof"
CHAIN_SUFFIX = ".pem"
SUFFIXES = (TOKEN_SUFFIX, CHECKPOINT_SUFFIX, PROOF_SUFFIX, CHAIN_SUFFIX)
#: The PKIStatusInfo of a granted answer, ``SEQUENCE { INTEGER 0 }``, to wrap a bare token for parsing.
_GRANTED = bytes.fromhex("3003020100")


class TimestampInvalid(IntegrityError):
    """A timestamp token does not verify, or does not cover what it is said to cover."""

    code = "timestamp_invalid"


# -- the digest tree ----------------------------------------------------------------------------


def digest_root(notes: Sequence[bytes]) -> bytes:
    """The root of a round's tree over the given checkpoint notes (leaf data), in order."""
    return merkle.root_from_leaf_hashes([merkle.leaf_hash(n) for n in notes])


def digest_paths(notes: Sequence[bytes]) -> list[list[bytes]]:
    """Each note's inclusion path in the round's tree."""
    tree = merkle.MemoryTree(merkle.leaf_hash(n) for n in notes)
    return [tree.inclusion_proof(i) for i in range(len(notes))]


def message_imprint(root: bytes) -> bytes:
    """The token's ``hashedMessage`` for a round root: SHA-256 of the 32 root bytes."""
    return hashlib.sha256(root).digest()


@dataclass(frozen=True, slots=True)
class DigestPath:
    """Where one checkpoint note sits in a round's tree."""

    index: int
    size: int
    path: tuple[bytes, ...]

    def encode(self) -> bytes:
        lines = [f"index {self.index}", f"size {self.size}", *(encode_base64(h) for h in self.path)]
        return ("\n".join(lines) + "\n").encode()

    @classmethod
    def decode(cls, raw: bytes) -> DigestPath:
        try:
            lines = raw.decode("ascii").split("\n")
        except UnicodeDecodeError:
            raise NoteFormatError("timestamp proof is not ASCII") from None
        if len(lines) < 3 or lines[-1] != "" or not lines[0].startswith("index ") or not lines[1].startswith("size "):
            raise NoteFormatError("timestamp proof must be 'index <i>', 'size <n>', then base64 hashes")
        try:
            index, size = int(lines[0][6:]), int(lines[1][5:])
        except ValueError:
            raise NoteFormatError("timestamp proof index and size must be decimal") from None
        path = tuple(decode_base64(line, "timestamp proof hash") for line in lines[2:-1])
        return cls(index, size, path)

    def root_for(self, note: bytes) -> bytes:
        """The round root this path implies for ``note`` (ProofError if the path does not fit)."""
        return merkle.root_from_inclusion_proof(merkle.leaf_hash(note), self.index, self.size, self.path)


# -- the token ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenCheck:
    """What checking one token found: ``checked`` only if the token's signature and chain verified."""

    checked: bool
    gen_time: dt.datetime | None
    tsa: str
    note: str  # why it was not checked, or what it was checked against


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def wrap_token(token: bytes) -> bytes:
    """A TimeStampResp (status granted) around a bare TimeStampToken, for parsers that take a response."""
    content = _GRANTED + token
    return b"\x30" + _der_length(len(content)) + content


def _certificates(pem_or_der: Sequence[bytes]) -> list[object]:
    # Deferred: cryptography's x509 is only needed when a token is checked.
    from cryptography import x509

    certs: list[object] = []
    for blob in pem_or_der:
        if b"-----BEGIN" in blob:
            certs.extend(x509.load_pem_x509_certificates(blob))
        elif blob:
            certs.append(x509.load_der_x509_certificate(blob))
    return certs


def verify_token(token: bytes, root: bytes, *, trusted: Sequence[bytes] = (), chain: bytes = b"") -> TokenCheck:
    """Check a token over a round root: signature, certificate chain up to a trusted certificate, the
    id-kp-timeStamping key usage, and the message imprint.

    ``trusted``: the TSA certificates the verifier was given (PEM or DER: the chain's anchor).  Without
    them the self-signed certificates of the bundle's ``chain`` are used, and the result says so.
    Raises TimestampInvalid if the token is bad; returns ``checked=False`` if it cannot be checked here.
    """
    try:
        # Deferred: rfc3161-client is optional for an outside verifier, who may check only the rest.
        import rfc3161_client
    except ImportError:
        return TokenCheck(False, None, "", "not checked: rfc3161-client is not installed (pip install rfc3161-client)")
    try:
        response = rfc3161_client.decode_timestamp_response(wrap_token(token))
    except ValueError as exc:
        raise TimestampInvalid(f"not a timestamp token: {exc}") from None
    bundled = _certificates([chain])
    pinned = _certificates(list(trusted))
    anchors = pinned or [c for c in bundled if _self_signed(c)]
    gen_time = response.tst_info.gen_time
    name = _signer_name(response)
    if not anchors:
        return TokenCheck(False, gen_time, name,
                          "not checked: no TSA certificate to check it against (pass --tsa-cert)")
    builder = rfc3161_client.VerifierBuilder()
    for cert in anchors:
        builder = builder.add_root_certificate(cert)  # type: ignore[arg-type]
    for cert in bundled:
        if cert not in anchors:
            builder = builder.add_intermediate_certificate(cert)  # type: ignore[arg-type]
    try:
        builder.build().verify(response, message_imprint(root))
    except (rfc3161_client.VerificationError, ValueError) as exc:
        raise TimestampInvalid(f"timestamp token by {name or 'unknown TSA'} does not verify: {exc}") from None
    source = "--tsa-cert" if pinned else "the bundle's own TSA chain (not pinned: pass --tsa-cert)"
    return TokenCheck(True, gen_time, name, f"checked against {source}")


def _self_signed(cert: object) -> bool:
    return bool(getattr(cert, "issuer", None) == getattr(cert, "subject", object()))


def _signer_name(response: object) -> str:
    # Deferred: cryptography's x509 is only needed when a token is checked.
    from cryptography import x509

    signed = getattr(response, "signed_data", None)
    infos = list(getattr(signed, "signer_infos", ()) or ())
    for der in getattr(signed, "certificates", ()) or ():
        cert = x509.load_der_x509_certificate(der)
        if any(cert.serial_number == si.serial_number and cert.issuer == si.issuer for si in infos):
            return cert.subject.rfc4514_string()
    return ""


def token_time(token: bytes) -> dt.datetime:
    """The time a token states (``genTime``), unverified; needs rfc3161-client."""
    # Deferred: rfc3161-client is optional for an outside verifier.
    import rfc3161_client

    stamp: dt.datetime = rfc3161_client.decode_timestamp_response(wrap_token(token)).tst_info.gen_time
    return stamp
