"""Station uploads through the real HTTP server: receipts, resume, duplicates, mismatches, races."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket

from blake3 import blake3

from storage.filestore import FileStore
from tests.api.conftest import Api, check_receipt, free_port, serving
from tests.conftest import S3Server, s3_settings
from tests.rgw import Rgw
from tests.storage.test_objects import file_size_limit

MiB = 1024 * 1024


async def case_size(api: Api, case: str = "CASE-1") -> int:
    size, _ = await api.locker.log.head(case)
    return size


async def test_upload_receipt_verifies_client_side(api: Api) -> None:
    data = os.urandom(7 * MiB + 123)
    done = await api.upload(data)
    assert done["state"] == "committed"
    entry = await check_receipt(api, done["receipt"], data)
    assert entry["kind"] == "evidence.ingested"
    assert (entry["camera"], entry["officer"], entry["station"]) == ("CAM-1", "officer-7", "station")
    assert entry["recorded_at"] == "2026-11-20T08:00:00Z" and entry["actor"] == "station:station"
    assert await api.locker.store.exists(f"blake3/{blake3(data).hexdigest()}")


async def test_reupload_returns_existing_receipt_without_bytes(api: Api) -> None:
    data = os.urandom(100_000)
    first = await api.upload(data)
    status, again = await api.declare(data, "CASE-1")
    assert status == 200 and again["state"] == "committed"
    assert again["receipt"]["leaf_index"] == first["receipt"]["leaf_index"]
    await check_receipt(api, again["receipt"], data)


async def test_duplicate_chunk_is_idempotent(api: Api) -> None:
    data = os.urandom(2 * MiB + 10)
    _, up = await api.declare(data, "CASE-1")
    url = f"/api/v1/uploads/{up['id']}"
    for _ in range(2):
        status, body = await api.call("PUT", f"{url}?offset=0", "station", data=data[:MiB])
        assert (status, body["offset"]) == (200, MiB)
    # An overlapping resend: starts before the server's end, the overlap is skipped.
    status, body = await api.call("PUT", f"{url}?offset={MiB - 100}", "station", data=data[MiB - 100:])
    assert status == 200 and body["state"] == "committed"
    await check_receipt(api, body["receipt"], data)


async def test_gap_is_refused_with_resume_offset(api: Api) -> None:
    data = os.urandom(3000)
    _, up = await api.declare(data, "CASE-1")
    status, body = await api.call("PUT", f"/api/v1/uploads/{up['id']}?offset=1000", "station", data=data[1000:])
    assert status == 409 and body["error"] == "offset_mismatch" and body["offset"] == 0


async def test_resume_after_connection_drops_mid_chunk(api: Api) -> None:
    data = os.urandom(5 * MiB)
    _, up = await api.declare(data, "CASE-1")
    host, port = api.base.removeprefix("http://").split(":")
    # A raw request that promises the whole file, sends 2 MiB and a bit, then the link dies.
    sent = 2 * MiB + 4321
    head = (f"PUT /api/v1/uploads/{up['id']}?offset=0 HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {api.tokens['station']}\r\nContent-Length: {len(data)}\r\n\r\n").encode()
    _reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(head + data[:sent])
    await writer.drain()
    await asyncio.sleep(0.3)
    writer.transport.abort()
    for _ in range(50):
        status, body = await api.call("GET", f"/api/v1/uploads/{up['id']}", "station")
        if body["offset"] == sent:
            break
        await asyncio.sleep(0.1)
    assert body["offset"] == sent and body["state"] == "open"
    status, body = await api.call("PUT", f"/api/v1/uploads/{up['id']}?offset={sent}", "station", data=data[sent:])
    assert status == 200 and body["state"] == "committed"
    await check_receipt(api, body["receipt"], data)


async def test_wrong_declared_hash_stores_and_logs_nothing(api: Api) -> None:
    data = os.urandom(6 * MiB)
    before = await case_size(api)
    lie = blake3(b"something else").hexdigest()
    status, up = await api.call("POST", "/api/v1/uploads", "station", json={
        "blake3": lie, "size": len(data), "file_name": "x.mp4", "case": "CASE-1"})
    assert status == 201
    status, body = await api.call("PUT", f"/api/v1/uploads/{up['id']}?offset=0", "station", data=data)
    assert status == 409 and body["error"] == "upload_failed"
    assert body["received_blake3"] == blake3(data).hexdigest()
    assert await case_size(api) == before
    assert not await api.locker.store.exists(f"blake3/{lie}")
    assert not await api.locker.store.exists(f"blake3/{blake3(data).hexdigest()}")
    status, body = await api.call("GET", f"/api/v1/uploads/{up['id']}", "station")
    assert body["state"] == "failed"


async def test_too_many_bytes_abort_the_upload(api: Api) -> None:
    data = os.urandom(1000)
    _, up = await api.declare(data, "CASE-1")
    status, body = await api.call("PUT", f"/api/v1/uploads/{up['id']}?offset=0", "station", data=data + b"extra")
    assert status == 409 and "declared size" in body["message"]
    assert await case_size(api) == 1


async def test_concurrent_uploads_of_one_file_give_one_object_one_entry(api: Api) -> None:
    data = os.urandom(6 * MiB)
    results = await asyncio.gather(*(api.upload(data, station=s) for s in ("station", "station2", "station")))
    seqs = {r["receipt"]["leaf_index"] for r in results}
    assert len(seqs) == 1
    rows = await api.locker.log.entries_for_object(blake3(data).hexdigest(), "CASE-1")
    assert [r.kind for r in rows] == ["evidence.ingested"]


async def test_station_isolation(api: Api) -> None:
    data = os.urandom(500)
    _, up = await api.declare(data, "CASE-1")
    status, body = await api.call("GET", f"/api/v1/uploads/{up['id']}", "station2")
    assert status == 404
    status, body = await api.call("PUT", f"/api/v1/uploads/{up['id']}?offset=0", "station2", data=data)
    assert status == 404
    status, body = await api.call("POST", "/api/v1/uploads", "station2", json={
        "blake3": blake3(data).hexdigest(), "size": 500, "file_name": "a.mp4", "station": "station"})
    assert status == 403 and body["error"] == "forbidden"


async def test_uploads_without_case_go_to_the_officers_intake_case(api: Api) -> None:
    data = os.urandom(800)
    done = await api.upload(data, case=None)
    assert done["case"] == "INTAKE-officer-7-20261120"
    await check_receipt(api, done["receipt"], data)


async def test_proxy_links_to_its_original(api: Api) -> None:
    original, proxy = os.urandom(20_000), os.urandom(5000)
    meta = {"kind": "proxy", "original_blake3": blake3(original).hexdigest(),
            "ffmpeg": {"command": "ffmpeg -i in.mp4 -c:v libx264 out.mp4", "version": "5.1.6"}}
    status, body = await api.declare(proxy, "CASE-1", **meta)
    assert status == 422 and "upload the original first" in body["message"]
    await api.upload(original)
    done = await api.upload(proxy, **meta)
    entry = json.loads(done["receipt"]["entry"])
    assert entry["kind"] == "evidence.derived" and entry["original_blake3"] == blake3(original).hexdigest()
    assert entry["ffmpeg"]["version"] == "5.1.6"


async def test_bad_declarations_are_clear_422s(api: Api) -> None:
    cases = [
        ({"blake3": "zz", "size": 1, "file_name": "a"}, "blake3"),
        ({"blake3": "a" * 64, "size": -1, "file_name": "a"}, "size"),
        ({"blake3": "a" * 64, "size": 1.5, "file_name": "a"}, "integers"),
        ({"blake3": "a" * 64, "size": 1, "file_name": "../../etc/passwd"}, "file_name"),
        ({"blake3": "a" * 64, "size": 1, "file_name": "a", "recorded_at": "yesterday"}, "recorded_at"),
        ({"blake3": "a" * 64, "size": 1, "file_name": "a", "case": "NOPE"}, "NOPE"),
    ]
    for spec, word in cases:
        status, body = await api.call("POST", "/api/v1/uploads", "station", json=spec)
        assert status in (400, 404, 422), (spec, status, body)
        assert word in body["message"], (spec, body)
    status, body = await api.call("POST", "/api/v1/uploads", "station", data=b"{not json",
                                  headers={"Content-Type": "application/json"})
    assert status == 400 and body["error"] == "bad_request"


def test_free_port_helper_is_loopback() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        assert s.getsockname()[0] == "127.0.0.1"


async def test_an_object_store_outage_is_a_503_the_station_can_retry(
    database_url: str, tmp_path, rgw: Rgw, s3_server: S3Server
) -> None:
    """S3 goes away while the server runs (the gateway is killed): the station gets 503
    store_unavailable (retry later), no traceback, no entry; its copy stays on the camera because no
    receipt came back.  Once the gateway is back, the same upload goes through."""
    settings = dataclasses.replace(s3_settings(s3_server, tmp_path), database_url=database_url,
                                   origin="evidence.test", port=free_port())
    async with serving(settings) as api:
        data = os.urandom(10_000)
        status, declared = await api.declare(data, "CASE-1")
        assert status == 201, declared
        with rgw.down():  # the object store goes down
            status, body = await api.call("PUT", f"/api/v1/uploads/{declared['id']}?offset=0", "station",
                                          data=data)
            assert status == 503 and body["error"] == "store_unavailable", body
            assert "unreachable" in body["message"] and "Traceback" not in json.dumps(body)
            assert not [r for r in await api.locker.log.entries("CASE-1") if r.kind == "evidence.ingested"]
        done = await api.upload(data)
        assert done["state"] == "committed"


async def test_a_disk_write_failing_mid_upload_fails_the_upload_and_stores_nothing(file_api: Api) -> None:
    """The file store's disk writes trail the hashing: one that fails (here the kernel refuses to
    grow a file past 3 MiB, as a full disk would) gives the station a 503 it can retry, no receipt,
    no entry, no object, and the upload is closed as failed; with room again a new upload goes through."""
    data = os.urandom(8 * MiB)
    before = await case_size(file_api)
    _, up = await file_api.declare(data, "CASE-1")
    with file_size_limit(3 * MiB):
        status, body = await file_api.call("PUT", f"/api/v1/uploads/{up['id']}?offset=0", "station", data=data)
    assert status == 503 and body["error"] == "store_unavailable", body
    assert "could not write the object" in body["message"] and "receipt" not in body
    assert await case_size(file_api) == before
    assert not await file_api.locker.store.exists(f"blake3/{blake3(data).hexdigest()}")
    store = file_api.locker.store
    assert isinstance(store, FileStore) and not list((store.root / "tmp").iterdir())
    status, body = await file_api.call("GET", f"/api/v1/uploads/{up['id']}", "station")
    assert body["state"] == "failed"
    done = await file_api.upload(data)
    assert done["state"] == "committed"
    await check_receipt(file_api, done["receipt"], data)
