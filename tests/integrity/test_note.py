"""C2SP signed notes (Ed25519, Go sumdb/note compatible) and tlog-checkpoints."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from integrity.checkpoint import (
    Checkpoint,
    open_checkpoint,
    parse_checkpoint_body,
    sign_checkpoint,
)
from integrity.errors import BadSignature, NoteFormatError, OriginMismatch, UnknownKey
from integrity.merkle import EMPTY_ROOT
from integrity.note import (
    Signer,
    Verifier,
    generate_signer,
    key_id,
    open_note,
    parse_signer_key,
    parse_vkey,
    sign_note,
    signer_key_string,
    vkey_string,
)
from tests.conftest import VECTORS

EM_DASH = "\u2014"


def load_vector() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / "signed-note.json").read_text())
    return data


VECTOR = load_vector()
NOTE = VECTOR["note"].encode()
TEXT = VECTOR["text"]
VERIFIER = parse_vkey(VECTOR["vkey"])


def fresh_signer(name: str = "custody.example/log-key") -> Signer:
    return parse_signer_key(generate_signer(name)[0])


def resign_line(note: bytes, mutate: Any) -> bytes:
    """Replace the note's (single) signature payload with ``mutate(raw)``."""
    head, _, last = note[:-1].rpartition(b"\n")
    prefix, _, b64 = last.rpartition(b" ")
    raw = mutate(base64.b64decode(b64))
    return head + b"\n" + prefix + b" " + base64.b64encode(raw) + b"\n"


# --- known answers (Go's sumdb/note ExampleSign / ExampleOpen) ---

def test_signing_the_vector_text_reproduces_the_vector_note() -> None:
    signer = parse_signer_key(VECTOR["signer_key"])
    assert signer.name == "PeterNeumann"
    assert signer.key_id.hex() == VECTOR["key_id_hex"]
    assert signer.vkey == VECTOR["vkey"]
    assert signer.sign(TEXT) == NOTE
    assert signer.sign(TEXT.encode()) == NOTE
    assert signer_key_string(signer.name, signer.private_key) == VECTOR["signer_key"]


def test_opening_the_vector_note() -> None:
    text, signatures = open_note(NOTE, [VERIFIER])
    assert text == TEXT
    assert [(s.name, s.key_id.hex()) for s in signatures] == [("PeterNeumann", VECTOR["key_id_hex"])]


def test_vkey_round_trip_and_key_id_formula() -> None:
    assert VERIFIER.name == "PeterNeumann"
    assert VERIFIER.vkey == VECTOR["vkey"]
    expected_id = hashlib.sha256(b"PeterNeumann\n\x01" + VERIFIER.public_key).digest()[:4]
    assert VERIFIER.key_id == expected_id == key_id("PeterNeumann", VERIFIER.public_key)
    assert parse_vkey(VECTOR["vkey"] + "\n") == VERIFIER  # a .vkey file's trailing newline is fine


def test_generated_keys_round_trip() -> None:
    skey, vkey = generate_signer("custody.example/log-key")
    signer = parse_signer_key(skey)
    verifier = parse_vkey(vkey)
    assert signer.verifier == verifier
    assert vkey_string(signer.name, signer.private_key.public_key()) == vkey
    note = signer.sign("hello\nworld\n")
    assert open_note(note, [verifier]) == ("hello\nworld\n", [(verifier.name, verifier.key_id)])


# --- rejection, each with its own exception ---

def test_wrong_key_with_the_same_name_is_unknown() -> None:
    other = fresh_signer("PeterNeumann").verifier
    with pytest.raises(UnknownKey, match="PeterNeumann") as info:
        open_note(NOTE, [other])
    assert info.value.present == [("PeterNeumann", VERIFIER.key_id)]


def test_unknown_key_name_is_unknown() -> None:
    with pytest.raises(UnknownKey):
        open_note(NOTE, [fresh_signer("someone.else").verifier])
    with pytest.raises(UnknownKey):
        open_note(NOTE, [])


def test_altered_body_is_a_bad_signature() -> None:
    altered = NOTE.replace(b"cryptography", b"cryptographY")
    with pytest.raises(BadSignature, match="PeterNeumann") as info:
        open_note(altered, [VERIFIER])
    assert info.value.key_id == VERIFIER.key_id


def test_altered_signature_is_a_bad_signature() -> None:
    for position in (4, 30, 67):  # first, middle and last signature byte (after the key id)
        def flip(raw: bytes, at: int = position) -> bytes:
            return raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1:]

        with pytest.raises(BadSignature):
            open_note(resign_line(NOTE, flip), [VERIFIER])


def test_altered_key_id_is_unknown() -> None:
    with pytest.raises(UnknownKey):
        open_note(resign_line(NOTE, lambda raw: bytes([raw[0] ^ 0x01]) + raw[1:]), [VERIFIER])


def test_extra_newline_is_malformed() -> None:
    with pytest.raises(NoteFormatError, match="no signature lines"):
        open_note(NOTE + b"\n", [VERIFIER])


def test_missing_final_newline_is_malformed() -> None:
    with pytest.raises(NoteFormatError, match="newline"):
        open_note(NOTE[:-1], [VERIFIER])


def test_missing_blank_line_is_malformed() -> None:
    with pytest.raises(NoteFormatError, match="no blank line"):
        open_note(NOTE.replace(b"\n\n", b"\n"), [VERIFIER])


@pytest.mark.parametrize(
    ("note", "reason"),
    [
        (NOTE.replace(EM_DASH.encode(), b"-"), "em dash"),
        (NOTE.replace(b"PeterNeumann ", b"PeterNeumann"), "base64"),  # name and signature run together
        (NOTE.replace(b"PeterNeumann ", b"PeterNeumann  "), "base64"),
        (NOTE.replace(b"nAM=", b"nAM"), "base64"),
        (NOTE.replace(b"nAM=", b"nAN="), "canonical base64"),  # non-zero trailing bits
        (NOTE.replace(b"your", b"y\tour", 1), "control character"),
        (NOTE.replace(b"your", b"y\rour", 1), "control character"),
        (NOTE.replace(b"your", b"y\xffour", 1), "UTF-8"),
        (NOTE + (EM_DASH + " PeterNeumann\n").encode(), "signature line"),
        (NOTE + (EM_DASH + " Peter+Neumann AAAAAAA=\n").encode(), "key name"),
        (NOTE + (EM_DASH + " other AAAAAA==\n").encode(), "too short"),
        (NOTE + b"\n" + (EM_DASH + " x AAAAAAA=\n").encode() * 101, "more than 100"),
    ],
)
def test_malformed_notes(note: bytes, reason: str) -> None:
    with pytest.raises(NoteFormatError, match=reason):
        open_note(note, [VERIFIER])


def test_known_key_with_wrong_signature_length_is_malformed() -> None:
    with pytest.raises(NoteFormatError, match="64"):
        open_note(resign_line(NOTE, lambda raw: raw[:-1]), [VERIFIER])


# --- several signatures ---

def test_unknown_signatures_are_ignored_when_a_known_one_verifies() -> None:
    log_key, witness = fresh_signer("log"), fresh_signer("witness.example")
    note = sign_note("tree head\n", [witness, log_key])
    text, signatures = open_note(note, [log_key.verifier])
    assert text == "tree head\n"
    assert [s.name for s in signatures] == ["log"]
    both = open_note(note, [log_key.verifier, witness.verifier])[1]
    assert [s.name for s in both] == ["witness.example", "log"]


def test_one_bad_known_signature_rejects_the_note() -> None:
    good, other = fresh_signer("log"), fresh_signer("log2")
    note = good.sign("body\n")
    forged = note + (EM_DASH + " log2 ").encode() + base64.b64encode(other.key_id + bytes(64)) + b"\n"
    assert open_note(forged, [good.verifier])[0] == "body\n"  # log2 unknown: ignored
    with pytest.raises(BadSignature, match="log2"):
        open_note(forged, [good.verifier, other.verifier])


def test_duplicate_signature_lines_count_once() -> None:
    signer = fresh_signer()
    note = signer.sign("x\n")
    doubled = note + note[note.index(EM_DASH.encode()):]
    assert len(open_note(doubled, [signer.verifier])[1]) == 1


def test_text_may_contain_blank_lines() -> None:
    signer = fresh_signer()
    note = signer.sign("a\n\nb\n")
    assert open_note(note, [signer.verifier])[0] == "a\n\nb\n"


# --- signing refuses what could not be opened ---

@pytest.mark.parametrize("text", ["no final newline", "tab\there\n", "nul\x00\n", ""])
def test_sign_refuses_bad_text(text: str) -> None:
    with pytest.raises(NoteFormatError):
        fresh_signer().sign(text)


def test_sign_refuses_duplicate_or_no_signers() -> None:
    signer = fresh_signer()
    with pytest.raises(ValueError, match="duplicate"):
        sign_note("x\n", [signer, signer])
    with pytest.raises(ValueError, match="at least one"):
        sign_note("x\n", [])


# --- key strings ---

@pytest.mark.parametrize(
    ("vkey", "reason"),
    [
        ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"),
        ("PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 hex"),
        ("PeterNeumann+c74f20a3", "name>"),
        ("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "key name"),
        ("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "key name"),
        ("PeterNeumann+c74f20a3+AhpcwQcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "Ed25519"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10", "base64"),
        (f"PeterNeumann+c74f20a3+{base64.b64encode(bytes(32)).decode()}", "Ed25519"),  # 32 bytes, alg 0
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T!", "base64"),
    ],
)
def test_bad_vkeys(vkey: str, reason: str) -> None:
    with pytest.raises(NoteFormatError, match=reason):
        parse_vkey(vkey)


def test_uppercase_key_id_is_accepted_like_go() -> None:
    assert parse_vkey(VECTOR["vkey"].replace("c74f20a3", "C74F20A3")) == VERIFIER


@pytest.mark.parametrize(
    ("skey", "reason"),
    [
        (VECTOR["signer_key"].replace("c74f20a3", "c74f20a4"), "does not match"),
        (VECTOR["signer_key"].replace("PRIVATE+KEY+", "PRIVATE+"), "PRIVATE"),
        (VECTOR["vkey"], "PRIVATE"),
        (VECTOR["signer_key"].replace("+AYEK", "+AoEK"), "Ed25519"),
    ],
)
def test_bad_signer_keys(skey: str, reason: str) -> None:
    with pytest.raises(NoteFormatError, match=reason):
        parse_signer_key(skey)


def test_signer_repr_does_not_show_the_key() -> None:
    signer = parse_signer_key(VECTOR["signer_key"])
    assert "AYEK" not in repr(signer) and "private" not in repr(signer).lower()


def test_verifier_rejects_bad_names_and_lengths() -> None:
    with pytest.raises(NoteFormatError):
        Verifier("a+b", bytes(32))
    with pytest.raises(NoteFormatError):
        Verifier("ok", bytes(31))
    with pytest.raises(NoteFormatError):
        Signer("", Ed25519PrivateKey.generate())


# --- checkpoints ---

ROOT = hashlib.sha256(b"some root").digest()
ORIGIN = "custody.example/case/2024-0042"


def test_checkpoint_body_format() -> None:
    body = Checkpoint(ORIGIN, 17, ROOT).body()
    assert body == f"{ORIGIN}\n17\n{base64.b64encode(ROOT).decode()}\n"
    assert parse_checkpoint_body(body) == Checkpoint(ORIGIN, 17, ROOT)
    empty_root_b64 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    assert Checkpoint(ORIGIN, 0, EMPTY_ROOT).body() == f"{ORIGIN}\n0\n{empty_root_b64}\n"


def test_checkpoint_sign_and_open() -> None:
    signer = fresh_signer("custody.example")
    note = sign_checkpoint(Checkpoint(ORIGIN, 17, ROOT), signer)
    assert note.startswith(Checkpoint(ORIGIN, 17, ROOT).body().encode() + b"\n" + EM_DASH.encode())
    checkpoint, names = open_checkpoint(note, [signer.verifier], expected_origin=ORIGIN)
    assert checkpoint == Checkpoint(ORIGIN, 17, ROOT)
    assert names == ["custody.example"]
    with pytest.raises(OriginMismatch, match="2024-0043"):
        open_checkpoint(note, [signer.verifier], expected_origin="custody.example/case/2024-0043")
    with pytest.raises(UnknownKey):
        open_checkpoint(note, [fresh_signer("custody.example").verifier])


def test_checkpoint_cosigned_during_key_rotation() -> None:
    old, new = fresh_signer("custody.example"), fresh_signer("custody.example")
    note = sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT), old, new)
    assert open_checkpoint(note, [old.verifier])[1] == ["custody.example"]
    assert open_checkpoint(note, [new.verifier])[1] == ["custody.example"]


def test_checkpoint_extension_lines_are_accepted_and_ignored() -> None:
    body = Checkpoint(ORIGIN, 5, ROOT).body()
    assert parse_checkpoint_body(body + "ext one\next two\n") == Checkpoint(ORIGIN, 5, ROOT)


B64_ROOT = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (f"{ORIGIN}\n5\n{B64_ROOT}", "end with a newline"),
        (f"{ORIGIN}\n5\n", "needs origin"),
        (f"{ORIGIN}\n5\n{B64_ROOT}\n\next\n", "empty line"),
        (f"\n5\n{B64_ROOT}\n", "empty line"),
        (f"custody.example/case/a b\n5\n{B64_ROOT}\n", "space"),
        (f"custody.example/case/a+b\n5\n{B64_ROOT}\n", "'\\+'"),
        (f"{ORIGIN}\n05\n{B64_ROOT}\n", "leading zeros"),
        (f"{ORIGIN}\n+5\n{B64_ROOT}\n", "decimal"),
        (f"{ORIGIN}\n-0\n{B64_ROOT}\n", "decimal"),
        (f"{ORIGIN}\n 5\n{B64_ROOT}\n", "decimal"),
        (f"{ORIGIN}\n\u0665\n{B64_ROOT}\n", "decimal"),  # ARABIC-INDIC DIGIT FIVE: int() would take it
        (f"{ORIGIN}\n18446744073709551616\n{B64_ROOT}\n", "2\\*\\*64"),
        (f"{ORIGIN}\n{'9' * 5000}\n{B64_ROOT}\n", "decimal"),
        (f"{ORIGIN}\n5\n{base64.b64encode(ROOT[:31]).decode()}\n", "31 bytes"),
        (f"{ORIGIN}\n5\n{B64_ROOT.rstrip('=')}\n", "base64"),
        (f"{ORIGIN}\n5\n{ROOT.hex()}\n", "48 bytes"),  # hex happens to be valid base64
    ],
)
def test_malformed_checkpoint_bodies(body: str, reason: str) -> None:
    with pytest.raises(NoteFormatError, match=reason):
        parse_checkpoint_body(body)


def test_checkpoint_refuses_bad_fields() -> None:
    with pytest.raises(NoteFormatError):
        Checkpoint("", 1, ROOT)
    with pytest.raises(NoteFormatError):
        Checkpoint(ORIGIN, -1, ROOT)
    with pytest.raises(NoteFormatError):
        Checkpoint(ORIGIN, True, ROOT)
    with pytest.raises(NoteFormatError):
        Checkpoint(ORIGIN, 1, ROOT + b"\x00")

