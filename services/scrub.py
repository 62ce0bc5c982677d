"""Scrub: check that what the server holds still agrees with itself, and report — never repair.

Per case:

1. the log: every entry is canonical, carries its ``seq`` and links by ``prev``; the entries
   recompute to the root of the latest signed checkpoint; every object an entry names re-hashes to it;
2. the tree the database keeps: every ``tree_nodes`` row and the ``cases`` tree head equal what the
   entries recompute to (proofs and receipts are answered from those rows);
3. the rows the log determines (``policy.log_state``): the case's handler, restriction, closure and
   retention class, its evidence index, grants, holds, disclosure records and reviews, shares, tags
   and stills, attachments, redaction versions and bookmarks, re-derived from the entries and compared
   with the tables; for the governance log, the retention classes, the bureau's tag list, the
   basic-information pages, the law changes and the principals (who exists, in which role, revoked or
   not, display fields: ``principal_unlogged`` is a user or station no ``principal.added`` entry
   introduced — ``custody user record-existing`` logs those of a store upgraded from before account
   entries, once);
4. the checkpoints the server issued (``checkpoints`` and the write-once copies in the object store):
   each verifies, and the current tree is consistent with every one of them (an RFC 6962 consistency
   proof from the recomputed tree), so a rollback — last entries, their checkpoints and the case row
   rewound by someone with the database — is reported.
5. leftovers of a write that did not finish (once per run over all cases): objects in the store that
   no entry of any case names, stored longer ago than ``ORPHAN_GRACE`` (``orphan_object``: an outage
   or crash between the store write and the entry; uploading the same bytes again reuses the object
   and logs it once; ``custody store check`` lock probes are not reported), and upload sessions
   still open long after the sweep should have closed them (``upload_stuck_open``).

Every finding has a stable ``code`` (``policy.log_state.Finding``).  The run and its findings are
recorded (``scrub_runs``) and logged at ERROR.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from integrity.checkpoint import Checkpoint, open_checkpoint
from integrity.entry import Link, case_origin, check_chain
from integrity.errors import BrokenChain, IntegrityError, SeqGap
from integrity.hashing import object_key
from integrity.merkle import MemoryTree, consistency_proof, root_from_frontier, verify_consistency
from integrity.note import Verifier
from policy.cases import GOVERNANCE_CASE
from policy.log_state import Finding, compare, compare_principals, fold
from services.locker import Locker
from storage import cached_rows, catalog, principals, uploads
from storage.log import EntryRow, StoredCheckpoint
from storage.objects import LOCK_PROBE_PREFIX, StoreError, checkpoint_key, checkpoints_prefix, key_hex, record_size

logger = logging.getLogger(__name__)


async def scrub(locker: Locker, case_id: str | None = None, *, archive_missing: bool = False,
                orphan_grace: dt.timedelta | None = None, upload_idle: dt.timedelta | None = None) -> list[Finding]:
    """Scrub one case (or every case); returns the findings, recorded in ``scrub_runs``.

    ``archive_missing``: copy into the object store each checkpoint of the table that has no archived
    copy yet, verifies and is consistent with the log (once, after upgrading a server whose
    checkpoints predate the archive); each case it did this for is still reported.  A run over every
    case also reports the leftovers of unfinished writes (``leftovers``; objects younger than
    ``orphan_grace``, default ``ORPHAN_GRACE``, are not orphans yet; an upload session is stuck once
    it has been idle an hour longer than ``upload_idle``, the server's ``CUSTODY_UPLOAD_IDLE_HOURS``,
    after which the hourly sweep should have closed it).
    """
    started = dt.datetime.now(dt.UTC)
    cases = [case_id] if case_id else [c["id"] for c in await locker.log.list_cases()]
    verifiers = locker.keys.verifiers()
    checked: set[str] = set()
    found: list[Finding] = []
    for cid in cases:
        found += await scrub_case(locker, cid, verifiers, checked, archive_missing=archive_missing)
    if case_id is None and GOVERNANCE_CASE not in cases:  # no governance log: no principal is logged
        found += compare_principals(GOVERNANCE_CASE, {}, await principals.logged_rows(locker.pool))
    if case_id is None:
        stuck = UPLOAD_STUCK if upload_idle is None else upload_idle + SWEEP_SLACK
        found += await leftovers(locker, grace=ORPHAN_GRACE if orphan_grace is None else orphan_grace, stuck=stuck)
    for finding in found:
        logger.error("scrub: %s", finding)
    await catalog.record_scrub(locker.pool, started, case_id or "*", len(cases), len(checked),
                               [f.as_json() for f in found])
    return found


#: An object younger than this may be between its store write and its entry right now: not an orphan yet.
ORPHAN_GRACE = dt.timedelta(hours=1)
#: The sweep closing idle upload sessions runs hourly: one more hour than the idle limit is "stuck".
SWEEP_SLACK = dt.timedelta(hours=1)
#: An upload session open this long with no write is stuck (the default idle limit, 24 h, + the slack).
UPLOAD_STUCK = dt.timedelta(hours=24) + SWEEP_SLACK


async def leftovers(locker: Locker, *, grace: dt.timedelta = ORPHAN_GRACE,
                    stuck: dt.timedelta = UPLOAD_STUCK) -> list[Finding]:
    """Objects no entry names and upload sessions stuck open: what an unfinished write left behind."""
    found: list[Finding] = []
    keys = await locker.store.object_keys(grace)
    named = await catalog.logged_objects(locker.pool, [key_hex(k) for k in keys])
    for key in keys:
        if key_hex(key) in named or await _lock_probe(locker, key):
            continue
        found.append(Finding("orphan_object", "*",
                             f"object {key_hex(key)} in the store is named by no entry of any case: not evidence "
                             "(a write cut off before its entry); uploading the same bytes again logs it"))
    found += [Finding("upload_stuck_open", u.case_id,
                      f"upload {u.id} from station {u.station} ({u.kind}, {u.blake3}) is still open, last "
                      f"written {u.updated_at:%Y-%m-%d %H:%M}Z")
              for u in await uploads.stuck_open(locker.pool, stuck)]
    return found


async def _lock_probe(locker: Locker, key: str) -> bool:
    """Whether ``key`` is a ``custody store check`` lock probe (locked, never evidence)."""
    try:
        if (await locker.store.head(key)).size > 200:
            return False
        data = b"".join([chunk async for chunk in locker.store.get(key)])
    except StoreError:
        return False
    return data.startswith(LOCK_PROBE_PREFIX)


async def scrub_log(locker: Locker, case_id: str) -> list[Finding]:
    """Only part 1 (the log and its objects), as scrub did before the tables were compared; for the bench."""
    rows = await locker.log.entries(case_id)
    found, _, _ = await _log(locker, case_id, rows, locker.keys.verifiers(), set(), fold_disposed=True)
    return found


async def scrub_case(locker: Locker, case_id: str, verifiers: Sequence[Verifier], checked: set[str], *,
                     archive_missing: bool = False) -> list[Finding]:
    rows = await locker.log.entries(case_id)
    found, links, tree = await _log(locker, case_id, rows, verifiers, checked)
    found += await _tree_rows(locker, case_id, tree)
    derived = fold(link.entry for link in links if link.entry is not None)
    found += await _objects(locker, case_id, links, rows, checked, gone=derived.disposed)
    found += compare(case_id, derived, await cached_rows.table_rows(locker.pool, case_id,
                                                                    with_classes=case_id == GOVERNANCE_CASE))
    found += await _checkpoints(locker, case_id, tree, verifiers, archive_missing)
    return found


# -- 1. the log --------------------------------------------------------------------------------------


async def _log(locker: Locker, case_id: str, rows: list[EntryRow], verifiers: Sequence[Verifier],
               checked: set[str], *, fold_disposed: bool = False) -> tuple[list[Finding], list[Link], MemoryTree]:
    found: list[Finding] = []
    links = list(check_chain((r.body for r in rows), case_id))
    tree = MemoryTree(link.leaf for link in links)
    for link, row in zip(links, rows, strict=True):
        found += _link_problems(case_id, link, row)
    cp = await locker.log.checkpoint(case_id)
    try:
        checkpoint, _ = open_checkpoint(cp.note, verifiers)
    except IntegrityError as exc:
        found.append(Finding("checkpoint_unverified", case_id,
                             f"case {case_id}: latest checkpoint (size {cp.size}) does not verify: {exc}"))
    else:
        found += _latest_root(case_id, tree, checkpoint)
    if fold_disposed:
        gone = fold(link.entry for link in links if link.entry is not None).disposed
        found += await _objects(locker, case_id, links, rows, checked, gone=gone)
    return found, links, tree


def _latest_root(case_id: str, tree: MemoryTree, checkpoint: Checkpoint) -> list[Finding]:
    if checkpoint.size > tree.size:
        return [Finding("log_shorter_than_checkpoint", case_id,
                        f"case {case_id}: the latest signed checkpoint is of size {checkpoint.size}, "
                        f"the log holds {tree.size} entries")]
    root = tree.root(checkpoint.size)
    if root != checkpoint.root:
        return [Finding("root_mismatch", case_id,
                        f"case {case_id}: entries recompute to root {root.hex()}, signed checkpoint "
                        f"says {checkpoint.root.hex()} (size {checkpoint.size})")]
    if tree.size > checkpoint.size:
        return [Finding("entries_beyond_checkpoint", case_id,
                        f"case {case_id}: {tree.size - checkpoint.size} entries after the latest signed "
                        f"checkpoint (size {checkpoint.size}); every append signs one")]
    return []


async def _objects(locker: Locker, case_id: str, links: list[Link], rows: list[EntryRow],
                   checked: set[str], *, gone: set[str]) -> list[Finding]:
    """Re-hash every object the entries name, but those disposed of under retention (``gone``)."""
    found: list[Finding] = []
    seen: set[str] = set(gone)
    for link, row in zip(links, rows, strict=True):
        entry = link.entry
        # An unreadable body is reported above; a later entry about the same object still checks it.
        if not row.blake3 or row.blake3 in seen or entry is None:
            continue
        seen.add(row.blake3)
        checked.add(row.blake3)
        try:
            result = await locker.store.verify(object_key(row.blake3))
        except (StoreError, ValueError) as exc:  # ValueError: the row's hash is no BLAKE3 digest
            found.append(Finding("object_unreadable", case_id,
                                 f"case {case_id} entry {row.seq}: object {row.blake3} unreadable: {exc}"))
            continue
        d = result.digest
        if (d.blake3, d.sha256, d.size) != (row.blake3, entry.get("sha256"), entry.get("size")):
            found.append(Finding("object_mismatch", case_id,
                                 f"case {case_id} entry {row.seq}: stored object blake3/{row.blake3} no longer "
                                 f"matches its entry (now blake3 {d.blake3}, sha256 {d.sha256}, {d.size} bytes)"))
    return found


def _link_problems(case_id: str, link: Link, row: EntryRow) -> list[Finding]:
    """What ``check_chain`` found wrong with one stored entry, plus what only the row can show."""
    where = f"case {case_id} entry {link.seq}"
    if link.entry is None:
        return [Finding("entry_not_canonical", case_id, f"{where}: body is not canonical JSON: {problem}")
                for problem in link.problems]
    found = []
    if link.leaf != row.leaf_hash:
        found.append(Finding("entry_leaf_mismatch", case_id,
                             f"{where}: stored leaf hash {row.leaf_hash.hex()} != hash of body {link.leaf.hex()}"))
    if row.seq != link.seq or any(isinstance(p, SeqGap) for p in link.problems):
        found.append(Finding("entry_out_of_place", case_id,
                             f"{where}: seq {link.entry.get('seq')} (row {row.seq}) out of place"))
    for problem in link.problems:
        if isinstance(problem, BrokenChain):
            found.append(Finding("entry_chain_broken", case_id, f"{where}: prev {problem.actual} does not link "
                                                                f"to entry {link.seq - 1} ({problem.expected})"))
        elif not isinstance(problem, SeqGap):
            found.append(Finding("entry_invalid", case_id, f"{where}: {problem}"))
    return found


# -- 2. the tree rows --------------------------------------------------------------------------------


async def _tree_rows(locker: Locker, case_id: str, tree: MemoryTree) -> list[Finding]:
    found: list[Finding] = []
    stored = {(level, idx): h for level, idx, h in await cached_rows.tree_nodes(locker.pool, case_id)}
    size = tree.size
    for (level, idx), h in sorted(stored.items()):
        if (idx + 1) << level > size:
            found.append(Finding("tree_node_unlogged", case_id, f"case {case_id}: tree node (level {level}, index "
                                                                f"{idx}) lies beyond the {size} entries"))
        elif h != tree.get_node(level, idx):
            found.append(Finding("tree_node_mismatch", case_id,
                                 f"case {case_id}: tree node (level {level}, index {idx}) is {h.hex()}, the "
                                 f"entries recompute it to {tree.get_node(level, idx).hex()}"))
    level = 0
    while size >> level:
        missing = [idx for idx in range(size >> level) if (level, idx) not in stored]
        if missing:
            found.append(Finding("tree_node_missing", case_id, f"case {case_id}: {len(missing)} tree node(s) of "
                                                               f"level {level} missing (first: index {missing[0]})"))
        level += 1
    found += _head(case_id, tree, await cached_rows.tree_head(locker.pool, case_id))
    return found


def _head(case_id: str, tree: MemoryTree, head: dict[str, Any] | None) -> list[Finding]:
    if head is None:
        return [Finding("case_row_missing", case_id, f"case {case_id}: no cases row")]
    size = tree.size
    frontier = [tree.get_node(level, (size >> level) - 1) for level in reversed(range(size.bit_length()))
                if size >> level & 1]
    want = {"size": size, "root": root_from_frontier(frontier), "frontier": frontier,
            "last_leaf": tree.get_node(0, size - 1) if size else bytes(32)}
    diffs = [name for name in ("size", "root", "last_leaf", "frontier") if list_or(head[name]) != list_or(want[name])]
    if not diffs:
        return []
    return [Finding("tree_head_mismatch", case_id, f"case {case_id}: the tree head in the cases row disagrees with "
                                                   f"the entries ({', '.join(diffs)}; row size {head['size']}, "
                                                   f"entries {size})")]


def list_or(value: Any) -> Any:
    return list(value) if isinstance(value, list | tuple) else value


# -- 4. the checkpoints ------------------------------------------------------------------------------


def _sizes(sizes: Sequence[int]) -> str:
    shown = ", ".join(str(n) for n in sizes[:5])
    return f"{len(sizes)} ({shown}{', ...' if len(sizes) > 5 else ''})"


async def _checkpoints(locker: Locker, case_id: str, tree: MemoryTree, verifiers: Sequence[Verifier],
                       archive_missing: bool) -> list[Finding]:
    """The table's checkpoints against the archived copies, then all of them against the tree."""
    table = {cp.size: cp.note for cp in await locker.log.all_checkpoints(case_id)}
    try:
        archived = await locker.store.records(checkpoints_prefix(case_id))
    except StoreError as exc:
        archived = []
        unreadable = [Finding("checkpoint_archive_unreadable", case_id,
                              f"case {case_id}: the archived checkpoints cannot be read: {exc}")]
    else:
        unreadable = []
    found: list[Finding] = unreadable
    copies: dict[int, set[bytes]] = {}
    for key, note in archived:
        copies.setdefault(record_size(key), set()).add(note)
    if gone := sorted(set(copies) - set(table)):
        found.append(Finding("checkpoint_row_missing", case_id,
                             f"case {case_id}: {_sizes(gone)} checkpoint(s) the server issued and archived are "
                             "no longer in the checkpoints table (sizes)"))
    if not unreadable and (unarchived := sorted(set(table) - set(copies))):
        found.append(Finding("checkpoint_unarchived", case_id,
                             f"case {case_id}: {_sizes(unarchived)} checkpoint(s) in the table have no archived "
                             "copy in the object store (sizes)" + (await _archive(locker, case_id, tree, {
                                 n: table[n] for n in unarchived}, verifiers) if archive_missing else "")))
    for size in sorted(copies):
        if len(copies[size]) > 1 or (size in table and table[size] not in copies[size]):
            found.append(Finding("checkpoint_archive_mismatch", case_id,
                                 f"case {case_id}: the checkpoint of size {size} differs between the table and "
                                 "the archive (or the archive holds two)"))
    notes = {(size, note) for size, held in copies.items() for note in held} | set(table.items())
    issued = [StoredCheckpoint(case_id, size, b"", note) for size, note in sorted(notes)]
    return found + check_issued(case_id, locker.log.host, tree, issued, verifiers)


async def _archive(locker: Locker, case_id: str, tree: MemoryTree, notes: dict[int, bytes],
                   verifiers: Sequence[Verifier]) -> str:
    """Copy the checkpoints that hold (verify, consistent with the log) into the archive; says how many."""
    copied = 0
    for size, note in notes.items():
        if not check_issued(case_id, locker.log.host, tree, [StoredCheckpoint(case_id, size, b"", note)], verifiers):
            await locker.store.put_record(checkpoint_key(case_id, size), note)
            copied += 1
    return f"; {copied} of them verified and are now archived"


def check_issued(case_id: str, host: str, tree: MemoryTree, issued: Sequence[StoredCheckpoint],
                 verifiers: Sequence[Verifier]) -> list[Finding]:
    """The current tree against every checkpoint issued: signature, then an RFC 6962 consistency proof."""
    found: list[Finding] = []
    size, root = tree.size, tree.root()
    origin = case_origin(host, case_id)
    for cp in issued:
        try:
            checkpoint, _ = open_checkpoint(cp.note, verifiers)
        except IntegrityError as exc:
            found.append(Finding("checkpoint_unverified", case_id,
                                 f"case {case_id}: issued checkpoint of size {cp.size} does not verify: {exc}"))
            continue
        if checkpoint.origin != origin or checkpoint.size != cp.size:
            found.append(Finding("checkpoint_archive_mismatch", case_id,
                                 f"case {case_id}: a checkpoint kept as size {cp.size} is for {checkpoint.origin} "
                                 f"at size {checkpoint.size}"))
            continue
        if checkpoint.size > size:
            found.append(Finding("rollback", case_id,
                                 f"case {case_id}: a checkpoint of size {checkpoint.size} was issued, the log now "
                                 f"holds {size} entries: entries were removed (rolled back)"))
            continue
        try:
            verify_consistency(checkpoint.size, size, checkpoint.root, root,
                               consistency_proof(checkpoint.size, size, tree.get_node))
        except IntegrityError as exc:
            found.append(Finding("checkpoint_inconsistent", case_id,
                                 f"case {case_id}: the log is not consistent with the checkpoint issued at size "
                                 f"{checkpoint.size}: {exc}"))
    return found
