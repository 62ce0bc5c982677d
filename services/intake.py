"""Resumable uploads from docking stations, streamed straight into the object store in one pass.

A session is an in-flight ``store.put`` whose byte source is a bounded queue; each chunk request
feeds the queue, so the bytes are hashed (BLAKE3 + SHA-256) while they are written, and nothing is
read twice.  ``received`` counts the bytes handed to the store: a dropped connection keeps what
arrived, and the station resumes from ``received`` (a resent overlap is skipped, so chunks are
idempotent).  When the declared size is reached the put completes only if the hash equals the
declared one, and the entry is appended; otherwise nothing is stored or logged.

The session lives in the process that owns it.  If that process is gone (restart, or the request
reached another server), the session restarts from offset 0 in the new owner: the camera and the
station spool still hold the file, so a restart costs time, never evidence.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import re
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from foundation.errors import CustodyError, NotFound, Status
from policy.cases import GOVERNANCE_CASE, STAGES, check_stage, current_stage
from services import locks, thumbnails
from services.evidence import decision_gate
from services.locker import Locker, Receipt, check_fields
from services.permissions import STATION, authorize
from services.restriction import require_read
from storage import catalog, uploads
from storage.log import Appended, CaseExists, CaseNotFound, Draft, EntryRow
from storage.objects import HashMismatch, StoredObject, StoreError, StoreUnavailable
from storage.principals import Principal

logger = logging.getLogger(__name__)

#: Queue depth in request-body chunks (<= 256 KiB each): well under a MiB in flight per upload.
QUEUE_DEPTH = 2
#: The store's hashing/writing block for uploads: small, so many concurrent uploads stay in budget.
UPLOAD_BLOCK_BYTES = 1024 * 1024
#: ... but an upload that starts while no other is in flight here takes bigger ones: each block
#: costs the store three thread hand-offs, and at 1 MiB their wake-ups took CPU the hashes needed
#: (issue 17 item 4: 0.80 -> 0.90 of the SHA-256 floor).  At most one upload holds such a ring at a
#: time (any other starts beside it), so 20 concurrent uploads hold at most 9 MiB more.
LONE_UPLOAD_BLOCK_BYTES = 4 * 1024 * 1024
KIND_OF = {"original": "evidence.ingested", "proxy": "evidence.derived", "record": "record.added"}


class UploadError(CustodyError):
    status = Status.MALFORMED
    code = "upload_error"


class BadDeclaration(UploadError):
    """A declaration the rules refuse (a proxy before its original)."""

    status = Status.INVALID
    code = "invalid"


class AlreadyEvidence(UploadError):
    """The bytes are already logged in the case by another principal: no receipt of theirs is handed out."""

    status = Status.CONFLICT
    code = "already_evidence"


class UploadNotFound(UploadError):
    status = Status.NOT_FOUND
    code = "upload_not_found"


class OffsetMismatch(UploadError):
    """The chunk does not start where the server's copy ends; ``extra['offset']`` says where to resume."""

    status = Status.CONFLICT
    code = "offset_mismatch"


class CaseClosed(UploadError):
    status = Status.CONFLICT
    code = "case_closed"


class UploadFailed(UploadError):
    status = Status.CONFLICT
    code = "upload_failed"


class StoreDown(UploadFailed):
    """The object store is unreachable or failing: nothing was kept, and the same upload may be
    started again later (503: the station retries, its copy is untouched)."""

    status = Status.UNAVAILABLE
    code = "store_unavailable"


@dataclass
class Session:
    row: uploads.UploadRow
    queue: asyncio.Queue[bytes | None]
    task: asyncio.Task[StoredObject]
    received: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass(frozen=True, slots=True)
class UploadStatus:
    id: uuid.UUID
    state: str
    size: int
    received: int
    case_id: str
    receipt: Receipt | None = None
    error: str | None = None
    #: The case already logged these bytes (the receipt is that entry's); nothing was stored again.
    already: bool = False

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": str(self.id), "state": self.state, "size": self.size,
                               "offset": self.received, "case": self.case_id}
        if self.receipt is not None:
            out["receipt"] = self.receipt.as_json()
        if self.error:
            out["error"] = self.error
        if self.already:
            out["already"] = True
        return out


async def _drain_queue(queue: asyncio.Queue[bytes | None]) -> AsyncIterator[bytes]:
    while (item := await queue.get()) is not None:
        yield item


def _empty(queue: asyncio.Queue[bytes | None]) -> None:
    while not queue.empty():
        queue.get_nowait()


class UploadManager:
    def __init__(self, locker: Locker, owner: str) -> None:
        self.locker = locker
        self.owner = owner
        self._sessions: dict[uuid.UUID, Session] = {}
        self._starting = asyncio.Lock()  # two requests for a new session must not start two puts
        #: Stills being made from committed proxies (``services.thumbnails``): after the receipt, never before.
        self._stills: set[asyncio.Task[None]] = set()

    async def create(self, *, who: Principal, case_id: str | None, kind: str, blake3: str, size: int,
                     fields: dict[str, Any]) -> UploadStatus:
        """Open a session, or answer at once with the receipt if this case already logs this file.

        No case: the recording goes to the officer's (or the station's) intake case of the day.  A proxy
        is taken only once its original is evidence in the same case.
        """
        station = who.role in STATION
        authorize(who, "evidence.upload" if station else "evidence.add")
        check_fields(fields)  # before anything is written: no session, no bytes for a value the index refuses
        if not station:
            case_id = await self._user_declaration(who, case_id, kind)
        elif case_id is None:
            case_id = await self._intake_case(who, fields.get("officer"), fields.get("recorded_at"))
        await self._require_open_to_stations(case_id)
        # Evidence has a stage too (§三 全过程记录): the one declared, else the case's current stage.
        fields = {**fields, "stage": check_stage(fields["stage"]) if fields.get("stage") else
                  current_stage(await catalog.record_stages(self.locker.pool, case_id))}
        if kind == "record":  # a record is filed as `record.add` files it: its stage in both languages
            fields["stage_zh"] = STAGES[fields["stage"]]
            if not station:  # a decision-stage record names its cleared decision (§四), as record.add asks
                await decision_gate(self.locker, case_id, fields["stage"], fields.get("decision_no"), fields)
        if kind == "proxy":
            originals = await self.locker.log.entries_for_object(fields["original_blake3"], case_id)
            if not any(r.kind == "evidence.ingested" for r in originals):
                raise BadDeclaration(f"the original {fields['original_blake3']} is not evidence in case "
                                     f"{case_id!r}; upload the original first")
        entry = await self._logged(case_id, blake3, KIND_OF[kind])
        if entry is not None:
            await locks.ensure_locked(self.locker.pool, self.locker.store, blake3)
            if entry.actor != who.actor and station:
                # Another station's (or a user's) entry: its fields are not this station's to read.
                raise AlreadyEvidence(f"these bytes are already evidence in case {case_id!r}, logged by someone "
                                      "else; keep the file and ask an investigator")
            # A user who may read the case sees its entry: already there, said so, nothing stored twice.
            receipt = await self.locker.receipt(case_id, entry.seq)
            return UploadStatus(uuid.UUID(int=0), "committed", size, size, case_id, receipt, already=True)
        row = await uploads.create_upload(self.locker.pool, station=who.name, case_id=case_id, kind=kind,
                                          blake3=blake3, size=size, fields={**fields, "_actor": who.actor},
                                          owner=self.owner)
        return self._status(row, row.received)

    async def _user_declaration(self, who: Principal, case_id: str | None, kind: str) -> str:
        """A user's upload (the browser's intake; also the API): into a named case the user may read,
        of an original or a record (``record.add`` too), never a proxy (stations make those)."""
        if case_id is None:
            raise BadDeclaration("name the case the file goes into ('case')")
        if kind == "proxy":
            raise BadDeclaration("proxies are made by docking stations; upload the original")
        if kind == "record":
            authorize(who, "record.add")
        if case_id == GOVERNANCE_CASE:
            raise BadDeclaration(f"{GOVERNANCE_CASE!r} is the bureau's governance log, not a case: it takes no files")
        await require_read(self.locker.pool, case_id, who)  # unknown: 404; restricted and not theirs: 403
        if not await self.locker.log.takes_station_uploads(case_id):
            raise CaseClosed(f"case {case_id!r} is closed: it takes no new files")
        return case_id

    async def _require_open_to_stations(self, case_id: str) -> None:
        """Refuse, with one answer for all of them, a case that does not exist, the governance log and a
        closed case: a station learns nothing about which of these it named."""
        if case_id == GOVERNANCE_CASE or not await self.locker.log.takes_station_uploads(case_id):
            raise CaseNotFound(case_id)

    async def _intake_case(self, who: Principal, officer: str | None, recorded_at: str | None) -> str:
        """The intake case of the day for recordings not yet assigned to a case, opened on first use."""
        name = officer or who.name
        day = (recorded_at or dt.datetime.now(dt.UTC).isoformat())[:10].replace("-", "")
        case_id = re.sub(r"[^A-Za-z0-9._-]", "-", f"INTAKE-{name}-{day}")[:64]
        if not await self.locker.log.case_exists(case_id):
            try:
                await self.locker.log.open_case(case_id, who.actor, title=f"Intake: {name} {day}")
            except CaseExists:
                pass  # opened concurrently by another upload
        return str(case_id)

    async def flag_no_proxy(self, *, who: Principal, case_id: str, original: str, error: str,
                            ffmpeg_version: str) -> Appended:
        """A station could not make a proxy: the original stays evidence, flagged with ffmpeg's error."""
        authorize(who, "evidence.upload")
        await self._require_open_to_stations(case_id)
        if not any(r.kind == "evidence.ingested" for r in await self.locker.log.entries_for_object(original, case_id)):
            raise NotFound(f"{original} is not evidence in case {case_id!r}")
        return await self.locker.log.append(case_id, Draft(
            "evidence.proxy_failed", who.actor,
            {"original_blake3": original, "error": error, "ffmpeg_version": ffmpeg_version},
            dedupe=f"proxy_failed:{original}"))

    async def _logged(self, case_id: str, blake3: str, kind: str) -> EntryRow | None:
        """The case's entry for these bytes, if the bytes are still held.

        Bytes disposed of under retention are not held: their old entry must not answer for a new
        upload (the station would wipe the camera on it), so the upload goes ahead as a new life.
        """
        obj = await catalog.get_object(self.locker.pool, blake3)
        if obj is None or obj.disposed_at is not None or obj.disposing_since is not None:
            return None
        rows = await self.locker.log.entries_for_object(blake3, case_id)
        since = max((r.seq for r in rows if r.kind == "retention.disposed"), default=-1)
        return next((r for r in rows if r.kind == kind and r.seq > since), None)

    def _status(self, row: uploads.UploadRow, received: int, receipt: Receipt | None = None) -> UploadStatus:
        return UploadStatus(row.id, row.state, row.size, received, row.case_id, receipt, row.error)

    async def _load(self, upload_id: uuid.UUID, station: str | None) -> uploads.UploadRow:
        row = await uploads.get_upload(self.locker.pool, upload_id)
        if row is None or (station is not None and row.station != station):
            raise UploadNotFound(f"no upload {upload_id}")  # another station's upload is not even named
        return row

    async def status(self, upload_id: uuid.UUID, station: str | None) -> UploadStatus:
        row = await self._load(upload_id, station)
        session = self._sessions.get(upload_id)
        if row.state == "committed" and row.seq is not None:
            return self._status(row, row.size, await self.locker.receipt(row.case_id, row.seq))
        if row.state == "open" and session is None and row.owner != self.owner and row.received:
            # Bytes held by another process are not reachable from here: resume means restart.
            return self._status(row, 0)
        return self._status(row, session.received if session else row.received)

    def _start(self, row: uploads.UploadRow) -> Session:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_DEPTH)
        block = UPLOAD_BLOCK_BYTES if self._sessions else LONE_UPLOAD_BLOCK_BYTES
        task = asyncio.create_task(
            self.locker.store.put(_drain_queue(queue), expected_blake3=row.blake3, block_bytes=block),
            name=f"upload-{row.id}",
        )
        # A put that fails (a disk write behind the hashing) stops taking chunks: empty the queue then,
        # so a request waiting to queue one goes on, sees the task done and reports the failure.
        task.add_done_callback(lambda _: _empty(queue))
        session = Session(row, queue, task)
        self._sessions[row.id] = session
        return session

    async def write(self, upload_id: uuid.UUID, station: str, offset: int,
                    body: AsyncIterable[bytes]) -> UploadStatus:
        """Append a chunk that starts at ``offset``; completes the upload when the last byte arrives."""
        row = await self._load(upload_id, station)
        if row.state == "committed":
            return await self.status(upload_id, station)
        if row.state != "open":
            raise UploadFailed(f"upload {upload_id} is {row.state}: {row.error or 'start a new upload'}")
        async with self._starting:
            session = self._sessions.get(upload_id)
            if session is None:
                if row.received and offset != 0:
                    await uploads.take_over(self.locker.pool, upload_id, self.owner)
                    raise OffsetMismatch("the server that held this upload restarted; send it again from 0",
                                         offset=0)
                if row.received or row.owner != self.owner:
                    row = await uploads.take_over(self.locker.pool, upload_id, self.owner)
                session = self._start(row)
        async with session.lock:
            return await self._write_locked(session, offset, body)

    async def _write_locked(self, session: Session, offset: int, body: AsyncIterable[bytes]) -> UploadStatus:
        row = session.row
        if session.task.done():
            return await self._complete(session)  # failed earlier (store error) or already complete
        if offset > session.received or offset < 0:
            raise OffsetMismatch(f"chunk starts at {offset}, the server has {session.received} bytes",
                                 offset=session.received)
        skip = session.received - offset  # a resent overlap: already stored, drop it
        try:
            async for chunk in body:
                if skip:
                    cut = min(skip, len(chunk))
                    chunk, skip = chunk[cut:], skip - cut
                    if not chunk:
                        continue
                if session.received + len(chunk) > row.size:
                    await self._abort_session(session, "more bytes than the declared size")
                    raise UploadFailed(f"upload exceeds its declared size of {row.size} bytes; it was aborted")
                await session.queue.put(chunk)
                session.received += len(chunk)
                if session.task.done():
                    break  # the store failed: stop feeding, report below
        finally:
            if not session.task.done() or session.received < row.size:
                await uploads.set_received(self.locker.pool, row.id, row.generation, session.received)
        if session.received == row.size or session.task.done():
            return await self._complete(session)
        return self._status(row, session.received)

    async def _complete(self, session: Session) -> UploadStatus:
        row = session.row
        if not session.task.done():
            await session.queue.put(None)  # end of stream: the put now checks the hash
        try:
            stored = await session.task
        except HashMismatch as exc:
            self._sessions.pop(row.id, None)
            await uploads.finish(self.locker.pool, row.id, "failed", error=str(exc), received=session.received)
            raise UploadFailed(str(exc), declared=row.blake3, received_blake3=exc.actual.blake3) from None
        except StoreError as exc:
            self._sessions.pop(row.id, None)
            await uploads.finish(self.locker.pool, row.id, "failed", error=str(exc), received=session.received)
            failure = StoreDown if isinstance(exc, StoreUnavailable) else UploadFailed
            raise failure(f"the object store failed; start the upload again: {exc}") from exc
        fields = dict(row.fields)
        actor = fields.pop("_actor", f"station:{row.station}")

        async def committed(conn: Any, case: str, seq: int) -> None:
            await uploads.finish(conn, row.id, "committed", seq=seq, received=row.size)

        # The entry, its index row and the session's end commit together (``Draft.rows``).
        appended = await self.locker.log_object(row.case_id, stored, kind=KIND_OF[row.kind], actor=actor,
                                                fields=fields, also=committed)
        if not appended.created:  # the entry was already there (a retry after an outage): end the session
            await uploads.finish(self.locker.pool, row.id, "committed", seq=appended.seq, received=row.size)
        self._sessions.pop(row.id, None)
        if row.kind == "proxy" and appended.created:
            task = asyncio.create_task(thumbnails.made_at_ingest(self.locker, row.case_id, row.blake3),
                                       name=f"still-{row.blake3[:16]}")
            self._stills.add(task)
            task.add_done_callback(self._stills.discard)
        receipt = await self.locker.receipt_for(appended)
        return UploadStatus(row.id, "committed", row.size, row.size, row.case_id, receipt)

    async def _abort_session(self, session: Session, why: str) -> None:
        session.task.cancel()
        with contextlib.suppress(BaseException):
            await session.task
        self._sessions.pop(session.row.id, None)
        await uploads.finish(self.locker.pool, session.row.id, "aborted", error=why)

    async def abort(self, upload_id: uuid.UUID, station: str | None) -> None:
        row = await self._load(upload_id, station)
        if row.state != "open":
            raise UploadFailed(f"upload {upload_id} is already {row.state}")
        session = self._sessions.get(upload_id)
        if session is not None:
            await self._abort_session(session, "aborted by the station")
        else:
            await uploads.finish(self.locker.pool, upload_id, "aborted", error="aborted by the station")

    async def sweep(self, *, idle_s: float, part_grace_s: float, here: str) -> tuple[int, int]:
        """Close what killed or vanished uploads left: open rows whose owner process on this host is gone
        (``here`` is this host's name) or that sat idle for ``idle_s``, and the store's temp files
        (``.part``) older than ``part_grace_s``.  Returns (rows closed, files removed)."""
        dead = [owner for owner in await uploads.open_owners(self.locker.pool)
                if owner != self.owner and _dead_here(owner, here)]
        rows = await uploads.abandon(self.locker.pool, owners=dead, idle_s=idle_s,
                                     why="abandoned: the server holding it stopped, or the station went quiet")
        sweep = getattr(self.locker.store, "sweep", None)  # the file store's temp files; S3 keeps none
        files = int(await sweep(older_than_s=part_grace_s)) if sweep is not None else 0
        if rows or files:
            logger.info("upload sweep: %d abandoned session(s) closed, %d temp file(s) removed", rows, files,
                        extra={"event": "upload_sweep", "rows": rows, "files": files})
        return rows, files

    async def stills_made(self) -> None:
        """Wait for the stills being made from proxies (tests, and a clean shutdown)."""
        await asyncio.gather(*self._stills, return_exceptions=True)

    async def close(self) -> None:
        """Shutdown: in-flight sessions are cancelled cleanly (the store keeps nothing half-written)."""
        for still in list(self._stills):
            still.cancel()
        await self.stills_made()
        for session in list(self._sessions.values()):
            session.task.cancel()
            with contextlib.suppress(BaseException):
                await session.task
            logger.info("upload %s interrupted by shutdown at %d/%d bytes; the station will resume",
                        session.row.id, session.received, session.row.size)
        self._sessions.clear()


def _dead_here(owner: str, here: str) -> bool:
    """Whether ``owner`` (``host:pid:nonce``) is a server process on this host that no longer runs."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != here or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # another user's live process
    return int(pid) == os.getpid()  # our own pid, an earlier life of this process: gone
