"""Release of redacted renders through the service layer (issue 19 item 5): the one gate, attachments as
log entries scrub re-derives, the portal serving only while published, shares by recipient, and scrub
over the saved redaction versions."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from blake3 import blake3

from foundation.errors import Conflict, Forbidden, Invalid, NotFound
from policy import log_state
from services import disclosure, redaction, release, shares, verification
from services.locker import Locker
from services.scrub import scrub
from storage import cached_rows, principals
from storage.filestore import FileStore
from storage.keys import KeyRing
from storage.log import CaseLog
from storage.objects import bytes_source
from storage.principals import Principal
from tests.acting import add_principal, determined

HOST = "evidence.test"
CASE = "C-REL1"
TODAY = dt.date(2026, 10, 8)
RECORD = {"decision_no": "城管罚字〔2026〕第31号", "party_type": "legal", "party_name": "某某餐饮有限公司",
          "violation": "占道经营", "legal_basis": "条例第三十六条", "penalty": "罚款人民币200元",
          "decision_date": "2026-09-20", "category": "市容环境"}
USERS = {"ann": "investigator", "dora": "disclosure", "dina": "disclosure", "rex": "reviewer"}
CLIP = b"original body-camera clip " * 400
PROXY = b"its proxy " * 300
RENDER = b"the redacted render " * 500


@pytest.fixture
async def locker(pool: asyncpg.Pool, tmp_path: Path) -> AsyncIterator[Locker]:
    """A case with an original, its proxy and a redacted render of it; the decision determined."""
    store = FileStore(tmp_path / "objects")
    ring = KeyRing(tmp_path / "keys")
    locker = Locker(pool, store, CaseLog(pool, ring.signer(HOST), HOST), ring)
    for name, role in USERS.items():
        await add_principal(locker, name, role)
    await locker.log.open_case(CASE, "investigator:ann", title="Street stall")
    await determined(locker, CASE, RECORD["decision_no"])
    clip = blake3(CLIP).hexdigest()
    await locker.add_object(CASE, bytes_source(CLIP), kind="evidence.ingested", actor="station:dock",
                            fields={"file_name": "clip.mp4", "media_type": "video/mp4"})
    await locker.add_object(CASE, bytes_source(PROXY), kind="evidence.derived", actor="station:dock",
                            fields={"file_name": "clip.proxy.mp4", "media_type": "video/mp4", "original_blake3": clip})
    await locker.add_object(CASE, bytes_source(RENDER), kind="evidence.redacted", actor="investigator:ann",
                            fields={"file_name": "clip.redacted.mp4", "media_type": "video/mp4",
                                    "original_blake3": clip})
    yield locker
    await store.close()


async def who(locker: Locker, name: str) -> Principal:
    holder = await principals.by_name(locker.pool, name)
    assert holder is not None
    return holder.principal


async def findings(locker: Locker) -> list[str]:
    derived = log_state.fold([json.loads(r.body) for r in await locker.log.entries(CASE)])
    return [f.code for f in log_state.compare(CASE, derived, await cached_rows.table_rows(locker.pool, CASE))]


async def test_only_a_redacted_render_is_attached_and_served_while_published(locker: Locker) -> None:
    dora, dina = await who(locker, "dora"), await who(locker, "dina")
    clip, proxy, render = (blake3(b).hexdigest() for b in (CLIP, PROXY, RENDER))
    d = await disclosure.create(locker, CASE, RECORD, who=dora)
    for unredacted in (clip, proxy):
        with pytest.raises(release.NotReleasable, match="never be released") as refused:
            await release.attach(locker, d.id, unredacted, who=dora)
        assert refused.value.code == "unredacted_release"
    with pytest.raises(NotFound):
        await release.attach(locker, d.id, "0" * 64, who=dora)
    with pytest.raises(Forbidden):
        await release.attach(locker, d.id, render, who=await who(locker, "ann"))
    attached = await release.attach(locker, d.id, render, who=dora)
    assert (attached.file_name, attached.size) == ("clip.redacted.mp4", len(RENDER))
    with pytest.raises(Conflict):
        await release.attach(locker, d.id, render, who=dora)
    logged = [json.loads(r.body) for r in await locker.log.entries(CASE) if r.kind == "disclosure.attached"]
    assert [(e["disclosure"], e["blake3"], e["source"], e["actor"]) for e in logged] == [
        (d.id, render, clip, "disclosure:dora")]
    with pytest.raises(NotFound):  # a draft shows nothing on the portal
        await release.open_published(locker, d.id, render)

    await disclosure.transition(locker, d.id, "approve", who=dina, today=TODAY)
    await disclosure.transition(locker, d.id, "publish", who=dora, today=TODAY)
    assert (await release.open_published(locker, d.id, render)).blake3 == render
    assert [a.blake3 for a in (await release.published_renders(locker, [d.id]))[d.id]] == [render]
    with pytest.raises(Conflict):  # what a record publishes is fixed at publication
        await release.detach(locker, d.id, render, who=dora, reason="wrong clip")
    assert await findings(locker) == []

    await disclosure.transition(locker, d.id, "revoke", who=dina, today=TODAY, reason="published in error",
                                takedown_reason="published_in_error", explanation="发布有误，已撤回")
    with pytest.raises(NotFound):  # the revocation stops serving at once
        await release.open_published(locker, d.id, render)


async def test_scrub_re_derives_attachments_and_redaction_versions(locker: Locker) -> None:
    dora = await who(locker, "dora")
    render, clip = blake3(RENDER).hexdigest(), blake3(CLIP).hexdigest()
    d = await disclosure.create(locker, CASE, RECORD, who=dora)
    await release.attach(locker, d.id, render, who=dora)
    with pytest.raises(Invalid, match="reason"):
        await release.detach(locker, d.id, render, who=dora, reason=" ")
    await release.detach(locker, d.id, render, who=dora, reason="the wrong render")
    await release.attach(locker, d.id, render, who=dora)  # attached again: live under the new entry
    saved = await redaction.save(locker, CASE, who=await who(locker, "ann"), source_blake3=clip, body={
        "tracks": [{"keyframes": [{"t_ms": 0, "x": 10, "y": 10, "w": 50, "h": 50}]}]})
    assert await findings(locker) == []
    # (the test's locker keeps no archived checkpoints: that finding is not this test's)
    assert [f.code for f in await scrub(locker, CASE) if f.code != "checkpoint_unarchived"] == []

    await locker.pool.execute("UPDATE disclosure_attachments SET detached_by = 'disclosure:dora', "
                              "detach_reason = 'quietly' WHERE disclosure_id = $1", d.id)
    assert await findings(locker) == ["attachment_mismatch"]
    await locker.pool.execute("DELETE FROM disclosure_attachments WHERE disclosure_id = $1", d.id)
    assert await findings(locker) == ["attachment_missing"]

    # a version row whose tracks were edited in the database (the render would mask another region)
    await locker.pool.execute(
        """UPDATE redaction_versions SET body = jsonb_set(body, '{tracks,0,keyframes,0,x}', '300')
            WHERE project_id = $1 AND version = 1""", saved.project_id)
    assert sorted(await findings(locker)) == ["attachment_missing", "redaction_version_mismatch"]
    assert "redaction_version_mismatch" in [f.code for f in await scrub(locker, CASE)]
    await locker.pool.execute("DELETE FROM redaction_versions WHERE project_id = $1", saved.project_id)
    assert "redaction_version_missing" in await findings(locker)


async def test_shares_originals_to_courts_renders_to_everyone_else(locker: Locker) -> None:
    ann = await who(locker, "ann")
    clip, proxy, render = (blake3(b).hexdigest() for b in (CLIP, PROXY, RENDER))
    base = {"organisation": "某律师事务所", "person": "张律师", "purpose": "当事人查阅", "days": 7}
    with pytest.raises(release.NotReleasable) as refused:
        await shares.create(locker, CASE, who=ann, items=[clip], recipient="other", **base)  # type: ignore[arg-type]
    assert refused.value.code == "unredacted_release"
    with pytest.raises(Invalid, match="whole case"):
        await shares.create(locker, CASE, who=ann, recipient="other", **base)  # type: ignore[arg-type]
    with pytest.raises(Invalid, match="recipient"):
        await shares.create(locker, CASE, who=ann, items=[render], recipient="press", **base)  # type: ignore[arg-type]
    with pytest.raises(Invalid, match="no original or redacted render"):  # a proxy is not an item of its own
        await shares.create(locker, CASE, who=ann, items=[proxy], **base)  # type: ignore[arg-type]
    lawyer, token = await shares.create(locker, CASE, who=ann, items=[render], recipient="other", **base)  # type: ignore[arg-type]
    _, items = await shares.view(locker, token)
    assert [(i.item.blake3, i.proxy and i.proxy.blake3) for i in items] == [(render, render)]  # it plays itself
    await shares.open_item(locker, token, render, play=True)
    await shares.open_item(locker, token, render)
    # a court gets the whole case: the original with its own proxy (not the render), and the render
    court, court_token = await shares.create(locker, CASE, who=ann, **base)  # type: ignore[arg-type]
    assert court.recipient == "judicial" and lawyer.recipient == "other"
    _, items = await shares.view(locker, court_token)
    assert {i.item.blake3: i.proxy and i.proxy.blake3 for i in items} == {clip: proxy, render: render}
    created = [json.loads(r.body) for r in await locker.log.entries(CASE) if r.kind == "share.created"]
    assert [e["recipient"] for e in created] == ["other", "judicial"]
    assert await findings(locker) == []
    await locker.pool.execute("UPDATE shares SET recipient = 'judicial' WHERE id = $1", lawyer.id)
    assert await findings(locker) == ["share_mismatch"]


async def test_a_released_render_verifies_by_its_hash(locker: Locker) -> None:
    """Whoever received a render (the portal, a lawyer's share) checks it like any evidence: entry, proof."""
    render = blake3(RENDER).hexdigest()
    [match] = await verification.matches(locker, render, CASE)
    assert match.kind == "evidence.redacted"
    answer = verification.answer([match])
    assert answer["found"] is True and render in json.dumps(answer["matches"])
