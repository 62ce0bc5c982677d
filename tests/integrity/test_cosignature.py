"""Witness cosignatures (C2SP tlog-cosignature, Ed25519) against an independent reading of the spec.

``independent_*`` below is a second implementation written from the C2SP text alone, sharing no code
with ``integrity/cosignature.py``: it assembles the signed message by hand and parses a line byte by
byte.  Both must agree with each other and with the vectors in ``tests/vectors/``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from integrity.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from integrity.cosignature import (
    CosignatureVerifier,
    Cosigner,
    add_cosignatures,
    cosignature_timestamp,
    generate_cosigner,
    parse_cosigner_key,
    signed_message,
    verify_cosignatures,
)
from integrity.errors import BadSignature, NoteFormatError
from integrity.note import generate_signer, parse_signer_key
from tests.conftest import VECTORS

EM_DASH = "\u2014"
OUTSIDE: dict[str, Any] = json.loads((VECTORS / "cosignature.json").read_text())
FIXED: dict[str, Any] = json.loads((VECTORS / "cosignature-fixed.json").read_text())


# -- the independent implementation, from the C2SP text ------------------------------------------


def independent_message(body: bytes, timestamp: int) -> bytes:
    # "two newline (U+000A) terminated lines (one header line and one timestamp line) followed by the
    # whole note body of the cosigned checkpoint (including the final newline ...)"
    return b"cosignature/v1" + b"\x0a" + b"time" + b"\x20" + b"%d" % timestamp + b"\x0a" + body


def independent_key_id(name: str, public_key: bytes) -> bytes:
    # "SHA-256(<name> || "\n" || 0x04 || 32-byte Ed25519 cosigner public key)[:4]"
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([4]) + public_key).digest()[0:4]


def independent_parse(line: str) -> tuple[str, bytes, int, bytes]:
    """(name, key id, timestamp, signature) of '— <name> base64(key id || u64 timestamp || sig)'."""
    assert line.startswith(EM_DASH + " ") and line.endswith("\n")
    name, b64 = line[2:-1].split(" ")
    raw = base64.b64decode(b64, validate=True)
    assert len(raw) == 4 + 8 + 64
    return name, raw[:4], int.from_bytes(raw[4:12], "big"), raw[12:]


def independent_verify(line: str, body: bytes, name: str, public_key: bytes) -> int:
    got_name, key_id, timestamp, sig = independent_parse(line)
    assert got_name == name and key_id == independent_key_id(name, public_key)
    Ed25519PublicKey.from_public_bytes(public_key).verify(sig, independent_message(body, timestamp))
    return timestamp


# -- agreement with the spec and the vectors --------------------------------------------------------


def test_signed_message_is_the_spec_example() -> None:
    body = b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    assert signed_message(body, OUTSIDE["spec_example_time"]) == OUTSIDE["spec_example_message"].encode()
    assert independent_message(body, OUTSIDE["spec_example_time"]) == OUTSIDE["spec_example_message"].encode()


def test_spec_example_line_carries_the_example_time() -> None:
    # The C2SP example cosignature's timestamp is the time line of the C2SP example message.
    line = OUTSIDE["spec_example_note"].splitlines()[-1]
    raw = base64.b64decode(line.split(" ")[2])
    assert cosignature_timestamp(raw[4:]) == OUTSIDE["spec_example_time"]
    assert independent_parse(line + "\n")[2] == OUTSIDE["spec_example_time"]


def test_transparency_dev_vectors() -> None:
    verifier = CosignatureVerifier.from_vkey(OUTSIDE["native_vkey"])  # key id 0xda77ade7 with type 0x04
    assert verifier.key_id.hex() == "da77ade7"
    assert independent_key_id(verifier.name, verifier.public_key).hex() == "da77ade7"
    raw = base64.b64decode(OUTSIDE["cosignature_b64"])
    assert cosignature_timestamp(raw[4:]) == OUTSIDE["cosignature_time"]
    with pytest.raises(NoteFormatError):  # an ordinary Ed25519 note signature is no cosignature
        cosignature_timestamp(base64.b64decode(OUTSIDE["not_a_cosignature_b64"])[4:])
    for line in OUTSIDE["witness_response_lines"]:
        assert len(base64.b64decode(line.split(" ")[2])) == 4 + 8 + 64


def test_fixed_vector_both_ways() -> None:
    cosigner = Cosigner(FIXED["name"], Ed25519PrivateKey.from_private_bytes(bytes.fromhex(FIXED["seed_hex"])))
    assert cosigner.vkey == FIXED["vkey"]
    body = FIXED["body"].encode()
    assert signed_message(body, FIXED["time"]) == FIXED["message"].encode()
    assert cosigner.cosign(body, FIXED["time"]).decode() == FIXED["line"]  # Ed25519 is deterministic
    assert independent_verify(FIXED["line"], body, cosigner.name, cosigner.public_key) == FIXED["time"]
    note = body + b"\n" + FIXED["line"].encode()
    [found] = verify_cosignatures(note, [CosignatureVerifier.from_vkey(FIXED["vkey"])])
    assert (found.name, found.timestamp) == (FIXED["name"], FIXED["time"])


def test_lines_we_make_verify_independently_and_theirs_with_ours() -> None:
    cosigner = generate_cosigner("witness.court.example/w1")
    body = Checkpoint("custody.example/case/2026-XZ-0042", 17, bytes(range(32))).body().encode()
    line = cosigner.cosign(body, 1_790_000_000).decode()
    assert independent_verify(line, body, cosigner.name, cosigner.public_key) == 1_790_000_000
    # and a line made by hand (the independent way) verifies with ours
    key = Ed25519PrivateKey.generate()
    pub = key.public_key().public_bytes_raw()
    sig = key.sign(independent_message(body, 42))
    hand = f"{EM_DASH} w2 {base64.b64encode(independent_key_id('w2', pub) + struct.pack('>Q', 42) + sig).decode()}\n"
    [found] = verify_cosignatures(body + b"\n" + hand.encode(), [CosignatureVerifier("w2", pub)])
    assert found.timestamp == 42


def test_cosigned_checkpoint_still_opens_with_the_log_key_and_cosignatures_bind_the_body() -> None:
    log = parse_signer_key(generate_signer("custody.example")[0])
    witness = generate_cosigner("witness.example/w1")
    cp = Checkpoint("custody.example/case/A1", 3, bytes(32))
    note = sign_checkpoint(cp, log)
    cosigned = add_cosignatures(note, [witness.cosign(cp.body().encode(), 100)])
    assert open_checkpoint(cosigned, [log.verifier])[0] == cp  # the log's verifier ignores the witness line
    assert verify_cosignatures(cosigned, [witness.verifier])[0].timestamp == 100
    assert verify_cosignatures(cosigned, [generate_cosigner("other/w").verifier]) == []  # unknown: ignored
    forged = cosigned.replace(b"\n3\n", b"\n4\n", 1)
    with pytest.raises(BadSignature):
        verify_cosignatures(forged, [witness.verifier])
    with pytest.raises(InvalidSignature):  # the independent reading agrees: the line binds the size
        independent_verify(cosigned.decode().splitlines(keepends=True)[-1], forged.split(b"\n\n")[0] + b"\n",
                           witness.name, witness.public_key)


def test_witness_keys_are_type_04_and_not_log_keys() -> None:
    witness = generate_cosigner("witness.example/w1")
    assert parse_cosigner_key(witness.signer_key()).vkey == witness.vkey
    assert base64.b64decode(witness.vkey.split("+", 2)[2])[0] == 4
    with pytest.raises(NoteFormatError):  # a log (type 0x01) key is not a witness key
        CosignatureVerifier.from_vkey(generate_signer("custody.example")[1])
    # the same key under type 0x01 and 0x04 has different ids, so the two can never be confused
    log_style = parse_signer_key(generate_signer("w")[0])
    as_witness = Cosigner("w", log_style.private_key)
    assert as_witness.key_id != log_style.key_id


def test_timestamp_limits() -> None:
    with pytest.raises(NoteFormatError):
        signed_message(b"x\n", 2**63)
    with pytest.raises(NoteFormatError):
        signed_message(b"x\n", -1)
    assert signed_message(b"x\n", 0) == b"cosignature/v1\ntime 0\nx\n"
