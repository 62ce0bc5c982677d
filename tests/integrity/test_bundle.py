"""Bundle verification over a source handed in: no file is opened, every contract rule still holds.

(Zip and directory bundles exported by a real server are tested in tests/storage/test_locker.py.)
"""

from __future__ import annotations

import datetime as dt
import io
from typing import IO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from integrity import merkle
from integrity.bundle import verify_source, vkey_file_name
from integrity.checkpoint import Checkpoint, sign_checkpoint
from integrity.entry import build_entry, case_origin
from integrity.hashing import digest_bytes
from integrity.note import Signer

SIGNER = Signer("evidence.test", Ed25519PrivateKey.generate())
T0 = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
MEDIA = b"frame " * 1000


class MemorySource:
    """A bundle held in memory: name -> bytes."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    def names(self) -> list[str]:
        return sorted(self.files)

    def open(self, name: str) -> IO[bytes]:
        if name not in self.files:
            raise FileNotFoundError(f"bundle has no {name}")
        return io.BytesIO(self.files[name])


def bundle(origin: str | None = None, case_id: str = "C-1", media: tuple[bytes, ...] = (MEDIA,)) -> dict[str, bytes]:
    digests = [digest_bytes(m) for m in media]
    drafts = [("case.opened", {"title": "t"}),
              *(("evidence.ingested", {"blake3": d.blake3, "sha256": d.sha256, "size": d.size}) for d in digests)]
    bodies: list[bytes] = []
    prev: bytes | None = None
    for seq, (kind, fields) in enumerate(drafts):
        bodies.append(build_entry(case_id=case_id, seq=seq, prev=prev, time=T0, actor="officer:1", kind=kind,
                                  fields=fields))
        prev = merkle.leaf_hash(bodies[-1])
    root = merkle.root_from_leaf_hashes([merkle.leaf_hash(b) for b in bodies])
    cp = Checkpoint(origin or case_origin("evidence.test", case_id), len(bodies), root)
    return {
        "checkpoint": sign_checkpoint(cp, SIGNER),
        "entries.jsonl": b"".join(b + b"\n" for b in bodies),
        vkey_file_name(SIGNER.vkey): SIGNER.vkey.encode() + b"\n",
        **{f"objects/{d.blake3}": m for d, m in zip(digests, media, strict=True)},
    }


def test_a_bundle_in_memory_verifies() -> None:
    report = verify_source(MemorySource(bundle()), [SIGNER.vkey], bundle="memory")
    assert report.ok, report.failure
    assert report.bundle == "memory" and [e["seq"] for e in report.entries] == [0, 1]
    assert [o.ok for o in report.objects] == [True]


def test_a_changed_object_fails_at_its_name() -> None:
    files = bundle()
    name = next(n for n in files if n.startswith("objects/"))
    files[name] = MEDIA[:-1] + b"!"
    report = verify_source(MemorySource(files), [SIGNER.vkey], bundle="memory")
    assert not report.ok and report.failure_place == name and report.failure is not None
    assert report.failure.code == "object_mismatch"


SEVERAL = tuple(bytes([n]) * (300_000 + n) for n in range(5))  # above the size hashed on two threads


def test_several_objects_are_hashed_two_at_a_time_and_reported_in_order() -> None:
    files = bundle(media=SEVERAL)
    report = verify_source(MemorySource(files), [SIGNER.vkey], bundle="memory")
    assert report.ok, report.failure
    assert [o.blake3 for o in report.objects] == sorted(n[len("objects/"):] for n in files if n.startswith("objects/"))
    assert {o.size for o in report.objects} == {len(m) for m in SEVERAL}


def test_the_first_changed_object_ends_the_check_with_those_before_it_reported() -> None:
    files = bundle(media=SEVERAL)
    names = sorted(n for n in files if n.startswith("objects/"))
    files[names[2]] = files[names[2]][:-1] + b"!"
    report = verify_source(MemorySource(files), [SIGNER.vkey], bundle="memory")
    assert not report.ok and report.failure_place == names[2]
    assert [(o.blake3, o.ok) for o in report.objects] == [(names[0][8:], True), (names[1][8:], True),
                                                         (names[2][8:], False)]


def test_an_object_no_entry_describes_fails_after_the_objects_before_it() -> None:
    files = bundle(media=SEVERAL)
    names = sorted(n for n in files if n.startswith("objects/"))
    stray = "objects/" + "f" * 64  # sorts last
    files[stray] = b"not evidence"
    files[names[0]] = files[names[0]] + b"!"  # ...yet a changed object before it is reported first
    report = verify_source(MemorySource(files), [SIGNER.vkey], bundle="memory")
    assert report.failure_place == names[0] and report.failure is not None
    assert report.failure.code == "object_mismatch"
    del files[names[0]]
    report = verify_source(MemorySource(files), [SIGNER.vkey], bundle="memory")
    assert report.failure_place == stray and len(report.objects) == len(SEVERAL) - 1


def test_entries_of_another_case_fail() -> None:
    files = bundle(origin=case_origin("evidence.test", "C-2"))
    report = verify_source(MemorySource(files), [SIGNER.vkey], bundle="memory")
    assert not report.ok and report.failure_place == "entries.jsonl line 1 (seq 0)"
    assert "'C-1'" in str(report.failure) and "'C-2'" in str(report.failure)


def test_a_checkpoint_of_no_case_log_fails_at_the_checkpoint() -> None:
    report = verify_source(MemorySource(bundle(origin="evidence.test/other-log")), [SIGNER.vkey], bundle="memory")
    assert not report.ok and report.failure_place == "checkpoint"
    assert report.failure is not None and "<host>/case/<case-id>" in str(report.failure)


def test_a_source_that_breaks_is_a_failure_not_a_crash() -> None:
    class Broken(MemorySource):
        def open(self, name: str) -> IO[bytes]:
            if name.startswith("objects/"):
                raise OSError("device gone")
            return super().open(name)

    report = verify_source(Broken(bundle()), [SIGNER.vkey], bundle="memory")
    assert not report.ok and report.failure is not None and "device gone" in str(report.failure)
