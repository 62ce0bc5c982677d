"""Court bundles: their layout and their offline verification (integrity contract v1, "Bundle").

A bundle is a zip file or a directory holding ``checkpoint`` (the signed note), ``entries.jsonl``
(entry ``i`` is line ``i``, exactly its canonical bytes, ``\\n``-terminated), ``keys/*.vkey`` and,
optionally, ``objects/<blake3 hex>``.  It verifies when the recomputed root equals the checkpoint's,
the signature verifies under a trusted vkey, every ``prev`` links, ``seq`` is gap-free, and every
included object matches the BLAKE3, SHA-256 and size its entry gives.

Contract 1.1 adds ``witnesses/*.vkey`` (the witnesses' cosignature keys; the checkpoint carries their
cosignature lines) and ``timestamps/`` (``integrity.timestamp``).  Asked for a quorum of witnesses,
verification needs that many valid cosignatures by the given (else the bundle's) witness keys; each
timestamp must be over a checkpoint signed by the log whose root is that of a prefix of the entries.
A bundle without them verifies as before, and the report says what it lacks.

``verify_source`` checks a bundle read through a ``BundleSource`` handed in; this module opens no
file.  Zip files and directories are read and written at the edge, in ``integrity.bundle_files``.
Only ``blake3`` and ``cryptography`` are needed here, so a court's expert can run the verifier alone.
"""

from __future__ import annotations

import collections
import io
import itertools
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from integrity import merkle, timestamp
from integrity.bundle_index import INDEX_MEMBERS, index_files
from integrity.checkpoint import Checkpoint, open_checkpoint
from integrity.cosignature import CosignatureVerifier, Cosigned, verify_cosignatures
from integrity.entry import check_chain, parse_case_origin
from integrity.errors import (
    IntegrityError,
    NoteFormatError,
    ObjectMismatch,
    RootMismatch,
    SeqGap,
)
from integrity.hashing import ContentDigest, ContentHasher, hash_reader, is_blake3_hex
from integrity.note import Verifier

CHECKPOINT = "checkpoint"
ENTRIES = "entries.jsonl"
KEYS_DIR = "keys/"
OBJECTS_DIR = "objects/"
WITNESSES_DIR = "witnesses/"
TIMESTAMPS_DIR = "timestamps/"
READ_BYTES = 8 * 1024 * 1024
#: Objects hashed at once (``_digests``): two threads each, so two keep both cores busy.
OBJECTS_IN_FLIGHT = 2


class BundleSource(Protocol):
    """Where a bundle's files are read from: names are bundle-relative with ``/`` separators."""

    def names(self) -> list[str]:
        """Every file in the bundle."""

    def open(self, name: str) -> IO[bytes]:
        """One file for reading; FileNotFoundError if the bundle has no such file."""


def vkey_file_name(vkey: str) -> str:
    """``keys/<name>+<key id>.vkey``: the file name says which key it holds."""
    return f"{KEYS_DIR}{'+'.join(vkey.strip().split('+')[:2])}.vkey"


def witness_file_name(vkey: str) -> str:
    """``witnesses/<name, '/' as %2F>+<key id>.vkey``: a witness name is usually a URL path."""
    name, key_id = vkey.strip().split("+")[:2]
    return f"{WITNESSES_DIR}{name.replace('%', '%25').replace('/', '%2F')}+{key_id}.vkey"


class QuorumNotMet(IntegrityError):
    """Fewer valid witness cosignatures on the checkpoint than the verifier asked for."""

    code = "witness_quorum"

    def __init__(self, found: int, quorum: int, keys: int) -> None:
        self.found, self.quorum = found, quorum
        super().__init__(f"{found} valid cosignature(s) by the {keys} witness key(s) given; the quorum is {quorum}")


@dataclass
class TimestampCheck:
    """One timestamp of the bundle: which checkpoint it anchors, when, by whom, and whether checked."""

    name: str
    size: int
    gen_time: str
    tsa: str
    checked: bool
    note: str


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
    log_vkeys: list[str] = field(default_factory=list)
    cosigned_by: list[Cosigned] = field(default_factory=list)
    witness_keys_from: str = ""
    quorum: int = 0
    timestamps: list[TimestampCheck] = field(default_factory=list)
    lacks: list[str] = field(default_factory=list)
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
            "witnesses": {"quorum": self.quorum, "keys_from": self.witness_keys_from,
                          "cosigned_by": [{"name": c.name, "key_id": c.key_id.hex(), "time": c.timestamp}
                                          for c in self.cosigned_by]},
            "timestamps": [t.__dict__ for t in self.timestamps],
            "lacks": self.lacks,
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


@dataclass(frozen=True)
class Trust:
    """What a verifier brings besides the log keys: witness keys, a quorum, TSA certificates."""

    witness_keys: tuple[str, ...] = ()
    quorum: int | None = None  # None: 1 when witness keys are given, else only report
    tsa_certs: tuple[bytes, ...] = ()


def verify_source(source: BundleSource, vkeys: list[str] | None = None, *, bundle: str,
                  trust: Trust | None = None) -> Report:
    """Check everything the contract promises; the report names the first failure and where.

    ``bundle`` names the bundle in the report; ``vkeys`` pins the keys to trust (else the bundle's own);
    ``trust`` adds witness keys and a quorum, and TSA certificates (contract 1.1).
    """
    report = Report(bundle=bundle)
    try:
        _verify(source, report, vkeys)
        if report.ok and report.checkpoint is not None:
            _verify_witnesses(source, report, trust or Trust())
        if report.ok and report.checkpoint is not None:
            _verify_timestamps(source, report, vkeys, trust or Trust())
    except Exception as exc:
        report.fail(report.failure_place or bundle, unreadable(exc))
    return report


def _read(source: BundleSource, name: str) -> bytes:
    with source.open(name) as fh:
        return fh.read()


def _verify(source: BundleSource, report: Report, vkeys: list[str] | None) -> None:
    names = source.names()
    unexpected = [n for n in names if n not in (CHECKPOINT, ENTRIES, *INDEX_MEMBERS)
                  and not n.startswith((KEYS_DIR, OBJECTS_DIR, WITNESSES_DIR, TIMESTAMPS_DIR))]
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
    report.log_vkeys = list(vkeys)
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
    if report.ok:
        _verify_index(source, report, cp, names)


def _verify_index(source: BundleSource, report: Report, cp: Checkpoint, names: list[str]) -> None:
    """The readable index members, if present, are exactly what the verified entries make of them."""
    present = [n for n in INDEX_MEMBERS if n in names]
    if not present:
        return  # a bundle written before the index, or without it
    included = [n[len(OBJECTS_DIR):] for n in names if n.startswith(OBJECTS_DIR)]
    expected = index_files(cp.origin, cp.size, cp.root, report.entries, included)
    for name in present:
        if _read(source, name) != expected[name]:
            report.fail(name, NoteFormatError(f"{name} is not what the bundle's entries say"))
            return


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
    included, objects = set(), []
    unexplained = None  # the first object no entry describes: reported after those before it
    for name in names:
        if not name.startswith(OBJECTS_DIR):
            continue
        hexd = name[len(OBJECTS_DIR):]
        included.add(hexd)
        if not is_blake3_hex(hexd) or not described.get(hexd):
            unexplained = name
            break
        objects.append(name)
    for name, digest in _digests(source, objects):
        hexd = name[len(OBJECTS_DIR):]
        refs = described[hexd]
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
    if unexplained is not None:
        report.fail(unexplained, ObjectMismatch(unexplained, "entry", "an entry describing this object", "none"))
        return
    report.referenced_not_included = sorted(set(described) - included)


def _digests(source: BundleSource, names: list[str]) -> Iterator[tuple[str, ContentDigest]]:
    """(name, digest) of each object, in order; the next ones are hashed while the caller checks this one.

    Each object's pass takes two threads (read and BLAKE3, SHA-256 behind it), and SHA-256 is the
    slower: one object at a time leaves a core half idle, two keep both busy.  Closed early (a
    mismatch ends the check), the passes still running stop at their next block.
    """
    stop = threading.Event()

    def one(name: str) -> ContentDigest:
        with source.open(name) as fh:
            return hash_stream(fh, stop)

    ahead: collections.deque[tuple[str, Future[ContentDigest]]] = collections.deque()
    waiting = iter(names)
    with ThreadPoolExecutor(OBJECTS_IN_FLIGHT, thread_name_prefix="object") as pool:
        try:
            for name in itertools.islice(waiting, OBJECTS_IN_FLIGHT):
                ahead.append((name, pool.submit(one, name)))
            while ahead:
                name, pending = ahead.popleft()
                digest = pending.result()
                if (following := next(waiting, None)) is not None:
                    ahead.append((following, pool.submit(one, following)))
                yield name, digest
        finally:
            stop.set()
            for _, pending in ahead:
                pending.cancel()


def _verify_witnesses(source: BundleSource, report: Report, trust: Trust) -> None:
    assert report.checkpoint is not None
    bundled: list[str] = []
    for name in (n for n in source.names() if n.startswith(WITNESSES_DIR)):
        try:
            vkey = CosignatureVerifier.from_vkey(_read(source, name).decode().strip()).vkey
        except (IntegrityError, UnicodeDecodeError) as exc:
            report.fail(name, exc if isinstance(exc, IntegrityError) else NoteFormatError(f"{name}: {exc}"))
            return
        if name != witness_file_name(vkey):
            report.fail(name, NoteFormatError(f"{name} holds the witness key {witness_file_name(vkey)}"))
            return
        bundled.append(vkey)
    if trust.witness_keys:
        keys, report.witness_keys_from = list(trust.witness_keys), "--witness-key"
    else:
        keys = bundled
        report.witness_keys_from = "bundle witnesses/ (not pinned: pass --witness-key)" if bundled else ""
    quorum = trust.quorum if trust.quorum is not None else (1 if trust.witness_keys else 0)
    report.quorum = quorum
    try:
        verifiers = [CosignatureVerifier.from_vkey(k) for k in keys]
        report.cosigned_by = verify_cosignatures(_read(source, CHECKPOINT), verifiers)
    except IntegrityError as exc:
        report.fail(f"{CHECKPOINT} cosignatures", exc)
        return
    if len(report.cosigned_by) < quorum:
        report.fail(f"{CHECKPOINT} cosignatures", QuorumNotMet(len(report.cosigned_by), quorum, len(keys)))
        return
    if not report.cosigned_by:
        report.lacks.append("witness cosignatures: nothing but the bureau's own key vouches for this checkpoint"
                            if keys else "witness keys and cosignatures (a version 1 bundle)")


def _timestamp_sets(names: list[str]) -> tuple[dict[str, dict[str, str]], str | None]:
    sets: dict[str, dict[str, str]] = {}
    for name in (n for n in names if n.startswith(TIMESTAMPS_DIR)):
        stem, dot, suffix = name[len(TIMESTAMPS_DIR):].rpartition(".")
        if not dot or "." + suffix not in timestamp.SUFFIXES or "/" in stem or not stem:
            return sets, name
        sets.setdefault(stem, {})["." + suffix] = name
    for stem, files in sets.items():
        if set(files) - {timestamp.CHAIN_SUFFIX} != {timestamp.TOKEN_SUFFIX, timestamp.CHECKPOINT_SUFFIX,
                                                    timestamp.PROOF_SUFFIX}:
            return sets, f"{TIMESTAMPS_DIR}{stem}.*"
    return sets, None


def _verify_timestamps(source: BundleSource, report: Report, vkeys: list[str] | None, trust: Trust) -> None:
    cp = report.checkpoint
    assert cp is not None
    sets, stray = _timestamp_sets(source.names())
    if stray is not None:
        report.fail(stray, NoteFormatError(f"{stray}: not part of a complete timestamp "
                                           "(<n>.tst, <n>.checkpoint, <n>.proof and optionally <n>.pem)"))
        return
    if not sets:
        if trust.tsa_certs:
            report.fail(TIMESTAMPS_DIR, timestamp.TimestampInvalid("a TSA certificate was given but the bundle "
                                                                   "carries no timestamp"))
        else:
            report.lacks.append("a trusted timestamp (RFC 3161): nothing fixes when these entries existed")
        return
    verifiers = [Verifier.from_vkey(v) for v in (vkeys or report.log_vkeys)]
    for stem in sorted(sets, key=lambda s: (len(s), s)):
        files = sets[stem]
        place = f"{TIMESTAMPS_DIR}{stem}"
        try:
            note = _read(source, files[timestamp.CHECKPOINT_SUFFIX])
            stamped, _ = open_checkpoint(note, verifiers, expected_origin=cp.origin)
            if stamped.size > cp.size or stamped.size == 0:
                raise timestamp.TimestampInvalid(f"stamped checkpoint size {stamped.size} is not within 1..{cp.size}")
            prefix_root = merkle.root_from_leaf_hashes(report.leaf_hashes[:stamped.size])
            if prefix_root != stamped.root:
                raise RootMismatch(stamped.root, prefix_root, f"root of the first {stamped.size} entries "
                                                              "vs the timestamped checkpoint")
            path = timestamp.DigestPath.decode(_read(source, files[timestamp.PROOF_SUFFIX]))
            round_root = path.root_for(note)
            chain = _read(source, files[timestamp.CHAIN_SUFFIX]) if timestamp.CHAIN_SUFFIX in files else b""
            check = timestamp.verify_token(_read(source, files[timestamp.TOKEN_SUFFIX]), round_root,
                                           trusted=trust.tsa_certs, chain=chain)
        except IntegrityError as exc:
            report.fail(place, exc)
            return
        if trust.tsa_certs and not check.checked:
            report.fail(place, timestamp.TimestampInvalid(f"the timestamp could not be checked: {check.note}"))
            return
        when = check.gen_time.strftime("%Y-%m-%dT%H:%M:%SZ") if check.gen_time else ""
        report.timestamps.append(TimestampCheck(stem, stamped.size, when, check.tsa, check.checked, check.note))


def hash_stream(fh: IO[bytes] | io.BufferedIOBase, stop: threading.Event | None = None) -> ContentDigest:
    """BLAKE3, SHA-256 and size of a stream in one read pass, the two hashes on both cores.

    ``stop``: once set, the pass ends at the next block (its digest then covers only what was read).
    """
    readinto = getattr(fh, "readinto", None)
    if readinto is not None:
        if stop is None:
            return hash_reader(readinto)
        return hash_reader(lambda buffer: 0 if stop.is_set() else readinto(buffer))
    hasher = ContentHasher()
    for block in iter_blocks(fh):
        if stop is not None and stop.is_set():
            break
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
