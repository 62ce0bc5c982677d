"""Shares with prosecutors and courts in the service layer: who may share, expiry, limits, revocation, the log."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from blake3 import blake3

from foundation.errors import Forbidden, Invalid, NotFound
from integrity.bundle_files import verify_bundle
from policy import log_state
from policy.errors import Restricted
from services import restriction, shares
from services.locker import Locker
from storage import cached_rows
from storage import shares as rows
from storage.filestore import FileStore
from storage.keys import KeyRing
from storage.log import CaseLog
from storage.objects import bytes_source
from storage.principals import Principal
from tests import acting
from tests.acting import principal

HOST = "evidence.test"
CASE = "C-S1"
CLIP = b"body camera clip " * 1000
PROXY = b"proxy of the clip " * 300
NOTE = b"inquiry record"
IDS: dict[str, int] = {}


def user(actor: str) -> Principal:
    return principal(actor, IDS.get(actor.partition(":")[2], 0))


@pytest.fixture
async def locker(pool: asyncpg.Pool, tmp_path: Path) -> AsyncIterator[Locker]:
    """A case handled by ann holding a clip (with its proxy) and a record."""
    store = FileStore(tmp_path / "objects")
    ring = KeyRing(tmp_path / "keys")
    locker = Locker(pool, store, CaseLog(pool, ring.signer(HOST), HOST), ring)
    for name, role in (("ann", "investigator"), ("bob", "investigator"), ("rex", "reviewer"), ("root", "admin")):
        IDS[name] = (await acting.add_principal(locker, name, role))[0].id
    await locker.log.open_case(CASE, "investigator:ann", title="Noise complaint", handler_id=IDS["ann"])
    await locker.add_object(CASE, bytes_source(CLIP), kind="evidence.ingested", actor="station:dock",
                            fields={"file_name": "clip.mp4", "media_type": "video/mp4", "officer": "officer-7"})
    await locker.add_object(CASE, bytes_source(PROXY), kind="evidence.derived", actor="station:dock",
                            fields={"file_name": "clip.proxy.mp4", "media_type": "video/mp4",
                                    "original_blake3": blake3(CLIP).hexdigest()})
    await locker.add_object(CASE, bytes_source(NOTE), kind="record.added", actor="investigator:ann",
                            fields={"file_name": "inquiry.txt", "media_type": "text/plain", "stage": "investigation"})
    yield locker
    await store.close()


async def share_entries(locker: Locker) -> list[tuple[str, str, dict[str, object]]]:
    return [(r.kind, r.actor, json.loads(r.body)) for r in await locker.log.entries(CASE)
            if r.kind.startswith("share.")]


async def test_share_open_download_revoke_and_the_log(locker: Locker) -> None:
    clip = blake3(CLIP).hexdigest()
    share, token = await shares.create(locker, CASE, who=user("investigator:ann"), organisation="City procuratorate",
                                       person="Prosecutor Li", purpose="indictment review", days=14,
                                       items=[clip], max_downloads=2)
    assert token.startswith("csh_") and share.items == (clip,) and share.downloads == 0
    # Only the hash is kept: the token is nowhere in the row or the log.
    raw = await locker.pool.fetchval("SELECT token_hash FROM shares WHERE id = $1", share.id)
    assert raw == rows.hash_token(token) and token.encode() not in b"".join(
        r.body for r in await locker.log.entries(CASE))

    opened, items = await shares.view(locker, token, client="203.0.113.9")
    assert opened.id == share.id and [(s.item.blake3, s.proxy.blake3 if s.proxy else None) for s in items] == [
        (clip, blake3(PROXY).hexdigest())]  # the record is not in this share
    _, played = await shares.open_item(locker, token, blake3(PROXY).hexdigest(), play=True)
    assert played.file_name == "clip.proxy.mp4"
    with pytest.raises(NotFound):  # the record was not shared
        await shares.open_item(locker, token, blake3(NOTE).hexdigest())
    for _ in range(2):
        counted, item = await shares.open_item(locker, token, clip, client="203.0.113.9")
        assert item.blake3 == clip
    assert counted.downloads == 2
    with pytest.raises(shares.DownloadLimitReached):
        await shares.open_item(locker, token, clip)
    # Playing the proxy is not a download.
    await shares.open_item(locker, token, blake3(PROXY).hexdigest(), play=True)

    revoked = await shares.revoke(locker, CASE, share.id, who=user("investigator:bob"), reason="indictment filed")
    assert revoked.revoked_by == "investigator:bob"
    for attempt in (shares.view(locker, token), shares.open_item(locker, token, clip, play=True)):
        with pytest.raises(shares.ShareNotFound) as refused:
            await attempt
        assert refused.value.status == "not_found" and str(refused.value) == shares.NOT_FOUND_MESSAGE
    with pytest.raises(shares.ShareRevoked):
        await shares.revoke(locker, CASE, share.id, who=user("investigator:ann"), reason="again")

    entries = await share_entries(locker)
    kinds = [(k, a) for k, a, _ in entries]
    assert kinds == [("share.created", "investigator:ann"), ("share.viewed", f"share:{share.id}"),
                     ("share.viewed", f"share:{share.id}"), ("share.downloaded", f"share:{share.id}"),
                     ("share.downloaded", f"share:{share.id}"), ("share.revoked", "investigator:bob")]
    created = entries[0][2]
    assert (created["share"], created["person"], created["items"], created["max_downloads"]) == (
        share.id, "Prosecutor Li", [clip], 2)
    assert all(f["share"] == share.id for _, _, f in entries)
    assert entries[3][2]["object"] == clip and entries[3][2]["client"] == "203.0.113.9"


async def test_expired_and_unknown_tokens_get_the_same_answer(locker: Locker) -> None:
    share, token = await shares.create(locker, CASE, who=user("investigator:ann"), organisation="District court",
                                       person="Clerk Wang", purpose="hearing", days=1)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    messages = set()
    for probe, when in ((token, later), ("csh_" + "A" * 43, None), ("nonsense", None), (token[:-1], None)):
        with pytest.raises(shares.ShareNotFound) as refused:
            await shares.view(locker, probe, now=when)
        messages.add(str(refused.value))
    assert messages == {shares.NOT_FOUND_MESSAGE}
    assert (await shares.find(locker, token)).id == share.id  # still live now


async def test_whole_case_bundle_is_counted_and_logged_before_it_is_written(locker: Locker, tmp_path: Path) -> None:
    _, token = await shares.create(locker, CASE, who=user("investigator:ann"), organisation="Court",
                                   person="Judge Zhou", purpose="trial", days=7, max_downloads=1)
    _, items = await shares.view(locker, token)
    assert sorted(s.item.file_name or "" for s in items) == ["clip.mp4", "inquiry.txt"]
    out = tmp_path / "bundle.zip"
    await shares.write_bundle(locker, token, out)
    with zipfile.ZipFile(out) as z:
        log_text = b"".join(z.read(n) for n in z.namelist() if "entries" in n)
    assert b"share.downloaded" in log_text  # the bundle's checkpoint covers the download itself
    with pytest.raises(shares.DownloadLimitReached):
        await shares.write_bundle(locker, token, tmp_path / "again.zip")
    partial, partial_token = await shares.create(locker, CASE, who=user("investigator:ann"), organisation="Court",
                                                 person="Judge Zhou", purpose="trial", days=7,
                                                 items=[blake3(NOTE).hexdigest()])
    assert partial.items is not None
    with pytest.raises(NotFound):
        await shares.write_bundle(locker, partial_token, tmp_path / "partial.zip")


async def test_who_may_share_and_bad_input(locker: Locker) -> None:
    kw = {"organisation": "Court", "person": "Clerk", "purpose": "hearing", "days": 7}
    with pytest.raises(Forbidden):
        await shares.create(locker, CASE, who=user("reviewer:rex"), **kw)  # type: ignore[arg-type]
    await restriction.set_level(locker, CASE, "privacy", who=user("investigator:ann"), reason="a minor is filmed")
    with pytest.raises(Restricted):  # need to know: bob may not read the case now
        await shares.create(locker, CASE, who=user("investigator:bob"), **kw)  # type: ignore[arg-type]
    with pytest.raises(Restricted):  # nor may an admin without a grant
        await shares.create(locker, CASE, who=user("admin:root"), **kw)  # type: ignore[arg-type]
    for bad in ({"days": 0}, {"days": 400}, {"person": "  "}, {"max_downloads": 0}, {"items": []},
                {"items": [blake3(b"not in the case").hexdigest()]}, {"items": [blake3(PROXY).hexdigest()]}):
        with pytest.raises(Invalid):
            await shares.create(locker, CASE, who=user("investigator:ann"), **{**kw, **bad})  # type: ignore[arg-type]
    assert await shares.of_case(locker, CASE, who=user("investigator:ann")) == []  # nothing half-written
    assert [k for k, _, _ in await share_entries(locker)] == []


async def test_the_court_bundle_has_a_checked_readable_index(locker: Locker, tmp_path: Path) -> None:
    """INDEX.html and SHA256SUMS: what each file is and how to check it; verify-bundle checks both."""
    _, token = await shares.create(locker, CASE, who=user("investigator:ann"), organisation="Court",
                                   person="Clerk Wang", purpose="trial", days=7)
    out = tmp_path / "bundle.zip"
    await shares.write_bundle(locker, token, out)
    assert verify_bundle(out).ok
    with zipfile.ZipFile(out) as z:
        index = z.read("INDEX.html").decode()
        assert "clip.mp4" in index and "inquiry.txt" in index and "officer-7" in index
        assert "custody verify-bundle" in index and "sha256sum -c SHA256SUMS" in index
        assert f"cp objects/{blake3(CLIP).hexdigest()} '0001-clip.mp4'" in index
        z.extractall(tmp_path / "unzipped")
    # By hand, as the index says: sha256sum -c in the unzipped folder.
    done = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path / "unzipped", capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0 and done.stdout.count(": OK") == 3, done.stdout
    # A changed index fails the bundle, like any other member.
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(forged, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, data.replace(b"clip.mp4", b"clop.mp4") if info.filename == "INDEX.html" else data)
    report = verify_bundle(forged)
    assert not report.ok and report.failure_place == "INDEX.html"


async def test_scrub_re_derives_the_share_rows_from_the_log(locker: Locker) -> None:
    clip = blake3(CLIP).hexdigest()
    share, token = await shares.create(locker, CASE, who=user("investigator:ann"), organisation="Court",
                                       person="Clerk Wang", purpose="trial", days=7, items=[clip], max_downloads=5)
    await shares.open_item(locker, token, clip)
    await shares.revoke(locker, CASE, share.id, who=user("investigator:ann"), reason="trial over")

    async def findings() -> list[str]:
        derived = log_state.fold([json.loads(r.body) for r in await locker.log.entries(CASE)])
        return [f.code for f in log_state.compare(CASE, derived, await cached_rows.table_rows(locker.pool, CASE))]

    assert await findings() == []
    await locker.pool.execute("UPDATE shares SET downloads = 0, revoked_at = NULL, revoked_by = NULL "
                              "WHERE id = $1", share.id)  # a quiet reset of the limit and the revocation
    assert await findings() == ["share_mismatch"]
