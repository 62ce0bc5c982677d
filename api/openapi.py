"""The OpenAPI 3.1 document, generated from the route table so it cannot drift from the routes."""

from __future__ import annotations

import html
from collections.abc import Sequence
from importlib.metadata import version
from typing import Any

from aiohttp import web

from api.endpoint import Endpoint, Handler
from api.schemas import BLAKE3, CASE_ID, DATE, INT64_MAX, NAME, TIME, enum, text
from policy.cases import STAGES
from policy.lifecycle import STATES as DISCLOSURE_STATES

#: The lifecycle steps of a disclosure record (``POST /api/v1/disclosures/{id}/{action}``).
DISCLOSURE_ACTIONS = ("approve", "publish", "correct", "update", "take-down", "revoke", "withdraw")

#: What each parameter name accepts, so generated requests (and readers) know the real constraints.
PARAM_SCHEMAS: dict[str, dict[str, Any]] = {
    "blake3": BLAKE3,
    "case": CASE_ID,
    "upload": {"type": "string", "format": "uuid"},
    "name": NAME,
    "principal": NAME,
    "id": {"type": "string", "pattern": "^D-[0-9a-f]{10}$"},
    "action": enum(DISCLOSURE_ACTIONS),
    "purpose": text(500),
    "stage": enum(STAGES),
    "file_name": text(255, pattern=r"^[^\x00-\x1f/\\]*$"),
    "title": text(500),
    "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
    "page": {"type": "integer", "minimum": 1, "maximum": 100_000},
    "n": {"type": "integer", "minimum": 0, "maximum": 10_000},
    "hold": {"type": "integer", "minimum": 1, "maximum": INT64_MAX},
    "date": DATE, "today": DATE, "from": TIME, "to": TIME,
    "q": {"type": "string", "maxLength": 100, "pattern": r"^[^\x00]*$"},
    "state": enum(DISCLOSURE_STATES),
    "all": enum(["0", "1", "true", "false"]),
    "download": enum(["0", "1", "true"]),
    "officer": text(64), "station": text(64),
}
#: Where a query parameter shares its name with a path parameter of another route.
QUERY_SCHEMAS: dict[str, dict[str, Any]] = {"id": text(64)}
ERROR_SCHEMA = {"type": "object", "required": ["error", "message"],
                "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}


def build_spec(endpoints: Sequence[Endpoint]) -> dict[str, Any]:
    """The OpenAPI document of ``endpoints`` (the route table)."""
    paths: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        op: dict[str, Any] = {
            "summary": e.summary,
            "operationId": f"{e.method.lower()}_{e.handler.__name__}",
            "parameters": [{"name": n, "in": where, "required": req, "schema": param_schema(n, where, t)}
                           for n, where, t, req in e.params],
            "responses": {},
        }
        if e.roles is None:
            op["security"] = []
        else:
            op["x-roles"] = list(e.roles)
            op["responses"]["401"] = {"description": "no or bad token", "content": _json(ERROR_SCHEMA)}
            op["responses"]["403"] = {"description": "role not allowed, or the case is restricted (need to know)",
                                      "content": _json(ERROR_SCHEMA)}
        if e.body:
            binary = {"type": "string", "format": "binary"}
            schema = e.body_schema or (binary if "octet" in e.body else {"type": "object"})
            op["requestBody"] = {"required": e.body_required, "content": {e.body: {"schema": schema}}}
        for status in e.responses:
            if status < 400:
                content = ({e.produces: {"schema": {"type": "string"}}} if e.produces != "application/json"
                           else _json({"type": "object"}))
                op["responses"][str(status)] = {"description": "success", "content": content}
            else:
                op["responses"][str(status)] = {"description": "error", "content": _json(ERROR_SCHEMA)}
        general = {"400": "bad input (a malformed parameter or body)", "503": "the database or the object store is "
                   "unavailable; retry after the seconds Retry-After says"}
        if e.params and any(where == "path" for _, where, _, _ in e.params):
            general["404"] = "no such resource"
        if e.body or any(where == "query" for _, where, _, _ in e.params):
            general["422"] = "well-formed but refused by a rule (the message names it)"
        if e.body:
            general["413"] = "body too large"
        if e.roles is not None:
            general["429"] = "too many failed sign-ins from this address or for this account; retry after Retry-After"
        for code, description in general.items():
            op["responses"].setdefault(code, {"description": description, "content": _json(ERROR_SCHEMA)})
        paths.setdefault(e.path, {})[e.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Custody", "version": version("custody"),
                 "description": "Evidence locker: uploads from docking stations, cases, verification, "
                                "and the per-case Merkle log (integrity contract v1)."},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": paths,
    }


def param_schema(name: str, where: str, kind: str) -> dict[str, Any]:
    """The schema of parameter ``name`` (``where``: path or query; ``kind``: its JSON type)."""
    if where == "query" and name in QUERY_SCHEMAS:
        return QUERY_SCHEMAS[name]
    if name in PARAM_SCHEMAS:
        return PARAM_SCHEMAS[name]
    if kind == "integer":
        return {"type": "integer", "minimum": 0, "maximum": 2**53 - 1}
    return {"type": kind}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


DOCS_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Custody API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
code{background:#f3f3f3;padding:0 .2em}td,th{padding:.2em .6em;text-align:left;vertical-align:top}
tr:nth-child(even){background:#fafafa}</style></head><body>
<h1>Custody API</h1><p>Machine-readable: <a href="/api/v1/openapi.json">openapi.json</a>.
Every route but the public ones needs <code>Authorization: Bearer &lt;token&gt;</code>.</p>
<table><tr><th>method</th><th>path</th><th>roles</th><th>what</th></tr>%ROWS%</table></body></html>"""


def handlers(endpoints: Sequence[Endpoint]) -> tuple[Handler, Handler]:
    """The two public handlers: the JSON document and a readable page of the routes and their roles."""
    spec = build_spec(endpoints)
    rows = "".join(
        f"<tr><td>{e.method}</td><td><code>{html.escape(e.path)}</code></td>"
        f"<td>{html.escape(', '.join(e.roles) if e.roles else 'public')}</td><td>{html.escape(e.summary)}</td></tr>"
        for e in endpoints
    )
    page = DOCS_PAGE.replace("%ROWS%", rows)

    async def spec_handler(request: web.Request) -> web.Response:
        return web.json_response(spec)

    async def docs_handler(request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html")

    return spec_handler, docs_handler
