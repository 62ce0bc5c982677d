"""Retention classes, case closure, legal holds and disposition over HTTP."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict
from typing import Any

from aiohttp import web

from api.access import readable, require_read
from api.appkeys import LOCKER
from api.auth import principal_of
from api.params import blake3_param, int_field, json_object, json_response, text_field
from foundation.errors import Invalid
from policy.errors import PolicyError
from policy.retention import RetentionClass
from services import retention
from services.retention import HoldNotFound


def _reason(body: dict[str, Any]) -> str:
    return text_field(body, "reason", required=True, max_len=2000) or ""


async def list_classes(request: web.Request) -> web.Response:
    classes = await retention.list_classes(request.app[LOCKER].pool)
    return json_response({"classes": [asdict(c) for c in classes]})


async def set_class(request: web.Request) -> web.Response:
    """Create or change a class; the change is an entry in the governance log, with its reason."""
    body = await json_object(request)
    try:
        cls = RetentionClass(
            name=request.match_info["name"], years=int_field(body, "years") or 0,
            months=int_field(body, "months") or 0, days=int_field(body, "days") or 0,
            trigger=text_field(body, "trigger", required=True, max_len=20),  # type: ignore[arg-type]
            description=text_field(body, "description", max_len=500) or "")
    except PolicyError as exc:
        raise Invalid(str(exc)) from None
    await retention.set_class(request.app[LOCKER], cls, who=principal_of(request), reason=_reason(body))
    return json_response(asdict(cls))


async def case_retention(request: web.Request) -> web.Response:
    """Each object of a case: its class, retain-until, whether a clock is still open, holds."""
    locker = request.app[LOCKER]
    case_id = request.match_info["case"]
    await locker.log.head(case_id)
    rows = await retention.case_objects(locker.pool, case_id)
    holds = await retention.list_holds(locker.pool, case_id)
    return json_response({"case": case_id, "objects": rows, "holds": [asdict(h) for h in holds]})


async def assign_class(request: web.Request) -> web.Response:
    body = await json_object(request)
    blake3 = body.get("blake3")
    extended = await retention.assign_class(
        request.app[LOCKER], request.match_info["case"], text_field(body, "class", required=True, max_len=64) or "",
        blake3=blake3_param(blake3) if blake3 is not None else None, who=principal_of(request),
        reason=_reason(body))
    return json_response({"extended": extended})


async def close_case(request: web.Request) -> web.Response:
    body = await json_object(request)
    extended = await retention.close_case(request.app[LOCKER], request.match_info["case"],
                                          who=principal_of(request),
                                          reason=text_field(body, "reason", max_len=2000) or "")
    return json_response({"closed": True, "extended": extended})


async def list_holds(request: web.Request) -> web.Response:
    """Holds of one case (if the caller may read it), or of every case the caller may read; holds of
    restricted cases they may not read are counted as ``withheld`` (a hold's reason is the case's)."""
    case_id = request.query.get("case")
    if case_id is not None:
        await require_read(request, case_id)
    holds = await retention.list_holds(request.app[LOCKER].pool, case_id,
                                       active_only=request.query.get("all") not in ("1", "true"))
    allowed = await readable(request, {h.case_id for h in holds})
    shown = [h for h in holds if h.case_id in allowed]
    return json_response({"holds": [asdict(h) for h in shown], "withheld": len(holds) - len(shown)})


async def place_hold(request: web.Request) -> web.Response:
    body = await json_object(request)
    blake3 = body.get("blake3")
    case_id = text_field(body, "case", required=True, max_len=64) or ""
    await require_read(request, case_id)
    hold = await retention.place_hold(
        request.app[LOCKER], case_id, blake3=blake3_param(blake3) if blake3 is not None else None,
        reason=_reason(body), who=principal_of(request))
    return json_response(asdict(hold), status=201)


async def lift_hold(request: web.Request) -> web.Response:
    body = await json_object(request)
    raw = request.match_info["hold"]
    if not re.fullmatch(r"[0-9]+", raw):
        raise Invalid("hold id must be a non-negative integer")
    if len(raw) > 19 or (hold_id := int(raw)) >= 2**63:
        raise HoldNotFound(f"no hold {raw[:40]}")  # beyond any bigint id: no such hold, not a fault
    await require_read(request, (await retention.get_hold(request.app[LOCKER].pool, hold_id)).case_id)
    who = principal_of(request)
    hold = await retention.lift_hold(request.app[LOCKER], hold_id, who=who,
                                     reason=_reason(body))
    return json_response(asdict(hold))


def _report(report: retention.DispositionReport) -> dict[str, Any]:
    return {"dry_run": report.dry_run,
            "disposed" if not report.dry_run else "would_dispose": [asdict(d) for d in report.disposed],
            "held": [asdict(d) for d in report.held],
            "failed": [{**asdict(d), "error": err} for d, err in report.failed], "stills": report.stills}


async def due(request: web.Request) -> web.Response:
    """What a disposition run would delete now (and what holds keep): a dry run."""
    report = await retention.plan_disposition(request.app[LOCKER])
    return json_response(_report(report))


async def run(request: web.Request) -> web.Response:
    body = await json_object(request)
    dry = body.get("dry_run", False)
    if not isinstance(dry, bool):
        raise Invalid("'dry_run' must be a boolean")
    report = await retention.run_disposition(request.app[LOCKER], dry_run=dry, now=dt.datetime.now(dt.UTC),
                                             who=principal_of(request))
    return json_response(_report(report))
