"""The per-case log in PostgreSQL: append, checkpoints, proofs.

Appends to one case are serialised by the ``cases`` row lock (``SELECT ... FOR UPDATE``), which
holds across processes: two servers on one database still produce one gap-free chain.  Within a
process, concurrent appends to a case are *batched*: one writer task takes everything queued, appends
it in one transaction and signs one checkpoint for the batch, so 50 concurrent writers cost one lock,
one commit and one signature per batch instead of fifty.

An append is one transaction: entries, the new perfect-subtree nodes, the new tree head and its
signed checkpoint commit together or not at all; a killed process leaves no gap and no half entry.
The checkpoint is signed before commit but handed out only after it, so no checkpoint of state that
did not commit ever leaves the server.

A draft may carry ``rows``: the table rows its entry implies (an evidence index row, ...), written by
a callback inside the same transaction, so the entry and its rows commit together or not at all.  If
a batch fails, its drafts are retried one per transaction, so one draft whose rows are refused fails
alone and the others still land.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from foundation.errors import CustodyError, Status
from integrity import merkle
from integrity.checkpoint import Checkpoint, sign_checkpoint
from integrity.entry import build_entry, case_origin, check_draft
from integrity.note import Signer
from storage.db import like_literal
from storage.objects import ObjectStore, StoreError, checkpoint_key

logger = logging.getLogger(__name__)

#: Upper bound on entries per transaction: keeps one batch's lock time short.
MAX_BATCH = 500
#: Inclusion proofs kept in memory (a proof is at most 64 hashes).
PROOF_CACHE_ENTRIES = 10_000


class LogError(CustodyError):
    status = Status.MALFORMED
    code = "log_error"


class CaseNotFound(LogError):
    status = Status.NOT_FOUND
    code = "case_not_found"

    def __init__(self, case_id: str) -> None:
        super().__init__(f"no case {case_id!r}")
        self.case_id = case_id


class CaseExists(LogError):
    status = Status.CONFLICT
    code = "case_exists"


class BadRange(LogError):
    status = Status.INVALID
    code = "bad_range"


#: Writes the rows an entry implies: ``(connection, case_id, seq)``, inside the append's transaction.
RowWriter = Callable[[asyncpg.Connection, str, int], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Draft:
    """An entry before the log gives it its place (seq, prev, time)."""

    kind: str
    actor: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    blake3: str | None = None  # the object the entry is about, indexed for lookup by hash
    dedupe: str | None = None  # idempotency: a second draft with the same key returns the first entry
    #: The rows the entry implies, written in the append's transaction once the entry has its seq (not
    #: called when the dedupe key returned an existing entry).  Its SQL lives in ``storage/``.
    rows: RowWriter | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        try:
            check_draft(self.kind, self.actor, self.fields)  # refuse floats etc. now, not inside a batch
        except ValueError as exc:
            raise LogError(str(exc)) from None


@dataclass(frozen=True, slots=True)
class Appended:
    """Where an entry landed, and the signed checkpoint of the tree that first contains it."""

    case_id: str
    seq: int
    body: bytes
    leaf_hash: bytes
    checkpoint: bytes  # signed note, tree size >= seq + 1
    tree_size: int
    created: bool  # False: the dedupe key matched an existing entry


@dataclass(frozen=True, slots=True)
class EntryRow:
    case_id: str
    seq: int
    kind: str
    actor: str
    at: dt.datetime
    body: bytes
    leaf_hash: bytes
    blake3: str | None


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    case_id: str
    size: int
    root: bytes
    note: bytes


class CaseLog:
    """Appends, proofs and checkpoints for every case; one instance per process."""

    def __init__(self, pool: asyncpg.Pool, signer: Signer, host: str, *, archive: ObjectStore | None = None) -> None:
        self.pool = pool
        self.signer = signer
        self.host = host
        #: Where every signed checkpoint is also written, write-once (``checkpoint_key``), before it is
        #: handed out: the database's ``checkpoints`` rows can be rolled back by its superuser, these not.
        self.archive = archive
        self._pending: dict[str, list[tuple[Draft, asyncio.Future[Appended]]]] = {}
        self._writers: dict[str, asyncio.Task[None]] = {}
        self._archiving: set[asyncio.Task[None]] = set()  # checkpoint archive writes in flight
        # A proof for (case, index, size) never changes: the tree below a signed size is immutable.
        self._proofs: OrderedDict[tuple[str, int, int], tuple[bytes, ...]] = OrderedDict()

    # -- cases -------------------------------------------------------------------------------

    async def open_case(
        self, case_id: str, actor: str, *, title: str = "", meta: Mapping[str, Any] | None = None,
        handler: str | None = None, handler_id: int | None = None,
    ) -> Appended:
        """Create a case and append its ``case.opened`` entry (seq 0) in one transaction."""
        try:
            case_origin(self.host, case_id)  # validates the id the way the checkpoint origin needs it
        except ValueError as exc:
            raise LogError(str(exc)) from None
        meta = dict(meta or {})
        handler = handler or actor  # who handles the case (承办人) may not give it its legal review
        async with self.pool.acquire() as conn, conn.transaction():
            if handler_id is None:
                # No id given: the principal the handler string names exactly (role and name), if any.
                handler_id = await conn.fetchval(
                    "SELECT id FROM principals WHERE role || ':' || name = $1", handler)
            # The entry records the handler's id (null: nobody): access is decided on it, never the name.
            draft = Draft("case.opened", actor, {"title": title, "handler": handler, "handler_id": handler_id,
                                                 **({"meta": meta} if meta else {})})
            inserted = await conn.fetchval(
                """INSERT INTO cases (id, title, meta, created_by, root, last_leaf, handler, handler_id)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                   ON CONFLICT (id) DO NOTHING RETURNING id""",
                case_id, title, meta, actor, merkle.EMPTY_ROOT, bytes(32), handler, handler_id,
            )
            if inserted is None:
                raise CaseExists(f"case {case_id!r} already exists")
            [result] = await self._append_in_tx(conn, case_id, [draft])
        await self._archive_checkpoint(case_id, [result])
        return result

    async def case_exists(self, case_id: str) -> bool:
        return bool(await self.pool.fetchval("SELECT 1 FROM cases WHERE id = $1", case_id))

    async def takes_station_uploads(self, case_id: str) -> bool:
        """Whether ``case_id`` is an open (not closed) case: the only kind a docking station writes to.  A
        restricted case takes new footage (it must leave the camera), and the station reads nothing of it."""
        return bool(await self.pool.fetchval("SELECT 1 FROM cases WHERE id = $1 AND closed_at IS NULL", case_id))

    async def list_cases(self) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT id, title, meta, created_at, created_by, size FROM cases ORDER BY created_at, id"
        )
        return [dict(r) for r in rows]

    # -- appending ---------------------------------------------------------------------------

    async def append(self, case_id: str, draft: Draft) -> Appended:
        """Append one entry; concurrent calls for the same case share a transaction."""
        fut: asyncio.Future[Appended] = asyncio.get_running_loop().create_future()
        self._pending.setdefault(case_id, []).append((draft, fut))
        if case_id not in self._writers:
            self._writers[case_id] = asyncio.create_task(self._drain(case_id))
        return await asyncio.shield(fut)

    async def _drain(self, case_id: str) -> None:
        try:
            while queue := self._pending.pop(case_id, None):
                batch, rest = queue[:MAX_BATCH], queue[MAX_BATCH:]
                if rest:
                    self._pending[case_id] = rest + self._pending.get(case_id, [])
                try:
                    async with self.pool.acquire() as conn, conn.transaction():
                        results = await self._append_in_tx(conn, case_id, [d for d, _ in batch])
                except BaseException as exc:
                    if not isinstance(exc, Exception):
                        self._fail(batch, LogError(repr(exc)))
                        raise
                    if len(batch) == 1 or not any(d.rows for d, _ in batch):
                        self._fail(batch, exc)
                        continue
                    # One draft's rows may have been refused: retry each alone, so only that one fails.
                    for one in batch:
                        try:
                            async with self.pool.acquire() as conn, conn.transaction():
                                single = await self._append_in_tx(conn, case_id, [one[0]])
                        except Exception as exc_one:
                            self._fail([one], exc_one)
                            continue
                        self._deliver(case_id, [one], single)
                    continue
                self._deliver(case_id, batch, results)
        finally:
            self._writers.pop(case_id, None)
            for _, fut in self._pending.pop(case_id, []):
                if not fut.done():
                    fut.set_exception(LogError("appender stopped"))

    async def _append_in_tx(
        self, conn: asyncpg.Connection, case_id: str, drafts: Sequence[Draft]
    ) -> list[Appended]:
        head = await conn.fetchrow(
            "SELECT size, frontier, last_leaf FROM cases WHERE id = $1 FOR UPDATE", case_id
        )
        if head is None:
            raise CaseNotFound(case_id)
        size: int = head["size"]
        frontier: list[bytes] = list(head["frontier"])
        prev: bytes | None = head["last_leaf"] if size else None
        now = dt.datetime.now(dt.UTC)

        existing = await self._existing_dedupes(conn, case_id, drafts)
        planned: list[tuple[int, bytes, bytes] | str] = []  # (seq, body, leaf) or a dedupe key
        seen: dict[str, int] = {}
        entry_rows: list[tuple[Any, ...]] = []
        node_rows: list[tuple[str, int, int, bytes]] = []
        for draft in drafts:
            if draft.dedupe is not None and (draft.dedupe in existing or draft.dedupe in seen):
                planned.append(draft.dedupe)
                continue
            seq = size
            body = build_entry(case_id=case_id, seq=seq, prev=prev, time=now, actor=draft.actor, kind=draft.kind,
                               fields=draft.fields)
            leaf = merkle.leaf_hash(body)
            frontier, new_nodes = merkle.append_to_frontier(frontier, leaf, size)
            node_rows.extend((case_id, level, idx, h) for level, idx, h in new_nodes)
            entry_rows.append((case_id, seq, draft.kind, draft.actor, body, leaf, draft.blake3, draft.dedupe))
            planned.append((seq, body, leaf))
            if draft.dedupe is not None:
                seen[draft.dedupe] = seq
            prev = leaf
            size += 1

        checkpoint_note = b""
        if entry_rows:
            at = dt.datetime.now(dt.UTC)
            await conn.executemany(
                """INSERT INTO entries (case_id, seq, kind, actor, at, body, leaf_hash, blake3, dedupe)
                   VALUES ($1, $2, $3, $4, $9, $5, $6, $7, $8)""",
                [(*row, at) for row in entry_rows],
            )
            await conn.executemany(
                "INSERT INTO tree_nodes (case_id, level, idx, hash) VALUES ($1, $2, $3, $4)", node_rows
            )
            root = merkle.root_from_frontier(frontier)
            await conn.execute(
                "UPDATE cases SET size = $2, root = $3, last_leaf = $4, frontier = $5 WHERE id = $1",
                case_id, size, root, prev, frontier,
            )
            checkpoint_note = sign_checkpoint(Checkpoint(case_origin(self.host, case_id), size, root),
                                              self.signer)
            await conn.execute(
                "INSERT INTO checkpoints (case_id, size, root, note, key_id) VALUES ($1, $2, $3, $4, $5)",
                case_id, size, root, checkpoint_note.decode(), self.signer.key_id.hex(),
            )
        else:
            latest = await self._latest_checkpoint(conn, case_id)
            checkpoint_note = latest.note if latest else b""
        for draft, item in zip(drafts, planned, strict=True):
            if draft.rows is not None and not isinstance(item, str):
                await draft.rows(conn, case_id, item[0])

        results: list[Appended] = []
        for item in planned:
            if isinstance(item, str):
                seq_existing = existing.get(item, seen.get(item))
                assert seq_existing is not None
                row = await conn.fetchrow(
                    "SELECT body, leaf_hash FROM entries WHERE case_id = $1 AND seq = $2", case_id, seq_existing
                )
                results.append(Appended(case_id, seq_existing, row["body"], row["leaf_hash"],
                                        checkpoint_note, size, created=False))
            else:
                seq, body, leaf = item
                results.append(Appended(case_id, seq, body, leaf, checkpoint_note, size, created=True))
        return results

    def _deliver(self, case_id: str, batch: Sequence[tuple[Draft, asyncio.Future[Appended]]],
                 results: Sequence[Appended]) -> None:
        if self.archive is None:
            self._hand_out(batch, results)
        else:
            # The archive write of this batch's checkpoint overlaps the next batch's transaction;
            # the batch's callers get their results (and the checkpoint) only once it is written.
            task = asyncio.create_task(self._archive_then_hand_out(case_id, batch, results))
            self._archiving.add(task)
            task.add_done_callback(self._archiving.discard)

    @staticmethod
    def _fail(batch: Sequence[tuple[Draft, asyncio.Future[Appended]]], exc: Exception) -> None:
        for _, fut in batch:
            if not fut.done():
                fut.set_exception(exc)

    @staticmethod
    def _hand_out(batch: Sequence[tuple[Draft, asyncio.Future[Appended]]], results: Sequence[Appended]) -> None:
        for (_, fut), result in zip(batch, results, strict=True):
            if not fut.done():
                fut.set_result(result)

    async def _archive_then_hand_out(self, case_id: str, batch: Sequence[tuple[Draft, asyncio.Future[Appended]]],
                                     results: Sequence[Appended]) -> None:
        try:
            await self._archive_checkpoint(case_id, results)
        finally:
            self._hand_out(batch, results)

    async def _archive_checkpoint(self, case_id: str, results: Sequence[Appended]) -> None:
        """Write the checkpoint a committed batch signed to the archive (nothing new signed: nothing)."""
        if self.archive is None or not any(r.created for r in results):
            return
        last = results[-1]
        try:
            await self.archive.put_record(checkpoint_key(case_id, last.tree_size), last.checkpoint)
        except (StoreError, OSError) as exc:
            # The entry is committed and its checkpoint is in the table; scrub names the missing copy.
            logger.error("case %s: checkpoint of size %d not archived in the object store: %s",
                         case_id, last.tree_size, exc)

    @staticmethod
    async def _existing_dedupes(
        conn: asyncpg.Connection, case_id: str, drafts: Sequence[Draft]
    ) -> dict[str, int]:
        keys = [d.dedupe for d in drafts if d.dedupe is not None]
        if not keys:
            return {}
        rows = await conn.fetch(
            "SELECT dedupe, seq FROM entries WHERE case_id = $1 AND dedupe = ANY($2::text[])", case_id, keys
        )
        return {r["dedupe"]: r["seq"] for r in rows}

    # -- reading -----------------------------------------------------------------------------

    async def head(self, case_id: str) -> tuple[int, bytes]:
        row = await self.pool.fetchrow("SELECT size, root FROM cases WHERE id = $1", case_id)
        if row is None:
            raise CaseNotFound(case_id)
        return row["size"], row["root"]

    async def entries(self, case_id: str, start: int = 0, end: int | None = None) -> list[EntryRow]:
        """Entries ``start <= seq < end`` in order."""
        rows = await self.pool.fetch(
            """SELECT case_id, seq, kind, actor, at, body, leaf_hash, blake3 FROM entries
               WHERE case_id = $1 AND seq >= $2 AND ($3::bigint IS NULL OR seq < $3) ORDER BY seq""",
            case_id, start, end,
        )
        return [EntryRow(**dict(r)) for r in rows]

    async def entry(self, case_id: str, seq: int) -> EntryRow:
        rows = await self.entries(case_id, seq, seq + 1)
        if not rows:
            raise BadRange(f"case {case_id!r} has no entry {seq}")
        return rows[0]

    async def entries_of_kinds(self, case_id: str, prefixes: tuple[str, ...]) -> list[EntryRow]:
        """A case's entries whose kind starts with one of ``prefixes`` (e.g. ``"disclosure."``), in order:
        a record's history without reading the case's evidence and access entries."""
        rows = await self.pool.fetch(
            """SELECT case_id, seq, kind, actor, at, body, leaf_hash, blake3 FROM entries
               WHERE case_id = $1 AND kind LIKE ANY($2::text[]) ORDER BY seq""",
            case_id, [like_literal(p) + "%" for p in prefixes],
        )
        return [EntryRow(**dict(r)) for r in rows]

    async def entries_for_object(self, blake3_hex: str, case_id: str | None = None) -> list[EntryRow]:
        rows = await self.pool.fetch(
            """SELECT case_id, seq, kind, actor, at, body, leaf_hash, blake3 FROM entries
               WHERE blake3 = $1 AND ($2::text IS NULL OR case_id = $2) ORDER BY case_id, seq""",
            blake3_hex, case_id,
        )
        return [EntryRow(**dict(r)) for r in rows]

    async def _latest_checkpoint(self, conn: Any, case_id: str) -> StoredCheckpoint | None:
        row = await conn.fetchrow(
            "SELECT case_id, size, root, note FROM checkpoints WHERE case_id = $1 ORDER BY size DESC LIMIT 1",
            case_id,
        )
        return _checkpoint(row)

    async def checkpoint(self, case_id: str, size: int | None = None) -> StoredCheckpoint:
        """The latest signed checkpoint, or the one signed at exactly ``size``."""
        if size is None:
            found = await self._latest_checkpoint(self.pool, case_id)
        else:
            found = _checkpoint(await self.pool.fetchrow(
                "SELECT case_id, size, root, note FROM checkpoints WHERE case_id = $1 AND size = $2",
                case_id, size,
            ))
        if found is None:
            if not await self.case_exists(case_id):
                raise CaseNotFound(case_id)
            raise BadRange(f"case {case_id!r} has no checkpoint at size {size}")
        return found

    async def all_checkpoints(self, case_id: str) -> list[StoredCheckpoint]:
        """Every checkpoint signed for a case, smallest tree first."""
        rows = await self.pool.fetch(
            "SELECT case_id, size, root, note FROM checkpoints WHERE case_id = $1 ORDER BY size", case_id)
        return [StoredCheckpoint(r["case_id"], r["size"], r["root"], r["note"].encode()) for r in rows]

    async def _nodes(self, case_id: str, wanted: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        if not wanted:
            return {}
        levels, idxs = zip(*sorted(wanted), strict=True)
        rows = await self.pool.fetch(
            """SELECT n.level, n.idx, n.hash FROM tree_nodes n
               JOIN unnest($2::smallint[], $3::bigint[]) AS w(level, idx)
                 ON n.level = w.level AND n.idx = w.idx
               WHERE n.case_id = $1""",
            case_id, list(levels), list(idxs),
        )
        return {(r["level"], r["idx"]): r["hash"] for r in rows}

    async def _with_nodes(self, case_id: str, compute: Any) -> list[bytes]:
        """Run a proof computation twice: once to learn which nodes it reads, once with them.

        The set of nodes a proof reads depends only on (index, size), never on hash values, so the
        first pass with placeholder hashes names exactly the rows to fetch, in one query.
        """
        wanted: set[tuple[int, int]] = set()

        def record(level: int, idx: int) -> bytes:
            wanted.add((level, idx))
            return bytes(32)

        compute(record)
        nodes = await self._nodes(case_id, wanted)
        missing = wanted - set(nodes)
        if missing:
            raise LogError(f"case {case_id!r}: tree nodes missing from the database: {sorted(missing)[:5]}")
        proof: list[bytes] = compute(lambda level, idx: nodes[(level, idx)])
        return proof

    async def inclusion_proof(
        self, case_id: str, index: int, size: int, *, size_is_signed: bool = False
    ) -> list[bytes]:
        """RFC 9162 inclusion proof; ``size_is_signed`` skips the bounds query (size comes from a checkpoint)."""
        key = (case_id, index, size)
        if (cached := self._proofs.get(key)) is not None:
            self._proofs.move_to_end(key)
            return list(cached)
        current = size if size_is_signed else (await self.head(case_id))[0]
        if not 0 <= index < size <= current:
            raise BadRange(f"need 0 <= index < size <= {current}; got index {index}, size {size}")
        proof = await self._with_nodes(case_id, lambda get: merkle.inclusion_proof(index, size, get))
        self._keep_proof(key, proof)
        return proof

    def inclusion_proof_from(self, case_id: str, index: int, size: int, node: merkle.NodeGetter, *,
                             fresh: bool = False) -> list[bytes]:
        """RFC 9162 inclusion proof from tree nodes already read with the entry (``storage.verification``).

        ``size`` is a signed checkpoint's; ``node`` raises KeyError for a node it does not have.
        ``fresh``: computed from ``node`` even if a proof is kept for (case, index, size), which it replaces.
        """
        key = (case_id, index, size)
        if not fresh and (cached := self._proofs.get(key)) is not None:
            self._proofs.move_to_end(key)
            return list(cached)
        try:
            proof = merkle.inclusion_proof(index, size, node)
        except KeyError as exc:
            raise LogError(f"case {case_id!r}: tree node {exc.args[0]} missing for the proof of {index} in {size}") \
                from None
        self._keep_proof(key, proof)
        return proof

    def _keep_proof(self, key: tuple[str, int, int], proof: list[bytes]) -> None:
        # A tuple of bytes, a key of str and ints: the collector stops tracking both after their first
        # collection, so 10,000 kept proofs do not lengthen every full collection (a list would).
        self._proofs[key] = tuple(proof)
        if len(self._proofs) > PROOF_CACHE_ENTRIES:
            self._proofs.popitem(last=False)

    async def consistency_proof(self, case_id: str, old_size: int, new_size: int) -> list[bytes]:
        current, _ = await self.head(case_id)
        if not 0 <= old_size <= new_size <= current:
            raise BadRange(f"need 0 <= old <= new <= {current}; got old {old_size}, new {new_size}")
        return await self._with_nodes(case_id, lambda get: merkle.consistency_proof(old_size, new_size, get))


def _checkpoint(row: Any) -> StoredCheckpoint | None:
    if row is None:
        return None
    return StoredCheckpoint(row["case_id"], row["size"], row["root"], row["note"].encode())
