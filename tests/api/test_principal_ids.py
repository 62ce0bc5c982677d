"""The handler is a principal id, never a display name (issue 14, item 2)."""

from __future__ import annotations

import asyncpg
import pytest

from tests.api.conftest import Api


async def test_an_admin_creating_a_user_with_a_handlers_name_reads_nothing(file_api: Api) -> None:
    api = file_api
    await api.open_case("CASE-LEGACY")
    # a case whose handler the log names only as a string no principal holds (opened from the CLI long ago)
    await api.locker.pool.execute("UPDATE cases SET handler = 'cli:root', handler_id = NULL WHERE id = 'CASE-LEGACY'")
    status, body = await api.call("PUT", "/api/v1/cases/CASE-LEGACY/restriction", "investigator",
                                  json={"level": "privacy", "reason": "a minor is filmed"})
    assert status == 200, body
    status, body = await api.call("POST", "/api/v1/principals", "admin", json={"name": "root", "role": "investigator"})
    assert status == 201, body
    api.tokens["root"] = body["token"]
    status, body = await api.call("GET", "/api/v1/cases/CASE-LEGACY", "root")
    assert status == 403 and body["error"] == "restricted", body
    status, body = await api.call("GET", "/api/v1/cases?id=CASE-LEGACY", "root")
    assert status == 200 and body["cases"] == [{"id": "CASE-LEGACY", "restriction": "privacy", "restricted": True}]
    # the real handler (by id) still reads its own restricted case
    await api.open_case("CASE-MINE")
    await api.call("PUT", "/api/v1/cases/CASE-MINE/restriction", "investigator",
                   json={"level": "privacy", "reason": "r"})
    assert (await api.call("GET", "/api/v1/cases/CASE-MINE", "investigator"))[0] == 200
    assert (await api.call("GET", "/api/v1/cases/CASE-MINE", "root"))[0] == 403


async def test_a_handler_must_be_an_existing_active_investigator(file_api: Api) -> None:
    for handler in ("nobody", "disclosure", "station"):
        status, body = await file_api.call("POST", "/api/v1/cases", "investigator",
                                           json={"id": f"CASE-H-{handler}", "handler": handler})
        assert status == 422, (handler, body)


async def test_a_principal_is_never_deleted_or_renamed(file_api: Api) -> None:
    pool = file_api.locker.pool
    with pytest.raises(asyncpg.IntegrityConstraintViolationError):
        await pool.execute("DELETE FROM principals WHERE name = 'investigator'")
    with pytest.raises(asyncpg.IntegrityConstraintViolationError):
        await pool.execute("UPDATE principals SET name = 'someone-else' WHERE name = 'investigator'")
    status, body = await file_api.call("DELETE", "/api/v1/principals/investigator", "admin")
    assert status == 200, body  # revoked, not removed: the name can never be taken again
    status, body = await file_api.call("POST", "/api/v1/principals", "admin",
                                       json={"name": "investigator", "role": "investigator"})
    assert status == 409, body
