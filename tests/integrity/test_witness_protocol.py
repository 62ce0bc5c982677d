"""The tlog-witness request format and the witness's decision, status by status as the spec orders them."""

from __future__ import annotations

import pytest

from integrity import merkle
from integrity.checkpoint import Checkpoint, sign_checkpoint
from integrity.errors import NoteFormatError
from integrity.note import Signer, generate_signer, parse_signer_key
from integrity.witness_protocol import (
    AddCheckpoint,
    Latest,
    Refusal,
    check_request,
    parse_add_checkpoint,
    parse_cosignature_lines,
    parse_size_body,
)

ORIGIN = "custody.example/case/A1"
SPEC_BODY = (b"old 20852014\n"
             b"PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
             b"jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
             b"5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
             b"/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
             b"\n"
             b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
             + "\u2014 example.com/behind-the-sofa ".encode()
             + b"Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n")


def tree(n: int, salt: bytes = b"") -> merkle.MemoryTree:
    return merkle.MemoryTree(merkle.leaf_hash(salt + b"%d" % i) for i in range(n))


def note_for(signer: Signer, t: merkle.MemoryTree, size: int) -> bytes:
    return sign_checkpoint(Checkpoint(ORIGIN, size, t.root(size)), signer)


@pytest.fixture
def log() -> Signer:
    return parse_signer_key(generate_signer("custody.example")[0])


def test_the_spec_example_request_parses_and_round_trips() -> None:
    req = parse_add_checkpoint(SPEC_BODY)
    assert req.old_size == 20852014 and len(req.proof) == 4
    assert req.note.startswith(b"example.com/behind-the-sofa\n")
    assert req.encode() == SPEC_BODY


@pytest.mark.parametrize("body", [b"old 01\n\nx", b"old -1\n\nx", b"old 3\nnot base64!\n\nx", b"old 3\nx",
                                  b"new 3\n\nx", b"old 3\n" + b"AAAA\n" + b"\nx"])
def test_malformed_requests_are_refused(body: bytes) -> None:
    with pytest.raises(NoteFormatError):
        parse_add_checkpoint(body)


def test_size_and_cosignature_bodies() -> None:
    assert parse_size_body(b"20852014\n") == 20852014
    with pytest.raises(NoteFormatError):
        parse_size_body(b"012\n")
    assert len(parse_cosignature_lines("\u2014 w a\n\u2014 w b\n".encode())) == 2
    with pytest.raises(NoteFormatError):
        parse_cosignature_lines(b"hello\n")


def test_decisions_in_the_spec_order(log: Signer) -> None:
    t = tree(10)
    keys = (log.verifier,)
    first = AddCheckpoint(0, (), note_for(log, t, 5))
    assert check_request(first, keys, None).size == 5
    with pytest.raises(Refusal) as no:
        check_request(first, None, None)
    assert no.value.status == 404
    other = parse_signer_key(generate_signer("custody.example")[0])
    with pytest.raises(Refusal) as no:
        check_request(AddCheckpoint(0, (), note_for(other, t, 5)), keys, None)
    assert no.value.status == 403
    with pytest.raises(Refusal) as no:
        check_request(AddCheckpoint(6, (), note_for(log, t, 5)), keys, None)
    assert no.value.status == 400
    held = Latest(5, t.root(5))
    with pytest.raises(Refusal) as no:  # the caller is behind: 409 with the witness's size
        check_request(AddCheckpoint(0, (), note_for(log, t, 8)), keys, held)
    assert (no.value.status, no.value.size, no.value.misbehaviour) == (409, 5, False)
    good = AddCheckpoint(5, tuple(t.consistency_proof(5, 8)), note_for(log, t, 8))
    assert check_request(good, keys, held).size == 8
    assert check_request(AddCheckpoint(5, (), note_for(log, t, 5)), keys, held).size == 5  # same again


def test_a_rewritten_history_is_refused(log: Signer) -> None:
    honest, rewritten = tree(10), tree(10, salt=b"x")
    held = Latest(5, honest.root(5))
    keys = (log.verifier,)
    with pytest.raises(Refusal) as no:  # same size, other root: a split view
        check_request(AddCheckpoint(5, (), note_for(log, rewritten, 5)), keys, held)
    assert (no.value.status, no.value.misbehaviour) == (409, True)
    # a larger rewritten tree with the rewritten log's own (valid!) consistency proof still fails
    proof = tuple(rewritten.consistency_proof(5, 9))
    with pytest.raises(Refusal) as no:
        check_request(AddCheckpoint(5, proof, note_for(log, rewritten, 9)), keys, held)
    assert (no.value.status, no.value.misbehaviour) == (422, True)
