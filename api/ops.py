"""Operations: health, metrics, the OpenAPI document and its docs page, and principal admin."""

from __future__ import annotations

import asyncio

from aiohttp import web

from api.appkeys import LOCKER, METRICS, WITNESSING
from api.auth import principal_of
from api.errors import RETRY_AFTER_SECONDS
from api.params import json_object, json_response, text_field
from services import accounts, witnessing
from storage import catalog, db, principals


async def healthz(request: web.Request) -> web.Response:
    """Database and object store reachable?  No case data, so no token needed."""
    locker = request.app[LOCKER]
    checks: dict[str, str] = {}
    for name, probe in (("database", db.ping(locker.pool)), ("objects", locker.store.check())):
        try:
            await asyncio.wait_for(probe, 5)
            checks[name] = "ok"
        except Exception as exc:  # any failure is "not healthy"; the reason is for the operator
            checks[name] = f"failed: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    response = json_response({"status": "ok" if ok else "unavailable", **checks}, status=200 if ok else 503)
    if not ok:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


async def metrics(request: web.Request) -> web.Response:
    m = request.app[METRICS]
    last = await catalog.last_scrub(request.app[LOCKER].pool)
    if last is not None:
        m.scrub_problems.set(len(last["problems"]))
        m.scrub_findings.clear()
        for problem in last["problems"]:  # runs before codes existed recorded bare sentences
            m.scrub_findings.labels(problem.get("code", "unclassified") if isinstance(problem, dict)
                                    else "unclassified").inc()
        m.scrub_last_run.set(last["finished_at"].timestamp())
    locker = request.app[LOCKER]
    if locker.witnesses.endpoints:
        lag = await witnessing.lag(locker.pool, locker.witnesses)
        seconds = witnessing.lag_seconds(lag)
        m.witness_lag.set(seconds)
        m.witness_behind.set(lag.checkpoints_behind)
        m.witness_alarm.set(1 if seconds > locker.witnesses.alarm_seconds else 0)
        m.witness_refusals.set(await witnessing.refusal_count(locker.pool))
        sender = request.app.get(WITNESSING)
        for name, up in (sender.up.items() if sender is not None else ()):
            m.witness_up.labels(name).set(1 if up else 0)
    return web.Response(body=m.render(), content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})


async def add_principal(request: web.Request) -> web.Response:
    """Create a user or station; the token is in this response and nowhere else, ever."""
    body = await json_object(request)
    name = text_field(body, "name", required=True, max_len=64)
    role = text_field(body, "role", required=True, max_len=20)
    assert name is not None and role is not None
    principal, token = await accounts.add(request.app[LOCKER], name, role, who=principal_of(request))
    return json_response({"name": principal.name, "role": principal.role, "token": token}, status=201)


async def list_principals(request: web.Request) -> web.Response:
    rows = await principals.list_principals(request.app[LOCKER].pool)
    return json_response({"principals": [{"name": p.name, "role": p.role, "revoked_at": p.revoked_at}
                                         for p in rows]})


async def revoke_principal(request: web.Request) -> web.Response:
    await accounts.revoke(request.app[LOCKER], request.match_info["name"], who=principal_of(request))
    return json_response({"name": request.match_info["name"], "revoked": True})


async def witnesses(request: web.Request) -> web.Response:
    """The witnesses that cosign this installation's checkpoints (their vkeys are public, like the log's)."""
    policy = request.app[LOCKER].witnesses
    return json_response({"quorum": policy.quorum if policy.endpoints else 0,
                          "witnesses": [{"name": e.name, "vkey": e.verifier.vkey} for e in policy.endpoints]})
