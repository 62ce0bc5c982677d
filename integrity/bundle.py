"""Court bundles: write them, read them, verify them offline (integrity contract v1, "Bundle").

A bundle is a zip file or a directory holding ``checkpoint`` (the signed note), ``entries.jsonl``
(entry ``i`` is line ``i``, exactly its canonical bytes, ``\\n``-terminated), ``keys/*.vkey`` and,
optionally, ``objects/<blake3 hex>``.  It verifies when the recomputed root equals the checkpoint's,
the signature verifies under a trusted vkey, every ``prev`` links, ``seq`` is gap-free, and every
included object matches the BLAKE3, SHA-256 and size its entry gives.

Only ``blake3`` and ``cryptography`` are needed here, so a court's expert can run the verifier alone.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from integrity import merkle
from integrity.canonical import parse_entry
from integrity.checkpoint import Checkpoint, open_checkpoint
from integrity.errors import (
    BrokenChain,
    CanonicalError,
    IntegrityError,
    NoteFormatError,
    ObjectMismatch,
    RootMismatch,
    SeqGap,
)
from integrity.hashing import ContentDigest, ContentHasher
from integrity.note import Verifier

CHECKPOINT = "checkpoint"
ENTRIES = "entries.jsonl"
KEYS_DIR = "keys/"
OBJECTS_DIR = "objects/"
READ_BYTES = 8 * 1024 * 1024
ZERO_PREV = "0" * 64
_HEX64 = re.compile(r"^[0-9a-f]{64}$")

def vkey_file_name(vkey: str) -> str:
    """``keys/<name>+<key id>.vkey``: the file name says which key it holds."""
    return f"{KEYS_DIR}{'+'.join(vkey.strip().split('+')[:2])}.vkey"


# -- writing ------------------------------------------------------------------------------------


class BundleWriter:
    """Writes a zip bundle.  Media is stored uncompressed: video does not compress, reads stay fast."""

    def __init__(self, path: str | Path) -> None:
        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)

    def write_checkpoint(self, note: bytes) -> None:
        self._zip.writestr(CHECKPOINT, note)

    def write_entries(self, bodies: Iterable[bytes]) -> None:
        with self._zip.open(ENTRIES, "w", force_zip64=True) as out:
            for body in bodies:
                out.write(body + b"\n")

    def write_vkey(self, vkey: str) -> None:
        self._zip.writestr(vkey_file_name(vkey), vkey.strip() + "\n")

    def open_object(self, blake3_hex: str) -> IO[bytes]:
        if not _HEX64.match(blake3_hex):
            raise ValueError(f"not a BLAKE3 hex digest: {blake3_hex!r}")
        info = zipfile.ZipInfo(OBJECTS_DIR + blake3_hex, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_STORED
        return self._zip.open(info, "w", force_zip64=True)

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- reading ------------------------------------------------------------------------------------


class BundleReader:
    """A zip or directory bundle; names are bundle-relative with ``/`` separators."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._zip: zipfile.ZipFile | None = None
        if self.path.is_dir():
            return
        try:
            self._zip = zipfile.ZipFile(self.path)
        except Exception as exc:  # BadZipFile, OSError, NotImplementedError (a mangled version field), ...
            raise NoteFormatError(f"{self.path}: not a bundle (neither a zip file nor a directory): {exc}") from exc

    def check_container(self) -> None:
        """A zip's members must tile the file up to its central directory: no unlisted bytes.

        Python's zipfile trusts the directory; a damaged count or offset there could silently hide
        members (a bundle that lost its media would still look like a valid media-less bundle).
        """
        if self._zip is None:
            return
        with open(self.path, "rb") as fh:
            pos = 0
            for info in sorted(self._zip.infolist(), key=lambda i: i.header_offset):
                if info.header_offset != pos:
                    raise NoteFormatError(f"zip: bytes {pos}..{info.header_offset} belong to no listed member")
                fh.seek(pos)
                header = fh.read(30)
                if len(header) != 30 or header[:4] != b"PK\x03\x04":
                    raise NoteFormatError(f"zip: no local header for {info.filename} at {pos}")
                name_len, extra_len = struct.unpack("<HH", header[26:30])
                pos += 30 + name_len + extra_len + info.compress_size
                if info.flag_bits & 0x08:  # a data descriptor follows the data
                    fh.seek(pos)
                    sig = fh.read(4)
                    zip64 = info.compress_size >= 0xFFFFFFFF or info.file_size >= 0xFFFFFFFF
                    pos += (4 if sig == b"PK\x07\x08" else 0) + (20 if zip64 else 12)
            start_dir = getattr(self._zip, "start_dir", pos)
            if pos != start_dir:
                raise NoteFormatError(f"zip: bytes {pos}..{start_dir} belong to no listed member")

    def names(self) -> list[str]:
        if self._zip is not None:
            return [n for n in self._zip.namelist() if not n.endswith("/")]
        return sorted(p.relative_to(self.path).as_posix() for p in self.path.rglob("*") if p.is_file())

    def open(self, name: str) -> IO[bytes]:
        if self._zip is not None:
            try:
                return self._zip.open(name)
            except KeyError:
                raise FileNotFoundError(f"bundle has no {name}") from None
        target = (self.path / name).resolve()
        if self.path.resolve() not in target.parents:
            raise FileNotFoundError(f"bundle has no {name}")
        return open(target, "rb")

    def read(self, name: str) -> bytes:
        with self.open(name) as fh:
            return fh.read()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> BundleReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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


def verify_bundle(path: str | Path, vkeys: list[str] | None = None) -> Report:
    """Check everything the contract promises; the report names the first failure and where."""
    report = Report(bundle=str(path))
    try:
        reader = BundleReader(path)
    except IntegrityError as exc:
        report.fail(str(path), exc)
        return report
    with reader:
        try:
            _verify(reader, report, vkeys)
        except Exception as exc:
            # A damaged container (bad zip headers, an unknown compression method, a broken deflate
            # stream, ...) is a failed verification with a reason, never a crash.
            report.fail(report.failure_place or str(path),
                        NoteFormatError(f"unreadable bundle: {type(exc).__name__}: {exc}"))
    return report


def _verify(reader: BundleReader, report: Report, vkeys: list[str] | None) -> None:
    try:
        reader.check_container()
    except NoteFormatError as exc:
        report.fail(str(reader.path), exc)
        return
    names = reader.names()
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
            vkey = Verifier.from_vkey(reader.read(name).decode().strip()).vkey
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
        cp, signers = open_checkpoint(reader.read(CHECKPOINT), verifiers)
    except FileNotFoundError as exc:
        report.fail(CHECKPOINT, NoteFormatError(str(exc)))
        return
    except IntegrityError as exc:
        report.fail(CHECKPOINT, exc)
        return
    report.checkpoint, report.signed_by = cp, signers
    if not _verify_entries(reader, report, cp):
        return
    _verify_objects(reader, report, names)


def _verify_entries(reader: BundleReader, report: Report, cp: Checkpoint) -> bool:
    case_id = cp.origin.rsplit("/case/", 1)[-1]
    try:
        raw = reader.read(ENTRIES)
    except FileNotFoundError as exc:
        report.fail(ENTRIES, NoteFormatError(str(exc)))
        return False
    if raw and not raw.endswith(b"\n"):
        report.fail(f"{ENTRIES} end", NoteFormatError("last line is not newline-terminated"))
        return False
    lines = raw.split(b"\n")[:-1] if raw else []
    prev = ZERO_PREV
    for i, line in enumerate(lines):
        place = f"{ENTRIES} line {i + 1} (seq {i})"
        try:
            entry = parse_entry(line)
        except CanonicalError as exc:
            report.fail(place, exc)
            return False
        if entry.get("seq") != i:
            report.fail(place, SeqGap(i, i, entry.get("seq")))
            return False
        if entry.get("prev") != prev:
            report.fail(place, BrokenChain(i, prev, str(entry.get("prev"))))
            return False
        if entry.get("case") != case_id or entry.get("v") != 1:
            report.fail(place, NoteFormatError(
                f"entry is for case {entry.get('case')!r} (v {entry.get('v')!r}); "
                f"the checkpoint is for case {case_id!r} (v 1)"))
            return False
        leaf = merkle.leaf_hash(line)
        report.entries.append(entry)
        report.leaf_hashes.append(leaf)
        prev = leaf.hex()
    if len(lines) != cp.size:
        report.fail(ENTRIES, SeqGap(len(lines), cp.size, f"end of file after {len(lines)} entries"))
        return False
    root = merkle.root_from_leaf_hashes(report.leaf_hashes)
    if root != cp.root:
        report.fail(ENTRIES, RootMismatch(cp.root, root, "tree root of entries.jsonl vs checkpoint"))
        return False
    return True


def _verify_objects(reader: BundleReader, report: Report, names: list[str]) -> None:
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
        if not _HEX64.match(hexd) or not refs:
            report.fail(name, ObjectMismatch(name, "entry", "an entry describing this object", "none"))
            return
        with reader.open(name) as fh:
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
