"""Every request checked against the route's published schema before its handler runs.

Query parameters and JSON bodies are validated with the same JSON Schemas the OpenAPI document
shows (``api.routes``), so the document and the server cannot disagree about what is well-formed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from typing import Any

import jsonschema
from aiohttp import web

from api.endpoint import Endpoint
from api.params import JSON_BODY, json_object
from foundation.errors import Invalid, Malformed

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_INTEGER = re.compile(r"-?[0-9]{1,19}")
_FORMATS = jsonschema.Draft202012Validator.FORMAT_CHECKER


#: Query values remembered per parameter with their verdict: the check is a pure function of the
#: value, and jsonschema took ~3 % of a verification request's CPU to say yes to the same case ids.
CHECKED_VALUES = 4096


def _query_check(name: str, kind: str, validator: jsonschema.Draft202012Validator) -> Callable[[str], str | None]:
    """The error for a raw query value of parameter ``name`` (None: well-formed)."""

    @functools.lru_cache(maxsize=CHECKED_VALUES)
    def check(raw: str) -> str | None:
        value: Any = raw
        if kind == "integer":
            if not _INTEGER.fullmatch(raw):
                return f"query parameter {name!r} must be an integer"
            value = int(raw)
        if (error := jsonschema.exceptions.best_match(validator.iter_errors(value))):
            return f"query parameter {name!r}: {error.message[:300]}"
        return None

    return check


def validated(endpoint: Endpoint, handler: Handler, param_schema: Callable[[str, str, str], dict[str, Any]]) -> Handler:
    """``handler`` behind a check of the query parameters and JSON body ``endpoint`` declares."""
    # Each validator built once, not per request (building one cost more than the check itself).
    query = [(name, required, _query_check(name, kind, jsonschema.Draft202012Validator(
                 param_schema(name, where, kind), format_checker=_FORMATS)))
             for name, where, kind, required in endpoint.params if where == "query"]
    body = (jsonschema.Draft202012Validator(endpoint.body_schema, format_checker=_FORMATS)
            if endpoint.body == "application/json" and endpoint.body_schema else None)

    async def checked(request: web.Request) -> web.StreamResponse:
        for name, required, check in query:
            raw = request.query.get(name)
            if raw is None:
                if required:
                    raise Malformed(f"query parameter {name!r} is required")
                continue
            if (error := check(raw)) is not None:
                raise Malformed(error)
        if body is not None:
            parsed = await json_object(request)
            if (error := jsonschema.exceptions.best_match(body.iter_errors(parsed))) is not None:
                where = "/".join(str(p) for p in error.absolute_path) or "body"
                raise Invalid(f"{where}: {error.message[:300]}")
            request[JSON_BODY] = parsed
        return await handler(request)

    checked.__name__ = getattr(handler, "__name__", "checked")
    checked.__doc__ = handler.__doc__
    return checked
