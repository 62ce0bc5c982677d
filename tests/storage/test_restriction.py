"""Restricted-access cases in the database: levels, grants, the one-query access check, the log entries."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from foundation.errors import Forbidden
from policy.errors import NothingChanged, NotPermitted, PolicyError, ReasonRequired, Restricted
from services import accounts, restriction
from services.locker import Locker
from services.permissions import operator
from services.restriction import CaseAccess, GrantExists, GrantNotFound
from storage.filestore import FileStore
from storage.keys import KeyRing
from storage.log import CaseLog, CaseNotFound
from storage.principals import Principal
from tests import acting
from tests.acting import principal

HOST = "evidence.test"
#: Principal ids by name, as the fixture created them (the handler is matched by id).
IDS: dict[str, int] = {}


def user(actor: str) -> Principal:
    """The acting principal ``role:name`` with its real id."""
    return principal(actor, IDS.get(actor.partition(":")[2], 0))


CASE = "C-R1"


@pytest.fixture
async def locker(pool: asyncpg.Pool, tmp_path: Path) -> AsyncIterator[Locker]:
    """A locker on the file store (the subject here is the database) with a case handled by ann."""
    store = FileStore(tmp_path / "objects")
    ring = KeyRing(tmp_path / "keys")
    locker = Locker(pool, store, CaseLog(pool, ring.signer(HOST), HOST), ring)
    for name, role in (("ann", "investigator"), ("bob", "investigator"), ("rex", "reviewer"),
                       ("root", "admin"), ("dock-1", "station"), ("gone", "investigator")):
        IDS[name] = (await acting.add_principal(locker, name, role))[0].id
    await accounts.revoke(locker, "gone", who=operator())
    await locker.log.open_case(CASE, "investigator:ann", title="Noise complaint", handler_id=IDS["ann"])
    yield locker
    await store.close()


async def access_entries(locker: Locker) -> list[dict[str, object]]:
    return [json.loads(r.body) for r in await locker.log.entries(CASE) if r.kind.startswith("access.")]


async def test_a_new_case_is_unrestricted_and_its_handler_is_known(locker: Locker) -> None:
    assert (await restriction.access(locker.pool, CASE, "bob")
            == CaseAccess("none", "investigator:ann", False, IDS["ann"]))
    assert await restriction.access(locker.pool, "NOPE", "bob") is None
    assert await restriction.access_many(locker.pool, [CASE, "NOPE"], "bob") == {
        CASE: CaseAccess("none", "investigator:ann", False, IDS["ann"])}


async def test_restrict_grant_revoke_and_the_log(locker: Locker) -> None:
    before, after = await restriction.set_level(locker, CASE, "privacy", who=user("investigator:ann"),
                                                reason="minor filmed")
    assert (before, after) == ("none", "privacy")
    bob = await restriction.access(locker.pool, CASE, "bob")
    assert bob == CaseAccess("privacy", "investigator:ann", False, IDS["ann"]) and not bob.may_read(IDS["bob"])
    assert (await restriction.access(locker.pool, CASE, "ann")).may_read(IDS["ann"])  # type: ignore[union-attr]

    granted = await restriction.grant(locker, CASE, "bob", who=user("investigator:ann"),
                                      reason="second officer on the case")
    assert (granted.principal, granted.granted_by, granted.revoked_at) == ("bob", "investigator:ann", None)
    assert (await restriction.access(locker.pool, CASE, "bob")
            == CaseAccess("privacy", "investigator:ann", True, IDS["ann"]))
    assert [g.principal for g in await restriction.grants(locker.pool, CASE)] == ["bob"]

    revoked = await restriction.revoke(locker, CASE, "bob", who=user("investigator:ann"),
                                       reason="moved to another unit")
    assert revoked.revoked_by == "investigator:ann" and revoked.revoke_reason == "moved to another unit"
    assert not (await restriction.access(locker.pool, CASE, "bob")).granted  # type: ignore[union-attr]
    assert await restriction.grants(locker.pool, CASE) == []
    assert [g.principal for g in await restriction.grants(locker.pool, CASE, active_only=False)] == ["bob"]

    entries = await access_entries(locker)
    assert [(e["kind"], e["actor"]) for e in entries] == [
        ("access.restricted", "investigator:ann"), ("access.granted", "investigator:ann"),
        ("access.grant_revoked", "investigator:ann")]
    assert (entries[0]["level"], entries[0]["previous"], entries[0]["reason"]) == ("privacy", "none", "minor filmed")
    assert (entries[1]["principal"], entries[1]["reason"]) == ("bob", "second officer on the case")
    assert (entries[2]["principal"], entries[2]["reason"]) == ("bob", "moved to another unit")


async def test_one_active_grant_per_principal_and_regrant_after_revoke(locker: Locker) -> None:
    await restriction.set_level(locker, CASE, "trade_secret", who=user("investigator:ann"),
                                reason="supplier's prices")
    kw = {"who": user("investigator:ann")}
    await restriction.grant(locker, CASE, "rex", reason="legal review", **kw)
    with pytest.raises(GrantExists):
        await restriction.grant(locker, CASE, "rex", reason="again", **kw)
    await restriction.revoke(locker, CASE, "rex", reason="review done", **kw)
    with pytest.raises(GrantNotFound):
        await restriction.revoke(locker, CASE, "rex", reason="twice", **kw)
    await restriction.grant(locker, CASE, "rex", reason="second review", **kw)
    rows = await restriction.grants(locker.pool, CASE, active_only=False)
    assert [(g.principal, g.revoked_at is None) for g in rows] == [("rex", False), ("rex", True)]
    assert (await restriction.access(locker.pool, CASE, "rex")).granted  # type: ignore[union-attr]
    with pytest.raises(asyncpg.UniqueViolationError):  # the database holds the rule, whoever writes
        await locker.pool.execute(
            "INSERT INTO case_grants (case_id, principal, granted_by, reason) VALUES ($1, 'rex', 'x', 'y')", CASE)


async def test_the_rules_apply_with_the_actor_s_own_access(locker: Locker) -> None:
    await restriction.set_level(locker, CASE, "privacy", who=user("investigator:ann"), reason="minor filmed")
    with pytest.raises(Restricted):  # bob may not read it, so may not raise it
        await restriction.set_level(locker, CASE, "state_secret", who=user("investigator:bob"), reason="r")
    with pytest.raises(NotPermitted):  # the handler may not lower it
        await restriction.set_level(locker, CASE, "none", who=user("investigator:ann"), reason="r")
    with pytest.raises(Restricted):  # nor may bob grant himself access
        await restriction.grant(locker, CASE, "bob", who=user("investigator:bob"),
                                reason="curious")
    with pytest.raises(NothingChanged):
        await restriction.set_level(locker, CASE, "privacy", who=user("investigator:ann"), reason="r")
    with pytest.raises(ReasonRequired):
        await restriction.grant(locker, CASE, "bob", who=user("investigator:ann"),
                                reason="  ")
    for who in ("dock-1", "gone", "nobody"):
        with pytest.raises(PolicyError):
            await restriction.grant(locker, CASE, who, who=user("investigator:ann"), reason="r")
    # An administrator without a grant: may grant (themselves) and lower, not raise.
    with pytest.raises(Restricted):
        await restriction.set_level(locker, CASE, "state_secret", who=user("admin:root"), reason="r")
    await restriction.grant(locker, CASE, "root", who=user("admin:root"),
                            reason="audit of the complaint")
    await restriction.set_level(locker, CASE, "state_secret", who=user("admin:root"),
                                reason="classified annex")
    await restriction.set_level(locker, CASE, "none", who=user("admin:root"),
                                reason="annex moved to the classified system")
    # The operator at the command line decides nothing about a case: a change is made as a user (--as).
    with pytest.raises(Forbidden):
        await restriction.set_level(locker, CASE, "trade_secret", who=operator(), reason="r")
    assert [(e["kind"], e.get("level")) for e in await access_entries(locker)] == [
        ("access.restricted", "privacy"), ("access.granted", None), ("access.restricted", "state_secret"),
        ("access.restricted", "none")]
    with pytest.raises(CaseNotFound):
        await restriction.set_level(locker, "NOPE", "privacy", who=user("admin:root"), reason="r")


async def test_the_database_refuses_unknown_levels(locker: Locker) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await locker.pool.execute("UPDATE cases SET restriction = 'secret' WHERE id = $1", CASE)


async def test_whoever_restricts_an_open_case_keeps_their_access_on_the_record(locker: Locker) -> None:
    # bob is not the handler (ann is): restricting the open case grants him access, logged, not silent.
    await restriction.set_level(locker, CASE, "privacy", who=user("investigator:bob"), reason="minor filmed")
    state = await restriction.access(locker.pool, CASE, "bob")
    assert state is not None and state.may_read(IDS["bob"])
    [grant] = await restriction.grants(locker.pool, CASE)
    assert (grant.principal, grant.reason) == ("bob", "placed the restriction: minor filmed")
    assert [e["kind"] for e in await access_entries(locker)] == ["access.restricted", "access.granted"]
    # The handler restricting, or raising a level already restricted, grants nobody anything.
    await restriction.set_level(locker, CASE, "trade_secret", who=user("investigator:ann"),
                                reason="supplier prices")
    assert [g.principal for g in await restriction.grants(locker.pool, CASE)] == ["bob"]
