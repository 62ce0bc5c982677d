"""S3Store: MinIO / S3 with Object Lock, on the (synchronous) minio SDK kept off the event loop.

Why the shape:
- The bucket is created with Object Lock (it cannot be turned on later on MinIO), so versioning is on
  and a locked version can be neither deleted nor overwritten by anyone.
- Objects larger than one part stream as a multipart upload straight to ``blake3/<hex>`` when the
  caller declares the hash, and the upload is *completed only if our own hash matches*; otherwise it
  is aborted and nothing is ever visible.  Without a declared hash the bytes go to ``staging/`` and
  are server-side copied to their content address once the hash is known.  Small objects are hashed
  in memory and written with one PUT.
- Locks are applied after the write (``PutObjectRetention`` / ``PutObjectLegalHold``), not on the
  upload itself: S3 requires a checksum header on locked PUTs that the SDK omits over plain HTTP,
  and servers (Ceph RGW, moto) silently drop locks given on multipart uploads.  Every lock is then
  *read back* from the version's HEAD headers: a version without it raises LockNotApplied, so the
  write is not finished and nothing is receipted.  The caller records retain-until in the database
  as well, and re-applies it if the process died in between.
- Nothing relies on ``If-None-Match: *``: Ceph RGW (Pacific) ignores it and creates a second version.
  The header is still sent (servers that honour it refuse the duplicate early) and every write then
  settles to one version (``_settle``); the catalogue's arbitration removes any duplicate left.
- Servers differ in how they say "this version never had a legal hold": AWS and MinIO answer
  ``NoSuchObjectLockConfiguration``, Ceph RGW ``ObjectLockConfigurationNotFoundError``; any 404 on
  the legal-hold read of a version that HEAD just found means "off".  Retention is read from HEAD's
  ``x-amz-object-lock-*`` headers (the SDK cannot parse RGW's nanosecond retention answers).
- Every S3 error code leaves this module as one of the store's own errors (``_store_error``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE, ComposeSource
from minio.datatypes import CompleteMultipartUploadResult, Part
from minio.error import InvalidResponseError, S3Error, ServerError
from minio.helpers import md5sum_hash
from minio.retention import Retention
from minio.xml import Element, SubElement, getbytes

from foundation.pipeline import pipelined
from foundation.settings import Settings
from integrity.hashing import KEY_PREFIX, ContentDigest, ContentHasher, object_key
from storage.objects import (
    LOCK_PROBE_PREFIX,
    HashMismatch,
    LockNotApplied,
    LockProbe,
    ObjectInfo,
    ObjectLocked,
    ObjectNotFound,
    RecordConflict,
    RetentionShortened,
    StoredObject,
    StoreError,
    StoreRefused,
    StoreUnavailable,
    VerifyResult,
    bytes_source,
    check_key,
    check_record_key,
    check_records_prefix,
    declared_key,
    key_hex,
    rebuffer,
)

logger = logging.getLogger(__name__)
_NOT_FOUND = frozenset({"NoSuchKey", "NoSuchVersion", "NoSuchObject", "ResourceNotFound"})
#: "This version has no legal-hold setting", as different servers say it (see the module docstring).
_NO_LEGAL_HOLD = frozenset({"NoSuchObjectLockConfiguration", "ObjectLockConfigurationNotFoundError",
                            "NoSuchObjectLegalHold", "NoSuchLegalHold"})
#: Credentials, permissions or the bucket itself: the operator must act.
_REFUSED = frozenset({"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled",
                      "AccountProblem", "InvalidToken", "ExpiredToken", "NoSuchBucket", "InvalidBucketName",
                      "UserSuspended", "NotSignedUp", "InvalidObjectState", "MethodNotAllowed",
                      "AuthorizationHeaderMalformed", "RequestTimeTooSkewed"})
READ_BYTES = 1024 * 1024
#: Retain-until dates come back rounded (the SDK sends milliseconds, servers keep what they keep).
LOCK_DATE_SLACK = dt.timedelta(seconds=1)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _mapped(
    fn: Callable[Concatenate[S3Store, _P], Coroutine[Any, Any, _R]],
) -> Callable[Concatenate[S3Store, _P], Coroutine[Any, Any, _R]]:
    """A public store method: any S3 error that escapes it becomes one of the store's own errors."""

    @functools.wraps(fn)
    async def wrapper(self: S3Store, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return await fn(self, *args, **kwargs)
        except S3Error as exc:
            raise _store_error(exc) from exc

    return wrapper


@dataclass(frozen=True, slots=True)
class LockState:
    """A version's Object Lock as its HEAD answer states it."""

    version_id: str | None
    size: int
    mode: str | None
    retain_until: dt.datetime | None
    legal_hold: bool


class S3Store:
    name = "s3"

    def __init__(self, client: Minio, bucket: str, *, part_size: int = 16 * 1024 * 1024,
                 buffer_parts: int = 6) -> None:
        self.client = client
        self.bucket = bucket
        self.part_size = part_size
        #: Every upload of this store shares these part buffers (see PartBudget).
        self.budget = PartBudget(max(2, buffer_parts))
        self._bucket_ready = False

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Store:
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5, read=120),
            maxsize=32,
            retries=urllib3.Retry(total=3, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504)),
        )
        client = Minio(
            settings.s3_endpoint or "",
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            secure=settings.s3_secure,
            region=settings.s3_region,
            http_client=http,
        )
        return cls(client, settings.s3_bucket, part_size=settings.s3_part_size_mib * 1024 * 1024,
                   buffer_parts=settings.s3_buffer_mib // settings.s3_part_size_mib)

    async def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await _off_loop(fn, *args, **kwargs)

    @_mapped
    async def ensure_bucket(self) -> None:
        """Create the bucket with Object Lock if missing; refuse a bucket without it."""
        if self._bucket_ready:
            return
        if not await self._call(self.client.bucket_exists, self.bucket):
            try:
                await self._call(self.client.make_bucket, self.bucket, object_lock=True)
            except S3Error as exc:
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
        try:
            await self._call(self.client.get_object_lock_config, self.bucket)
        except S3Error as exc:
            if exc.code not in _NO_LEGAL_HOLD and exc.code != "NoSuchObjectLockConfiguration":
                raise
            raise StoreRefused(
                f"bucket {self.bucket} has no Object Lock; evidence cannot be stored write-once there "
                "(Object Lock can only be enabled when a bucket is created)"
            ) from exc
        self._bucket_ready = True

    # -- writing -----------------------------------------------------------------------------

    @_mapped
    async def put(
        self,
        source: AsyncIterable[bytes],
        *,
        expected_blake3: str | None = None,
        retain_until: dt.datetime | None = None,
        legal_hold: bool = False,
        block_bytes: int = 0,  # unused: S3 parts have their own minimum size (S3_PART_SIZE_MIB)
    ) -> StoredObject:
        if expected_blake3 is not None:
            declared_key(expected_blake3)
        await self.ensure_bucket()
        async with contextlib.aclosing(_budgeted_parts(source, self.part_size, self.budget)) as parts:
            first = await anext(parts, None)
            if first is None or not first.full:  # the whole object fits in one part
                try:
                    stored = await self._put_small(first.view if first else b"", expected_blake3)
                finally:
                    if first:
                        first.release()
            else:
                stored = await self._put_multipart(_chain(first, parts), expected_blake3)
        if retain_until is not None:
            await self._apply_retention(stored.key, retain_until, stored.version_id, extend_only=True)
        if legal_hold:
            await self._apply_legal_hold(stored.key, True, stored.version_id)
        return stored

    async def _put_small(self, data: bytes | memoryview, expected: str | None) -> StoredObject:
        hasher = ContentHasher()
        await asyncio.to_thread(hasher.update, data)
        digest = hasher.digest()
        if expected is not None and digest.blake3 != expected:
            raise HashMismatch(expected, digest)
        existing = await self._stat(digest.key)
        if existing is None:
            headers = {"Content-Type": "application/octet-stream", "If-None-Match": "*",
                       **{f"x-amz-meta-{k}": v for k, v in _meta(digest).items()}}
            try:
                result = await self._call(self.client._put_object, self.bucket, digest.key, data, headers)
                return await self._settle(StoredObject(digest, digest.key, created=True,
                                                       version_id=result.version_id))
            except S3Error as exc:
                if exc.code != "PreconditionFailed":
                    raise  # else a racing writer stored the same bytes first
        return StoredObject(digest, digest.key, created=False, version_id=await self._keeper(digest.key))

    async def _put_multipart(self, blocks: AsyncIterable[_Part], expected: str | None) -> StoredObject:
        target = object_key(expected) if expected else f"staging/{uuid.uuid4().hex}"
        if expected and await self._stat(target) is not None:
            # Already stored: still hash what we are sent, so a wrong body is reported, not absorbed.
            digest = await _hash_only(blocks)
            if digest.blake3 != expected:
                raise HashMismatch(expected, digest)
            return StoredObject(digest, target, created=False, version_id=await self._keeper(target))
        upload_id: str = await self._call(
            self.client._create_multipart_upload, self.bucket, target,
            {"Content-Type": "application/octet-stream"},
        )
        hasher = ContentHasher()
        parts: list[Part] = []

        def send(block: _Part) -> None:
            hasher.update(block.view)
            number = len(parts) + 1
            # A view of the part buffer, not a copy: minio hashes it and urllib3 sends any buffer.
            etag = self.client._upload_part(self.bucket, target, cast(bytes, block.view), None, upload_id, number)
            parts.append(Part(number, etag))

        async def absorb(block: _Part) -> None:
            try:
                await _off_loop(send, block)
            finally:
                block.release()  # sent (or failed): its buffer goes to the next part of any upload

        try:
            await pipelined(blocks, absorb)
            digest = hasher.digest()
            if expected is not None and digest.blake3 != expected:
                raise HashMismatch(expected, digest)
            # Another writer may have finished the same content meanwhile: keep theirs.  The
            # conditional complete closes the race between this check and the write.
            if expected and await self._stat(target) is not None:
                raise _AlreadyThere(await self._keeper(target))
            try:
                result = await self._call(self._complete_if_absent, target, upload_id, parts)
            except S3Error as exc:
                if exc.code != "PreconditionFailed":
                    raise
                raise _AlreadyThere(await self._keeper(target)) from None
        except _AlreadyThere as there:
            await self._abort(target, upload_id)
            return StoredObject(hasher.digest(), target, created=False, version_id=there.version_id)
        except BaseException:
            await asyncio.shield(self._abort(target, upload_id))
            raise
        if expected:
            return await self._settle(StoredObject(digest, target, created=True, version_id=result.version_id))
        return await self._promote(target, result.version_id, digest)

    async def _settle(self, mine: StoredObject) -> StoredObject:
        """Leave exactly one version of a key, even if a server's conditional write let a racer through.

        Every racer picks the same keeper (oldest, then lowest version id) and removes only its own
        version if it is not the keeper; the bytes are identical (same content address) and no lock
        has been applied yet, so nothing of value is lost.
        """
        if mine.version_id is None:
            return mine
        keeper = await self._keeper(mine.key)
        if keeper in (None, mine.version_id):
            return mine
        await self._call(self.client.remove_object, self.bucket, mine.key, version_id=mine.version_id)
        logger.info("%s: a concurrent writer stored the same bytes first; kept its version", mine.key)
        return StoredObject(mine.digest, mine.key, created=False, version_id=keeper)

    async def _keeper(self, key: str) -> str | None:
        """The version every writer of ``key`` keeps: the oldest, then the lowest version id.

        Every path that finds the bytes already stored answers with this version, never with the
        latest one, which may be a racer's duplicate that its writer is about to remove.
        """
        versions = await self._call(lambda: [
            o for o in self.client.list_objects(self.bucket, prefix=key, include_version=True)
            if o.object_name == key and not o.is_delete_marker
        ])
        if not versions:
            return None
        keeper: str | None = min(versions, key=lambda o: (o.last_modified, o.version_id or "")).version_id
        return keeper

    def _complete_if_absent(self, key: str, upload_id: str, parts: list[Part]) -> Any:
        """CompleteMultipartUpload with ``If-None-Match: *``: never a second version of a key."""
        element = Element("CompleteMultipartUpload")
        for part in parts:
            tag = SubElement(element, "Part")
            SubElement(tag, "PartNumber", str(part.part_number))
            SubElement(tag, "ETag", '"' + part.etag + '"')
        body = getbytes(element)
        headers: dict[str, Any] = {"Content-Type": "application/xml", "Content-MD5": md5sum_hash(body),
                                   "If-None-Match": "*"}
        response = self.client._execute("POST", self.bucket, key, body=body, headers=headers,
                                        query_params={"uploadId": upload_id})
        return CompleteMultipartUploadResult(response)

    async def _promote(self, staging: str, staging_version: str | None, digest: ContentDigest) -> StoredObject:
        """Copy a staged upload to its content address (server side), then drop the staging copy."""
        try:
            existing = await self._stat(digest.key)
            if existing is None:
                result = await self._call(
                    self.client.compose_object, self.bucket, digest.key,
                    [ComposeSource(self.bucket, staging, version_id=staging_version)],
                    metadata=_meta(digest),
                )
                return await self._settle(StoredObject(digest, digest.key, created=True,
                                                       version_id=result.version_id))
            return StoredObject(digest, digest.key, created=False, version_id=existing.version_id)
        finally:
            await self._call(self.client.remove_object, self.bucket, staging, version_id=staging_version)

    async def _abort(self, target: str, upload_id: str) -> None:
        try:
            await self._call(self.client._abort_multipart_upload, self.bucket, target, upload_id)
        except S3Error:
            pass  # the server expires abandoned multipart uploads itself

    # -- locks -------------------------------------------------------------------------------

    async def _apply_retention(self, key: str, until: dt.datetime, version_id: str | None, *,
                               extend_only: bool) -> None:
        """COMPLIANCE retention until ``until`` (never shorter than it is), then read back."""
        until = until.astimezone(dt.UTC)
        state = await self._lock_state(key, version_id)
        if state.retain_until is not None and until <= state.retain_until:
            if until < state.retain_until and not extend_only:
                raise RetentionShortened(key, state.retain_until, until)
            if state.mode == COMPLIANCE:
                return
        try:
            await self._call(self.client.set_object_retention, self.bucket, key,
                             Retention(COMPLIANCE, until), version_id=state.version_id)
        except S3Error as exc:
            if exc.code == "AccessDenied" and state.retain_until is not None:
                # Only a lock refuses a retention change on a bucket we may write to.
                raise RetentionShortened(key, state.retain_until, until) from exc
            raise
        after = await self._lock_state(key, state.version_id)
        if after.mode != COMPLIANCE or after.retain_until is None or after.retain_until < until - LOCK_DATE_SLACK:
            raise LockNotApplied(
                f"{key} (version {state.version_id}): the store accepted COMPLIANCE retention until "
                f"{until.isoformat()} but the version shows mode={after.mode} until={after.retain_until}; "
                "the bytes are not protected"
            )

    async def _apply_legal_hold(self, key: str, on: bool, version_id: str | None) -> None:
        state = await self._lock_state(key, version_id)
        fn = self.client.enable_object_legal_hold if on else self.client.disable_object_legal_hold
        await self._call(fn, self.bucket, key, version_id=state.version_id)
        after = await self._lock_state(key, state.version_id)
        if after.legal_hold != on:
            raise LockNotApplied(f"{key} (version {state.version_id}): the store accepted legal hold "
                                 f"{'on' if on else 'off'} but the version shows it "
                                 f"{'on' if after.legal_hold else 'off'}")

    # -- records -----------------------------------------------------------------------------

    @_mapped
    async def put_record(self, key: str, data: bytes) -> None:
        """Write a record once; the same bytes again change nothing, other bytes raise RecordConflict.

        ``If-None-Match: *`` is sent, but some servers (Ceph RGW before Squid) ignore it on PUT, so
        the outcome is settled like objects are: every writer keeps the oldest version, a writer whose
        version is not the keeper removes its own (not yet held), and only the keeper gets the hold.
        """
        check_record_key(key)
        await self.ensure_bucket()
        existing = await self._record_versions(key)
        if existing:
            if any(body != data for _, body in existing):
                raise RecordConflict(f"{key} already holds other bytes")
            return
        headers = {"Content-Type": "application/octet-stream", "If-None-Match": "*"}
        try:
            result = await self._call(self.client._put_object, self.bucket, key, data, headers)
        except S3Error as exc:
            if exc.code != "PreconditionFailed":
                raise
            if any(body != data for _, body in await self._record_versions(key)):
                raise RecordConflict(f"{key} already holds other bytes") from None
            return
        versions = await self._record_versions(key)
        keeper_version, keeper_body = versions[0]
        if keeper_version != result.version_id:
            await self._call(self.client.remove_object, self.bucket, key, version_id=result.version_id)
            if keeper_body != data:
                raise RecordConflict(f"{key} already holds other bytes")
            return
        # A legal hold on the version: deleting it needs the store's own permission, not the database's.
        await self._apply_legal_hold(key, True, result.version_id)

    async def _record_versions(self, key: str) -> list[tuple[str | None, bytes]]:
        """Every live version of one record with its bytes, the keeper (oldest) first."""
        def read() -> list[tuple[str | None, bytes]]:
            versions = sorted(
                (o for o in self.client.list_objects(self.bucket, prefix=key, include_version=True)
                 if o.object_name == key and not o.is_delete_marker),
                key=lambda o: (o.last_modified, o.version_id or ""))
            found = []
            for o in versions:
                response = self.client.get_object(self.bucket, key, version_id=o.version_id)
                try:
                    found.append((o.version_id, response.read()))
                finally:
                    response.close()
                    response.release_conn()
            return found

        return cast(list[tuple[str | None, bytes]], await self._call(read))

    @_mapped
    async def object_keys(self, older_than: dt.timedelta) -> list[str]:
        await self.ensure_bucket()
        cutoff = dt.datetime.now(dt.UTC) - older_than

        def run() -> list[str]:
            return sorted({o.object_name for o in self.client.list_objects(self.bucket, prefix=KEY_PREFIX,
                                                                           recursive=True)
                           if o.object_name and o.last_modified is not None and o.last_modified < cutoff})

        return cast(list[str], await self._call(run))

    async def records(self, prefix: str) -> list[tuple[str, bytes]]:
        """Each record under ``prefix`` once, as its keeper version holds it."""
        check_records_prefix(prefix)
        await self.ensure_bucket()

        def read() -> list[tuple[str, bytes]]:
            keepers: dict[str, Any] = {}
            for o in self.client.list_objects(self.bucket, prefix=prefix, recursive=True, include_version=True):
                if o.is_delete_marker or o.object_name is None:
                    continue
                known = keepers.get(o.object_name)
                if known is None or (o.last_modified, o.version_id or "") < (known.last_modified,
                                                                             known.version_id or ""):
                    keepers[o.object_name] = o
            found = []
            for name, o in keepers.items():
                response = self.client.get_object(self.bucket, name, version_id=o.version_id)
                try:
                    found.append((name, response.read()))
                finally:
                    response.close()
                    response.release_conn()
            return sorted(found)

        return cast(list[tuple[str, bytes]], await self._call(read))

    @_mapped
    async def extend_retention(self, key: str, until: dt.datetime, version_id: str | None = None) -> None:
        check_key(key)
        await self._apply_retention(key, until, version_id, extend_only=False)

    @_mapped
    async def set_legal_hold(self, key: str, on: bool, version_id: str | None = None) -> None:
        check_key(key)
        await self._apply_legal_hold(key, on, version_id)

    @_mapped
    async def discard_version(self, key: str, version_id: str) -> None:
        check_key(key)
        try:
            await self._call(self.client.remove_object, self.bucket, key, version_id=version_id)
        except S3Error as exc:
            if exc.code == "AccessDenied":
                raise ObjectLocked(f"{key} version {version_id} cannot be removed: the store refused "
                                   f"({exc.message})") from exc
            raise
        logger.info("%s: another server recorded the same bytes first; removed our duplicate version", key)

    @_mapped
    async def delete(self, key: str, version_id: str | None = None) -> None:
        """Delete one version (the given one, else the current one); refused while it is locked."""
        info = await self.head(key, version_id)
        if info.locked():
            why = "legal hold" if info.legal_hold else f"retention until {info.retain_until}"
            raise ObjectLocked(f"{key} cannot be deleted: {why}")
        try:
            # Always by version: a plain DELETE would only add a delete marker and hide the object.
            await self._call(self.client.remove_object, self.bucket, key, version_id=info.version_id)
        except S3Error as exc:
            if exc.code == "AccessDenied":
                raise ObjectLocked(f"{key} cannot be deleted: the store refused ({exc.message})") from exc
            raise

    # -- reading -----------------------------------------------------------------------------

    async def _stat(self, key: str, version_id: str | None = None) -> Any:
        try:
            return await self._call(self.client.stat_object, self.bucket, key, version_id=version_id)
        except S3Error as exc:
            if exc.code in _NOT_FOUND:
                return None
            raise

    @_mapped
    async def exists(self, key: str) -> bool:
        check_key(key)
        await self.ensure_bucket()
        return await self._stat(key) is not None

    @_mapped
    async def head(self, key: str, version_id: str | None = None) -> ObjectInfo:
        check_key(key)
        await self.ensure_bucket()
        state = await self._lock_state(key, version_id)
        return ObjectInfo(key=key, size=state.size, blake3=key_hex(key), retain_until=state.retain_until,
                          legal_hold=state.legal_hold, version_id=state.version_id)

    async def _lock_state(self, key: str, version_id: str | None) -> LockState:
        st = await self._stat(key, version_id)
        if st is None:
            raise ObjectNotFound(key)
        headers = {k.lower(): v for k, v in (st.metadata or {}).items()}
        until = headers.get("x-amz-object-lock-retain-until-date")
        hold = headers.get("x-amz-object-lock-legal-hold")
        hold_on = hold.upper() == "ON" if hold is not None else await self._legal_hold(key, st.version_id)
        return LockState(version_id=st.version_id, size=st.size, mode=headers.get("x-amz-object-lock-mode"),
                         retain_until=_parse_amz_time(until) if until else None, legal_hold=hold_on)

    async def _legal_hold(self, key: str, version_id: str | None) -> bool:
        """GetObjectLegalHold for a version HEAD did not state it for; "never set" is off."""
        try:
            return bool(await self._call(self.client.is_object_legal_hold_enabled, self.bucket, key,
                                         version_id=version_id))
        except S3Error as exc:
            status = exc.response.status if exc.response is not None else None
            if exc.code in _NO_LEGAL_HOLD or (status == 404 and exc.code not in _NOT_FOUND):
                return False
            raise

    async def get(self, key: str, *, start: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        check_key(key)
        await self.ensure_bucket()
        if length == 0:
            return
        try:
            resp = await self._call(self.client.get_object, self.bucket, key, offset=start, length=length or 0)
        except S3Error as exc:
            if exc.code in _NOT_FOUND:
                raise ObjectNotFound(key) from None
            raise _store_error(exc) from exc
        try:
            while chunk := await _off_loop(resp.read, READ_BYTES):
                yield chunk
        finally:
            resp.close()
            resp.release_conn()

    async def verify(self, key: str) -> VerifyResult:
        digest = await _hash_only(rebuffer(self.get(key)))
        return VerifyResult(key=key, ok=digest.blake3 == key_hex(key), digest=digest)

    # -- proving the lock ----------------------------------------------------------------------

    @_mapped
    async def lock_probe(self, retain: dt.timedelta) -> LockProbe:
        await self.ensure_bucket()
        until = dt.datetime.now(dt.UTC) + retain
        sample = LOCK_PROBE_PREFIX + uuid.uuid4().hex.encode()
        stored = await self.put(bytes_source(sample), retain_until=until)
        version = stored.version_id
        try:  # straight to the server, past our own lock check
            await self._call(self.client.remove_object, self.bucket, stored.key, version_id=version)
            delete_refused = False
        except S3Error as exc:
            delete_refused = exc.code == "AccessDenied"
        try:
            await self._call(self.client.set_object_retention, self.bucket, stored.key,
                             Retention(COMPLIANCE, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)),
                             version_id=version)
            shorten_refused = False
        except S3Error as exc:
            shorten_refused = exc.code == "AccessDenied"
        after = await self._lock_state(stored.key, version)
        kept = after.retain_until is not None and after.retain_until >= until - LOCK_DATE_SLACK
        shorten_refused = shorten_refused and kept
        return LockProbe(server=await self._server_name(), key=stored.key, version_id=version, retain_until=until,
                         delete_refused=delete_refused, shorten_refused=shorten_refused,
                         how=f"DeleteObject and PutObjectRetention (COMPLIANCE, shorter) sent for version "
                             f"{version} of {stored.key} in bucket {self.bucket}")

    async def _server_name(self) -> str:
        """The server's name and version as its answers state them (S3 has no call for it)."""
        response = await self._call(self.client._execute, "HEAD", self.bucket)
        headers = {k.lower(): v for k, v in response.headers.items()}
        server = str(headers.get("server", ""))
        if any(k.startswith("x-rgw-") for k in headers):
            return f"Ceph RADOS Gateway{' (' + server + ')' if server else ''} (version not disclosed over S3)"
        if server.lower().startswith("minio") or any(k.startswith("x-minio-") for k in headers):
            return server or "MinIO (version not disclosed)"
        if server:
            return server
        return "unknown S3 server (no Server header)"

    # -- operations --------------------------------------------------------------------------

    async def check(self) -> None:
        try:
            await self.ensure_bucket()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StoreUnavailable(f"S3 bucket {self.bucket} is unreachable: {exc}") from exc

    async def close(self) -> None:
        self.client._http.clear()


class _AlreadyThere(Exception):
    def __init__(self, version_id: str | None) -> None:
        self.version_id = version_id


async def _chain(first: _Part, rest: AsyncIterator[_Part]) -> AsyncIterator[_Part]:
    yield first
    async for block in rest:
        yield block


class PartBudget:
    """A fixed number of part buffers shared by every upload to one store.

    Why: an S3 part is at least 5 MiB (16 by default) and an upload holds two (one filling, one
    sending), so twenty docks uploading at once would need 640 MiB; with a budget the server holds
    ``count`` parts whatever the number of uploads, and an upload waiting for a buffer simply stops
    reading its request body (TCP holds the station back).  No deadlock: an upload waits only while
    holding at most the part it is sending, and sending returns its buffer without needing another.
    """

    def __init__(self, count: int) -> None:
        self.count = count
        self.taken = 0
        self.peak = 0
        self._free = asyncio.Semaphore(count)
        # Buffers are reused, not freed: a fresh 16 MiB allocation per part fragments the C heap and
        # RSS creeps up; this way at most ``count`` buffers ever exist.
        self._spare: list[bytearray] = []

    async def take(self, size: int) -> bytearray:
        await self._free.acquire()
        self.taken += 1
        self.peak = max(self.peak, self.taken)
        while self._spare:
            buffer = self._spare.pop()
            if len(buffer) == size:
                return buffer
        return bytearray(size)

    def give(self, buffer: bytearray) -> None:
        self._spare.append(buffer)
        self.taken -= 1
        self._free.release()


class _Part:
    """One part's bytes in a budgeted buffer; ``release`` (idempotent) returns the buffer."""

    __slots__ = ("_budget", "_data", "size")

    def __init__(self, buffer: bytearray, budget: PartBudget) -> None:
        self._data: bytearray | None = buffer
        self._budget: PartBudget | None = budget
        self.size = 0

    def fill(self, view: memoryview) -> memoryview:
        """Copy what fits from ``view``; returns the rest."""
        assert self._data is not None
        take = min(len(self._data) - self.size, len(view))
        self._data[self.size:self.size + take] = view[:take]
        self.size += take
        return view[take:]

    @property
    def full(self) -> bool:
        return self._data is not None and self.size == len(self._data)

    @property
    def view(self) -> memoryview:
        assert self._data is not None, "part used after release"
        return memoryview(self._data)[:self.size]

    def release(self) -> None:
        if self._budget is not None and self._data is not None:
            budget, buffer, self._budget, self._data = self._budget, self._data, None, None
            budget.give(buffer)


async def _budgeted_parts(source: AsyncIterable[bytes], size: int,
                          budget: PartBudget) -> AsyncGenerator[_Part, None]:
    """Re-chunk ``source`` into parts of ``size`` (the last may be shorter, never empty), each in a
    buffer taken from ``budget`` before it is filled.  The consumer releases each part when done with
    it; if the generator is closed early (an error, a cancel), whatever the consumer has not released
    is released here.  (At the normal end the consumer may still be sending the last part: its own.)
    """
    held: list[_Part] = []
    part: _Part | None = None
    finished = False
    try:
        async for chunk in source:
            view = memoryview(chunk)
            while view:
                if part is None:
                    part = _Part(await budget.take(size), budget)
                    held = [p for p in held if p._budget is not None] + [part]
                view = part.fill(view)
                if part.full:
                    done, part = part, None
                    yield done
        if part is not None:
            done, part = part, None
            yield done
        finished = True
    finally:
        if not finished:
            for p in held:
                p.release()


async def _hash_only(blocks: AsyncIterable[bytes] | AsyncIterable[_Part]) -> ContentDigest:
    hasher = ContentHasher()

    async def absorb(block: bytes | _Part) -> None:
        if isinstance(block, _Part):
            try:
                await asyncio.to_thread(hasher.update, block.view)
            finally:
                block.release()
        else:
            await asyncio.to_thread(hasher.update, block)

    await pipelined(blocks, absorb)
    return hasher.digest()


def _meta(digest: ContentDigest) -> dict[str, Any]:
    return {"blake3": digest.blake3, "sha256": digest.sha256}


def _parse_amz_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)


def _store_error(exc: S3Error) -> StoreError:
    """The store's own error for an S3 error code (the code and the server's words kept in the text)."""
    code, where = exc.code or "unknown", "/".join(p for p in (exc.bucket_name, exc.object_name) if p)
    said = f"{code}: {exc.message}" if exc.message else code
    if code in _NOT_FOUND and exc.object_name:
        return ObjectNotFound(exc.object_name)
    if code in _UNAVAILABLE_CODES:
        return StoreUnavailable(f"the S3 service failed ({said})")
    if code in _REFUSED:
        return StoreRefused(f"the S3 service refused the request on {where or 'the bucket'} ({said}); "
                            "check S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_BUCKET and the user's rights")
    return StoreError(f"the S3 service answered {said} on {where or 'the bucket'}")


#: S3 error codes that mean "the service is struggling", not "your request is wrong".
_UNAVAILABLE_CODES = frozenset({"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout"})


async def _off_loop(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a blocking S3 call in a thread; an unreachable or failing endpoint is StoreUnavailable (503,
    worth retrying), not an unhandled error: urllib3 gives up after its own retries with its own
    exception types, and a 5xx answer arrives as an S3Error or ServerError."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except S3Error as exc:
        if exc.code in _UNAVAILABLE_CODES:
            raise StoreUnavailable(f"the S3 service failed ({exc.code}): {exc.message}") from exc
        raise
    except (urllib3.exceptions.HTTPError, ServerError, InvalidResponseError, ConnectionError) as exc:
        raise StoreUnavailable(f"the S3 endpoint is unreachable or failing: {type(exc).__name__}: {exc}") from exc
