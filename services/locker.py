"""The evidence locker: object store + catalog + case log working as one.

Order matters for "nothing lost, nothing half-written": the object is stored (write-once, hashed
while written) *before* its entry is appended, so an entry never points at bytes that are not there.
A crash in between leaves an object without an entry: an orphan for the sweep, never evidence.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import re
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from foundation.errors import Invalid
from foundation.settings import Settings
from integrity.bundle_files import BundleWriter
from integrity.bundle_index import index_files
from integrity.hashing import object_key
from services import locks, timestamping, witnessing
from services.witnessing import NO_WITNESSES, WitnessPolicy
from storage import catalog, db
from storage.keys import KeyRing
from storage.log import Appended, CaseLog, CaseNotFound, Draft, RowWriter
from storage.objects import ObjectStore, StoredObject
from storage.stores import open_store

logger = logging.getLogger(__name__)


#: The longest text value an object entry's field may carry (a title, a note, a media type ...).
FIELD_MAX_CHARS = 10_000


def check_fields(fields: Mapping[str, Any]) -> None:
    """Refuse, before anything is stored, a field value the index cannot hold: text with a NUL byte (which
    PostgreSQL's ``text`` refuses) or other control characters, or text longer than ``FIELD_MAX_CHARS``."""
    def check(name: str, value: Any) -> None:
        if isinstance(value, str):
            if len(value) > FIELD_MAX_CHARS:
                raise Invalid(f"field {name!r}: at most {FIELD_MAX_CHARS} characters, got {len(value)}")
            if _CONTROL.search(value):
                raise Invalid(f"field {name!r}: control characters (such as NUL) are not allowed")
        elif isinstance(value, Mapping):
            for key, inner in value.items():
                check(f"{name}.{key}", inner)
        elif isinstance(value, list | tuple):
            for inner in value:
                check(name, inner)

    for key, value in fields.items():
        if _CONTROL.search(str(key)):
            raise Invalid("a field name holds control characters")
        check(str(key), value)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Receipt:
    """Proof that an entry is in a case's log: the exact entry, its inclusion proof, a signed checkpoint."""

    case_id: str
    seq: int
    entry: bytes  # the canonical bytes whose leaf hash is proven
    tree_size: int
    proof: list[bytes]
    checkpoint: bytes

    def as_json(self) -> dict[str, Any]:
        return {
            "case": self.case_id,
            "leaf_index": self.seq,
            "entry": self.entry.decode(),
            "tree_size": self.tree_size,
            "inclusion_proof": [h.hex() for h in self.proof],
            "checkpoint": self.checkpoint.decode(),
        }


@dataclass(frozen=True, slots=True)
class Locker:
    pool: asyncpg.Pool
    store: ObjectStore
    log: CaseLog
    keys: KeyRing
    #: The witnesses that cosign the case checkpoints (none: checkpoints carry the bureau's key alone).
    witnesses: WitnessPolicy = NO_WITNESSES
    #: The TSAs' certificate chains (PEM), copied into bundles beside their tokens; empty if unknown.
    tsa_chain: bytes = b""
    #: ``Settings.separate_duties``: approve/publish and the end of a major decision by two people.
    separate_duties: bool = True
    #: ``Settings.major_fine_yuan``: the fine from which a decision is proposed major.
    major_fine_yuan: int = 50_000
    #: ``Settings.calendar_dir``: the working-day years an administrator added (``services.calendar.of``).
    calendar_dir: Path | None = None

    async def add_object(
        self,
        case_id: str,
        source: AsyncIterable[bytes],
        *,
        kind: str,
        actor: str,
        fields: Mapping[str, Any],
        expected_blake3: str | None = None,
        retain_until: dt.datetime | None = None,
    ) -> Appended:
        """Store bytes and log them in a case; the same bytes twice give the first entry back."""
        check_fields(fields)  # before anything is written: a refused value stores no bytes
        if not await self.log.case_exists(case_id):
            raise CaseNotFound(case_id)
        stored = await self.store.put(source, expected_blake3=expected_blake3, retain_until=retain_until)
        return await self.log_object(case_id, stored, kind=kind, actor=actor, fields=fields,
                                     retain_until=retain_until)

    async def log_object(
        self,
        case_id: str,
        stored: StoredObject,
        *,
        kind: str,
        actor: str,
        fields: Mapping[str, Any],
        retain_until: dt.datetime | None = None,
        also: RowWriter | None = None,
    ) -> Appended:
        """Log an object that is already stored (idempotent per case, kind and hash).

        The entry and its evidence index row commit in one transaction (``Draft.rows``): a row the
        database refuses rolls the entry back, so no item is in the log but missing from the index.
        """
        check_fields(fields)
        kept, lives = await catalog.record_object(self.pool, stored, self.store.name, retain_until)
        if stored.version_id and kept and kept != stored.version_id:
            # A racing server recorded its version of the same bytes first: ours is the duplicate.
            await self.store.discard_version(stored.key, stored.version_id)
            stored = dataclasses.replace(stored, version_id=kept, created=False)
        digest = stored.digest
        obj_fields: dict[str, Any] = {"blake3": digest.blake3, "sha256": digest.sha256, "size": digest.size}
        if stored.version_id:
            obj_fields["version_id"] = stored.version_id
        entry_fields = {**fields, **obj_fields}

        async def index(conn: asyncpg.Connection, case: str, seq: int) -> None:
            await catalog.record_evidence(conn, case, seq, kind, entry_fields)
            if also is not None:
                await also(conn, case, seq)

        draft = Draft(kind, actor, entry_fields, blake3=digest.blake3,
                      dedupe=catalog.object_dedupe(kind, digest.blake3, lives), rows=index)
        result = await self.log.append(case_id, draft)
        if result.created:
            await locks.on_new_evidence(self.pool, self.store, case_id, digest.blake3)
        return result

    async def receipt(self, case_id: str, seq: int) -> Receipt:
        """A receipt for entry ``seq`` against the latest signed checkpoint."""
        cp = await self.log.checkpoint(case_id)
        row = await self.log.entry(case_id, seq)
        proof = await self.log.inclusion_proof(case_id, seq, cp.size)
        return Receipt(case_id, seq, row.body, cp.size, proof, cp.note)

    async def receipt_for(self, appended: Appended) -> Receipt:
        """A receipt against the checkpoint the append itself produced (no extra checkpoint read)."""
        proof = await self.log.inclusion_proof(appended.case_id, appended.seq, appended.tree_size)
        return Receipt(appended.case_id, appended.seq, appended.body, appended.tree_size, proof,
                       appended.checkpoint)

    async def write_bundle(self, case_id: str, out: Path, *, with_media: bool = False,
                           only: frozenset[str] | None = None) -> tuple[int, int]:
        """Write the case bundle at its latest checkpoint; returns (entries, objects).  ``only``: of the
        media, these objects alone (a selection; every entry is in the bundle all the same).

        Reading the media is evidence access: ``services.evidence.export`` logs it before calling this.
        """
        # The witnesses are asked first, so the bundle's checkpoint carries their cosignatures if they answer.
        await witnessing.witness_now(self.pool, self.log, self.witnesses, case_id)
        cp = await self.log.checkpoint(case_id)
        rows = await self.log.entries(case_id, 0, cp.size)
        objects = sorted({r.blake3 for r in rows if r.blake3 and (only is None or r.blake3 in only)}) \
            if with_media else []
        stamps = await timestamping.bundle_files(self.pool, case_id, cp.size, self.tsa_chain)
        tmp = out.with_name(out.name + ".part")
        with BundleWriter(tmp) as bundle:
            bundle.write_checkpoint(await witnessing.cosigned_note(self.pool, case_id, cp.size, cp.note))
            bundle.write_entries(r.body for r in rows)
            for vkey in self.keys.vkeys():
                bundle.write_vkey(vkey)
            for vkey in witnessing.vkeys(self.witnesses):
                bundle.write_witness_vkey(vkey)
            for name, files in stamps:
                bundle.write_timestamp(name, files)
            for hexd in objects:
                fh = bundle.open_object(hexd)
                try:
                    async for chunk in self.store.get(object_key(hexd)):
                        fh.write(chunk)  # zip writes are buffered memcpy; the read is the slow side
                finally:
                    fh.close()
            origin = cp.note.split(b"\n", 1)[0].decode()
            bundle.write_index(index_files(origin, cp.size, cp.root, [json.loads(r.body) for r in rows], objects))
        tmp.replace(out)
        return len(rows), len(objects)


@asynccontextmanager
async def open_locker(settings: Settings) -> AsyncIterator[Locker]:
    """Database pool (migrated), object store, signing key: everything a command needs."""
    keys = KeyRing(settings.keys_dir)
    signer = keys.signer(settings.origin)
    store = open_store(settings)
    try:
        await store.check()
        async with db.open_pool(settings) as pool:
            yield Locker(pool, store, CaseLog(pool, signer, settings.origin, archive=store), keys,
                         WitnessPolicy.from_settings(settings), timestamping.read_chain(settings),
                         separate_duties=settings.separate_duties, major_fine_yuan=settings.major_fine_yuan,
                         calendar_dir=settings.calendar_dir)
    finally:
        await store.close()
