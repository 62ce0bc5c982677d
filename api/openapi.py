"""The OpenAPI 3.1 document, generated from the route table so it cannot drift from the routes."""

from __future__ import annotations

import html
from collections.abc import Sequence
from importlib.metadata import version
from typing import Any

from aiohttp import web

from api.endpoint import Endpoint, Handler
from integrity.hashing import BLAKE3_HEX_PATTERN

#: What each parameter name accepts, so generated requests (and readers) know the real constraints.
PARAM_SCHEMAS: dict[str, dict[str, Any]] = {
    "blake3": {"type": "string", "pattern": BLAKE3_HEX_PATTERN},
    "case": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"},
    "upload": {"type": "string", "format": "uuid"},
    "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"},
    "principal": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"},
    "purpose": {"type": "string", "minLength": 1, "maxLength": 500},
    "stage": {"type": "string", "enum": ["initiation", "investigation", "decision", "execution"]},
    "file_name": {"type": "string", "pattern": "^[^/\\\\]{1,255}$"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
}
ERROR_SCHEMA = {"type": "object", "required": ["error", "message"],
                "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}


def build_spec(endpoints: Sequence[Endpoint]) -> dict[str, Any]:
    """The OpenAPI document of ``endpoints`` (the route table)."""
    paths: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        op: dict[str, Any] = {
            "summary": e.summary,
            "operationId": f"{e.method.lower()}_{e.handler.__name__}",
            "parameters": [{"name": n, "in": where, "required": req, "schema": _param_schema(n, t)}
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
            op["requestBody"] = {"required": True, "content": {e.body: {"schema": schema}}}
        for status in e.responses:
            if status < 400:
                content = ({e.produces: {"schema": {"type": "string"}}} if e.produces != "application/json"
                           else _json({"type": "object"}))
                op["responses"][str(status)] = {"description": "success", "content": content}
            else:
                op["responses"][str(status)] = {"description": "error", "content": _json(ERROR_SCHEMA)}
        op["responses"].setdefault("400", {"description": "bad input", "content": _json(ERROR_SCHEMA)})
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


def _param_schema(name: str, kind: str) -> dict[str, Any]:
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
