"""Failed authentication backs off per address and per token; good tokens keep working (issue 14, item 4)."""

from __future__ import annotations

import secrets

import pytest

from api.auth import TOKENS
from api.throttle import FAILURES_PER_BURST
from tests.api.conftest import Api


async def test_a_burst_of_bad_tokens_backs_off_with_a_metric_and_one_log_line(
        file_api: Api, caplog: pytest.LogCaptureFixture) -> None:
    api = file_api
    for who in ("investigator", "admin"):
        assert (await api.call("GET", "/api/v1/cases", who))[0] == 200  # cached as good
    statuses = []
    for _ in range(FAILURES_PER_BURST * 3):
        bad = {"Authorization": f"Bearer cst_{secrets.token_urlsafe(32)}"}
        async with api.http.get(api.base + "/api/v1/cases", headers=bad) as resp:
            statuses.append(resp.status)
            if resp.status == 429:
                assert int(resp.headers["Retry-After"]) >= 1
                assert (await resp.json())["error"] == "too_many_failures"
    assert statuses[:FAILURES_PER_BURST] == [401] * FAILURES_PER_BURST
    assert set(statuses[FAILURES_PER_BURST:]) == {429}  # no database lookups while it backs off
    # the random tokens did not flush the cache, and a working client is not locked out
    assert len(api.app[TOKENS]._entries) >= 1
    assert (await api.call("GET", "/api/v1/cases", "investigator"))[0] == 200
    bursts = [r for r in caplog.records if getattr(r, "event", None) == "auth_backoff"]
    assert len(bursts) == 1  # one line for the burst from this address, not one per attempt
    _, metrics = await api.call("GET", "/metrics", "admin")
    assert b'custody_auth_backoffs_total{scope="addr"} 1.0' in metrics
    assert b"custody_auth_failures_total" in metrics
