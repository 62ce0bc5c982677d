"""The S3 store against a real S3 server (Ceph RGW, tests/rgw.py): what only a server that enforces
Object Lock makes meaningful, and how the store reads and checks locks on it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from blake3 import blake3
from minio.commonconfig import COMPLIANCE
from minio.error import S3Error
from minio.retention import Retention

from storage.objects import (
    LockNotApplied,
    ObjectLocked,
    ObjectNotFound,
    RetentionShortened,
    StoreError,
    StoreRefused,
    bytes_source,
)
from storage.s3store import S3Store
from tests.conftest import S3Server, s3_settings
from tests.rgw import Rgw, free_port

MiB = 1024 * 1024
DAY = dt.timedelta(days=1)


@pytest.fixture
async def s3(s3_server: S3Server, tmp_path: Path) -> AsyncIterator[S3Store]:
    store = S3Store.from_settings(s3_settings(s3_server, tmp_path))
    await store.check()
    try:
        yield store
    finally:
        await store.close()


async def versions(store: S3Store, key: str) -> list[str]:
    objs = await asyncio.to_thread(lambda: list(store.client.list_objects(store.bucket, prefix=key,
                                                                          include_version=True)))
    return [o.version_id for o in objs if o.object_name == key and not o.is_delete_marker]


# -- reading locks as real servers state them ------------------------------------------------------


async def test_a_version_that_never_had_a_legal_hold_reads_as_off(s3: S3Store) -> None:
    """RGW answers GetObjectLegalHold on such a version with ObjectLockConfigurationNotFoundError (the
    SDK knows only NoSuchObjectLockConfiguration): the store reads "off", not an error."""
    stored = await s3.put(bytes_source(b"never held"))
    with pytest.raises(S3Error) as err:
        await asyncio.to_thread(s3.client.is_object_legal_hold_enabled, s3.bucket, stored.key)
    assert err.value.code == "ObjectLockConfigurationNotFoundError"  # the server's words, as the issue found
    info = await s3.head(stored.key)
    assert info.legal_hold is False and info.retain_until is None


async def test_retention_is_read_from_the_head_headers(s3: S3Store) -> None:
    until = dt.datetime.now(dt.UTC) + 3 * DAY
    stored = await s3.put(bytes_source(b"retained"), retain_until=until)
    info = await s3.head(stored.key)
    assert info.retain_until is not None and abs(info.retain_until - until) < dt.timedelta(seconds=1)
    with pytest.raises(ValueError):  # what the SDK's own retention reader makes of RGW's dates
        await asyncio.to_thread(s3.client.get_object_retention, s3.bucket, stored.key)


# -- the store's own errors ------------------------------------------------------------------------


async def test_wrong_credentials_are_store_refused(s3_server: S3Server, tmp_path: Path) -> None:
    bad = dataclasses.replace(s3_server, secret_key="not-the-secret")
    store = S3Store.from_settings(s3_settings(bad, tmp_path))
    with pytest.raises(StoreRefused, match="S3_SECRET_KEY"):
        await store.check()
    store._bucket_ready = True  # past the bucket check: the data calls say the same
    with pytest.raises(StoreRefused):
        await store.head("blake3/" + "0" * 64)
    with pytest.raises(StoreRefused):
        await store.put(bytes_source(b"x"))


async def test_a_bucket_without_object_lock_is_refused(s3_server: S3Server, tmp_path: Path) -> None:
    settings = s3_settings(s3_server, tmp_path)
    await asyncio.to_thread(s3_server.client().make_bucket, settings.s3_bucket)  # no Object Lock
    store = S3Store.from_settings(settings)
    with pytest.raises(StoreRefused, match="no Object Lock"):
        await store.check()


async def test_every_s3_error_leaves_the_store_as_a_store_error(s3: S3Store) -> None:
    with pytest.raises(ObjectNotFound):
        await s3.head("blake3/" + "1" * 64)
    with pytest.raises(ObjectNotFound):
        await s3.delete("blake3/" + "1" * 64)
    stored = await s3.put(bytes_source(b"some bytes"))
    with pytest.raises(StoreError, match="InvalidRange") as err:  # a code with no meaning of its own to us
        _ = [chunk async for chunk in s3.get(stored.key, start=100, length=5)]
    assert type(err.value) is StoreError and isinstance(err.value.__cause__, S3Error)


# -- a server that drops locks ---------------------------------------------------------------------


@contextlib.asynccontextmanager
async def lock_dropping_proxy(upstream: str) -> AsyncIterator[str]:
    """A loopback HTTP proxy in front of the real gateway that answers PutObjectRetention and
    PutObjectLegalHold with 200 and forwards nothing: a server that accepts a lock and drops it (RGW
    cannot be made to do that on purpose, so the fault is injected between client and server)."""
    session = aiohttp.ClientSession(auto_decompress=False)

    async def forward(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if request.method == "PUT" and ("retention" in request.query or "legal-hold" in request.query):
            return web.Response(status=200)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("content-length",
                                                                                  "transfer-encoding")}
        url = f"http://{upstream}{request.raw_path}"
        async with session.request(request.method, aiohttp.client.URL(url, encoded=True), headers=headers,
                                   data=io.BytesIO(body), allow_redirects=False) as up:
            data = await up.read()
            out = {k: v for k, v in up.headers.items() if k.lower() not in ("transfer-encoding", "connection",
                                                                             "content-length")}
            if request.method == "HEAD":
                out["Content-Length"] = up.headers.get("Content-Length", "0")
                resp = web.StreamResponse(status=up.status, headers=out)
                await resp.prepare(request)
                return resp
            return web.Response(status=up.status, body=data, headers=out)

    app = web.Application(client_max_size=0)
    app.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await runner.cleanup()
        await session.close()


@pytest.mark.parametrize("size", [1000, 11 * MiB])
async def test_a_lock_the_server_drops_is_lock_not_applied(s3_server: S3Server, tmp_path: Path,
                                                           size: int) -> None:
    """Locks are read back after every write (multipart included): a version without the lock it
    was given stops the put with LockNotApplied, the 503 that keeps a station from deleting its copy."""
    settings = s3_settings(s3_server, tmp_path)
    async with lock_dropping_proxy(s3_server.endpoint) as endpoint:
        store = S3Store.from_settings(dataclasses.replace(settings, s3_endpoint=endpoint))
        data = os.urandom(size)
        with pytest.raises(LockNotApplied, match="not protected"):
            await store.put(bytes_source(data), retain_until=dt.datetime.now(dt.UTC) + DAY)
        with pytest.raises(LockNotApplied):
            await store.put(bytes_source(data), legal_hold=True)
        await store.close()
    # Straight to the server: the retry locks the same version and reads the lock back.
    direct = S3Store.from_settings(settings)
    stored = await direct.put(bytes_source(data), retain_until=dt.datetime.now(dt.UTC) + DAY)
    assert not stored.created and (await direct.head(stored.key)).retain_until is not None
    await direct.close()




# -- what only a real server makes meaningful (moto accepts all of these) --------------------------


async def test_the_server_refuses_deleting_a_locked_version(s3: S3Store) -> None:
    stored = await s3.put(bytes_source(b"locked"), retain_until=dt.datetime.now(dt.UTC) + DAY)
    with pytest.raises(S3Error) as err:  # straight to the server, past our own check
        await asyncio.to_thread(s3.client.remove_object, s3.bucket, stored.key, version_id=stored.version_id)
    assert err.value.code == "AccessDenied"
    with pytest.raises(ObjectLocked):
        await s3.delete(stored.key)
    assert await versions(s3, stored.key) == [stored.version_id]


async def test_the_server_refuses_shortening_compliance_retention(s3: S3Store) -> None:
    until = dt.datetime.now(dt.UTC) + 10 * DAY
    stored = await s3.put(bytes_source(b"ten days"), retain_until=until)
    with pytest.raises(S3Error) as err:
        await asyncio.to_thread(s3.client.set_object_retention, s3.bucket, stored.key,
                                Retention(COMPLIANCE, until - 5 * DAY), version_id=stored.version_id)
    assert err.value.code == "AccessDenied"
    with pytest.raises(RetentionShortened):
        await s3.extend_retention(stored.key, until - 5 * DAY)
    info = await s3.head(stored.key)
    assert info.retain_until is not None and abs(info.retain_until - until) < dt.timedelta(seconds=1)


async def test_a_legal_hold_blocks_delete_on_the_server_until_lifted(s3: S3Store) -> None:
    stored = await s3.put(bytes_source(b"held"), legal_hold=True)
    with pytest.raises(S3Error) as err:
        await asyncio.to_thread(s3.client.remove_object, s3.bucket, stored.key, version_id=stored.version_id)
    assert err.value.code == "AccessDenied"
    await s3.set_legal_hold(stored.key, False)
    await asyncio.to_thread(s3.client.remove_object, s3.bucket, stored.key, version_id=stored.version_id)
    assert await versions(s3, stored.key) == []


async def test_a_64_mib_multipart_upload_ends_locked(s3: S3Store) -> None:
    """RGW drops lock headers given on multipart uploads: the store locks after completing, and the
    server then enforces it."""
    data = os.urandom(64 * MiB + 7)
    until = dt.datetime.now(dt.UTC) + DAY
    stored = await s3.put(bytes_source(data), expected_blake3=blake3(data).hexdigest(), retain_until=until,
                          legal_hold=True)
    assert stored.created and stored.digest.size == len(data)
    info = await s3.head(stored.key)
    assert info.legal_hold and info.retain_until is not None and info.retain_until >= until - dt.timedelta(1)
    with pytest.raises(S3Error):
        await asyncio.to_thread(s3.client.remove_object, s3.bucket, stored.key, version_id=stored.version_id)


async def test_disposal_deletes_exactly_the_disposed_version(s3: S3Store) -> None:
    """After retention runs out, deleting by the catalogued version removes that version only: a
    second version of the key (written past the store) stays."""
    data = b"retained briefly"
    stored = await s3.put(bytes_source(data), retain_until=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3))
    other = await asyncio.to_thread(s3.client.put_object, s3.bucket, stored.key, io.BytesIO(b"other"), 5)
    with pytest.raises(ObjectLocked):
        await s3.delete(stored.key, stored.version_id)
    await asyncio.sleep(3.5)
    await s3.delete(stored.key, stored.version_id)
    assert await versions(s3, stored.key) == [other.version_id]


async def test_two_servers_racing_on_the_same_bytes_leave_one_locked_version(s3_server: S3Server,
                                                                              tmp_path: Path) -> None:
    """RGW ignores If-None-Match: *, so both writes land; the store settles to one version and the
    loser's is removed before any lock, whatever the interleaving."""
    settings = s3_settings(s3_server, tmp_path)
    a, b = S3Store.from_settings(settings), S3Store.from_settings(settings)
    until = dt.datetime.now(dt.UTC) + DAY
    for size in (2000, 11 * MiB):
        data = os.urandom(size)
        ra, rb = await asyncio.gather(a.put(bytes_source(data), expected_blake3=blake3(data).hexdigest(),
                                            retain_until=until),
                                      b.put(bytes_source(data), expected_blake3=blake3(data).hexdigest(),
                                            retain_until=until))
        assert ra.version_id == rb.version_id and [ra.created, rb.created].count(True) <= 1
        assert await versions(a, ra.key) == [ra.version_id]
        assert (await a.head(ra.key)).retain_until is not None
    await a.close()
    await b.close()


async def test_a_gateway_restart_mid_upload_leaves_nothing_and_the_retry_is_clean(
    rgw: Rgw, s3_server: S3Server, tmp_path: Path
) -> None:
    store = S3Store.from_settings(s3_settings(s3_server, tmp_path))
    await store.check()
    data = os.urandom(30 * MiB)
    sent = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        for i in range(0, len(data), MiB):
            if i == 12 * MiB:
                sent.set()
                await asyncio.sleep(1.0)
            yield data[i:i + MiB]

    task = asyncio.create_task(store.put(slow(), expected_blake3=blake3(data).hexdigest(),
                                         retain_until=dt.datetime.now(dt.UTC) + DAY))
    await sent.wait()
    with rgw.down():
        with pytest.raises(StoreError):
            await task
    key = f"blake3/{blake3(data).hexdigest()}"
    assert await versions(store, key) == []  # nothing half-written is visible
    stored = await store.put(bytes_source(data), expected_blake3=blake3(data).hexdigest(),
                             retain_until=dt.datetime.now(dt.UTC) + DAY)
    assert stored.created and (await store.head(key)).retain_until is not None
    assert (await store.verify(key)).ok
    assert store.budget.taken == 0
    await store.close()
