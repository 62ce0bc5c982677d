"""Court bundles: their layout and their offline verification (integrity contract v1, "Bundle").

A bundle is a zip file or a directory holding ``checkpoint`` (the signed note), ``entries.jsonl``
(entry ``i`` is line ``i``, exactly its canonical bytes, ``\\n``-terminated), ``keys/*.vkey`` and,
optionally, ``objects/<blake3 hex>``.  It verifies when the recomputed root equals the checkpoint's,
the signature verifies under a trusted vkey, every ``prev`` links, ``seq`` is gap-free, and every
included object matches the BLAKE3, SHA-256 and size its entry gives.

``verify_source`` checks a bundle read through a ``BundleSource`` handed in; this module opens no
file.  Zip files and directories are read and written at the edge, in ``integrity.bundle_files``.
Only ``blake3`` and ``cryptography`` are needed here, so a court's expert can run the verifier alone.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from integrity import merkle
from integrity.checkpoint import Checkpoint, open_checkpoint
from integrity.entry import check_chain, parse_case_origin
from integrity.errors import (
    IntegrityError,
    NoteFormatError,
    ObjectMismatch,
    RootMismatch,
    SeqGap,
)
from integrity.hashing import ContentDigest, ContentHasher, is_blake3_hex
from integrity.note import Verifier

CHECKPOINT = "checkpoint"
ENTRIES = "entries.jsonl"
KEYS_DIR = "keys/"
OBJECTS_DIR = "objects/"
READ_BYTES = 8 * 1024 * 1024


class BundleSource(Protocol):
    """Where a bundle's files are read from: names are bundle-relative with ``/`` separators."""

    def names(self) -> list[str]:
        """Every file in the bundle."""

    def open(self, name: str) -> IO[bytes]:
        """One file for reading; FileNotFoundError if the bundle has no such file."""


def vkey_file_name(vkey: str) -> str:
    """``keys/<name>+<key id>.vkey``: the file name says which key it holds."""
    return f"{KEYS_DIR}{'+'.join(vkey.strip().split('+')[:2])}.vkey"


# -- verifying ----------------------------------------------------------------------------------


@dataclass
class ObjectCheck:
    blake3: str
    size: int
    ok: bool
    entries: list[int]
    error: str | None = None


@dataclass
class Report:
    """What verification found; ``ok`` only when everything holds."""

    bundle: str
    checkpoint: Checkpoint | None = None
    signed_by: list[str] = field(default_factory=list)
    trusted_from: str = ""
    entries: list[dict[str, Any]] = field(default_factory=list)
    leaf_hashes: list[bytes] = field(default_factory=list)
    objects: list[ObjectCheck] = field(default_factory=list)
    referenced_not_included: list[str] = field(default_factory=list)
    failure: IntegrityError | None = None
    failure_place: str = ""

    @property
    def ok(self) -> bool:
        return self.failure is None

    def fail(self, place: str, error: IntegrityError) -> None:
        if self.failure is None:
            self.failure, self.failure_place = error, place

    def as_json(self) -> dict[str, Any]:
        cp = self.checkpoint
        return {
            "ok": self.ok,
            "bundle": self.bundle,
            "checkpoint": None if cp is None else {"origin": cp.origin, "size": cp.size, "root": cp.root.hex()},
            "signed_by": self.signed_by,
            "trusted_keys_from": self.trusted_from,
            "entries": [_summary(e) for e in self.entries],
            "objects": [o.__dict__ for o in self.objects],
            "referenced_not_included": self.referenced_not_included,
            "failure": None if self.failure is None else {
                "place": self.failure_place, "code": self.failure.code, "message": str(self.failure)},
        }


def _summary(entry: dict[str, Any]) -> dict[str, Any]:
    keep = ("seq", "time", "actor", "kind", "blake3", "file_name", "camera", "officer", "purpose", "title")
    return {k: entry[k] for k in keep if k in entry}


def unreadable(exc: Exception) -> NoteFormatError:
    """A bundle that cannot be read (bad zip headers, an unknown compression method, a broken deflate
    stream, ...) is a failed verification with a reason, never a crash."""
    return NoteFormatError(f"unreadable bundle: {type(exc).__name__}: {exc}")


def verify_source(source: BundleSource, vkeys: list[str] | None = None, *, bundle: str) -> Report:
    """Check everything the contract promises; the report names the first failure and where.

    ``bundle`` names the bundle in the report; ``vkeys`` pins the keys to trust (else the bundle's own).
    """
    report = Report(bundle=bundle)
    try:
        _verify(source, report, vkeys)
    except Exception as exc:
        report.fail(report.failure_place or bundle, unreadable(exc))
    return report


def _read(source: BundleSource, name: str) -> bytes:
    with source.open(name) as fh:
        return fh.read()


def _verify(source: BundleSource, report: Report, vkeys: list[str] | None) -> None:
    names = source.names()
    unexpected = [n for n in names if n not in (CHECKPOINT, ENTRIES)
                  and not n.startswith((KEYS_DIR, OBJECTS_DIR))]
    if unexpected:
        # Nothing rides along unverified: a bundle holds only what the contract names.
        report.fail(unexpected[0], NoteFormatError(f"unexpected file in bundle: {unexpected[0]}"))
        return
    # The bundle's own keys are read and checked even when a pinned key is given: every byte of a
    # bundle is either verified or makes verification fail.
    bundled = []
    for name in (n for n in names if n.startswith(KEYS_DIR)):
        try:
            vkey = Verifier.from_vkey(_read(source, name).decode().strip()).vkey
        except (IntegrityError, UnicodeDecodeError) as exc:
            report.fail(name, exc if isinstance(exc, IntegrityError) else NoteFormatError(f"{name}: {exc}"))
            return
        if name != vkey_file_name(vkey):
            report.fail(name, NoteFormatError(f"{name} holds the key {vkey_file_name(vkey)}"))
            return
        bundled.append(vkey)
    if vkeys:
        report.trusted_from = "--vkey"
    else:
        vkeys = bundled
        report.trusted_from = "bundle keys/ (not pinned: pass --vkey to check against a key you trust)"
    try:
        verifiers = [Verifier.from_vkey(v) for v in vkeys]
        cp, signers = open_checkpoint(_read(source, CHECKPOINT), verifiers)
        _, case_id = parse_case_origin(cp.origin)
    except FileNotFoundError as exc:
        report.fail(CHECKPOINT, NoteFormatError(str(exc)))
        return
    except IntegrityError as exc:
        report.fail(CHECKPOINT, exc)
        return
    except ValueError as exc:  # a signed checkpoint, but not of a case log
        report.fail(CHECKPOINT, NoteFormatError(str(exc)))
        return
    report.checkpoint, report.signed_by = cp, signers
    if not _verify_entries(source, report, cp, case_id):
        return
    _verify_objects(source, report, names)


def _verify_entries(source: BundleSource, report: Report, cp: Checkpoint, case_id: str) -> bool:
    try:
        raw = _read(source, ENTRIES)
    except FileNotFoundError as exc:
        report.fail(ENTRIES, NoteFormatError(str(exc)))
        return False
    if raw and not raw.endswith(b"\n"):
        report.fail(f"{ENTRIES} end", NoteFormatError("last line is not newline-terminated"))
        return False
    lines = raw.split(b"\n")[:-1] if raw else []
    for link in check_chain(lines, case_id):
        if not link.ok:
            report.fail(f"{ENTRIES} line {link.seq + 1} (seq {link.seq})", link.problems[0])
            return False
        assert link.entry is not None  # a link without problems parsed
        report.entries.append(link.entry)
        report.leaf_hashes.append(link.leaf)
    if len(lines) != cp.size:
        report.fail(ENTRIES, SeqGap(len(lines), cp.size, f"end of file after {len(lines)} entries"))
        return False
    root = merkle.root_from_leaf_hashes(report.leaf_hashes)
    if root != cp.root:
        report.fail(ENTRIES, RootMismatch(cp.root, root, "tree root of entries.jsonl vs checkpoint"))
        return False
    return True


def _verify_objects(source: BundleSource, report: Report, names: list[str]) -> None:
    described: dict[str, list[dict[str, Any]]] = {}
    for entry in report.entries:
        if isinstance(entry.get("blake3"), str):
            described.setdefault(entry["blake3"], []).append(entry)
    included = set()
    for name in names:
        if not name.startswith(OBJECTS_DIR):
            continue
        hexd = name[len(OBJECTS_DIR):]
        included.add(hexd)
        refs = described.get(hexd, [])
        if not is_blake3_hex(hexd) or not refs:
            report.fail(name, ObjectMismatch(name, "entry", "an entry describing this object", "none"))
            return
        with source.open(name) as fh:
            digest = hash_stream(fh)
        check = ObjectCheck(hexd, digest.size, True, [e["seq"] for e in refs])
        report.objects.append(check)
        for entry in refs:
            try:
                digest.check(blake3=hexd, sha256=entry.get("sha256"), size=entry.get("size"),
                             what=f"{name} (entry {entry['seq']})")
            except ObjectMismatch as exc:
                check.ok, check.error = False, str(exc)
                report.fail(name, exc)
                return
    report.referenced_not_included = sorted(set(described) - included)


def hash_stream(fh: IO[bytes] | io.BufferedIOBase) -> ContentDigest:
    hasher = ContentHasher()
    for block in iter_blocks(fh):
        hasher.update(block)
    return hasher.digest()


def iter_blocks(fh: Any, size: int = READ_BYTES) -> Iterator[bytes]:
    while block := fh.read(size):
        yield block


def find_in_report(report: Report, blake3_hex: str) -> list[tuple[dict[str, Any], list[bytes]]]:
    """Entries of a verified bundle describing ``blake3_hex``, each with its inclusion proof."""
    if not report.ok or report.checkpoint is None:
        return []
    tree = merkle.MemoryTree(report.leaf_hashes)
    found = []
    for entry in report.entries:
        if entry.get("blake3") == blake3_hex:
            proof = tree.inclusion_proof(entry["seq"], report.checkpoint.size)
            merkle.verify_inclusion(report.leaf_hashes[entry["seq"]], entry["seq"], report.checkpoint.size,
                                    proof, report.checkpoint.root)
            found.append((entry, proof))
    return found
