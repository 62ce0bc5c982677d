"""Over HTTP: access follows the case log, not rows a database superuser edits, and scrub's findings
reach the metrics by kind."""

from __future__ import annotations

import asyncpg

from services.scrub import scrub
from tests.api.conftest import Api
from tests.api.test_restriction import CASE, restricted_case


async def superuser(pool: asyncpg.Pool, sql: str, *args: object) -> None:
    """A superuser's edit: the append-only triggers off, then a plain statement."""
    async with pool.acquire() as conn:
        await conn.execute("SET session_replication_role = replica")
        await conn.execute(sql, *args)


async def test_a_restriction_edited_to_none_in_the_table_opens_nothing(file_api: Api) -> None:
    await restricted_case(file_api, "state_secret")
    pool = file_api.locker.pool
    await superuser(pool, "UPDATE cases SET restriction = 'none' WHERE id = $1", CASE)
    await superuser(pool, "INSERT INTO case_grants (case_id, principal, granted_by, reason) "
                          "VALUES ($1, 'outsider', 'admin:admin', 'curious')", CASE)
    for who in ("outsider", "admin"):
        status, body = await file_api.call("GET", f"/api/v1/cases/{CASE}", who)
        assert status == 403 and body["error"] == "restricted" and body["restriction"] == "state_secret", body
        status, body = await file_api.call("GET", f"/api/v1/cases/{CASE}/evidence", who)
        assert status == 403, body
        _, body = await file_api.call("GET", "/api/v1/cases?officer=officer-7", who)
        assert CASE not in [c["id"] for c in body["cases"]]
        _, body = await file_api.call("GET", f"/api/v1/cases?id={CASE}", who)
        assert body["cases"] == [{"id": CASE, "restriction": "state_secret", "restricted": True}]
    status, body = await file_api.call("GET", f"/api/v1/cases/{CASE}", "grantee")  # the logged grant holds
    assert status == 200 and body["restriction"] == "state_secret"

    found = await scrub(file_api.locker, CASE)
    assert sorted(f.code for f in found) == ["case_row_mismatch", "grant_unlogged"]
    _, metrics = await file_api.call("GET", "/metrics", "admin")
    assert b'custody_scrub_findings{code="case_row_mismatch"} 1.0' in metrics
    assert b'custody_scrub_findings{code="grant_unlogged"} 1.0' in metrics
    assert b"custody_scrub_problems 2.0" in metrics


async def test_a_clean_server_scrubs_clean(file_api: Api) -> None:
    await restricted_case(file_api)
    assert await scrub(file_api.locker) == []
    _, metrics = await file_api.call("GET", "/metrics", "admin")
    assert b"custody_scrub_problems 0.0" in metrics and b"custody_scrub_findings{" not in metrics
