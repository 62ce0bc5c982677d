"""Request parsing with clear 400/422 errors: query integers, JSON bodies, hashes, purposes."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from foundation.errors import Invalid, Malformed
from integrity.hashing import is_blake3_hex

MAX_JSON_BYTES = 256 * 1024
#: Deepest nesting a JSON body may have: every body of the API is two or three levels deep.
MAX_JSON_DEPTH = 32
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: The JSON body, once ``api.validation`` has read and checked it (a body stream is read only once).
JSON_BODY = web.RequestKey("json_body", dict)


@web.middleware
async def refuse_nul(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A NUL in the path or a query value is refused (400) before any route sees it.

    PostgreSQL text cannot hold one, and no name, id or search of Custody contains one.
    """
    if "\x00" in request.path or any("\x00" in k or "\x00" in v for k, v in request.query.items()):
        raise Malformed("a NUL character is not allowed in the path or the query")
    return await handler(request)


def query_int(request: web.Request, name: str, default: int | None = None, *, minimum: int = 0,
              maximum: int = 2**62) -> int:
    raw = request.query.get(name)
    if raw is None:
        if default is None:
            raise Malformed(f"query parameter {name!r} is required")
        return default
    if not re.fullmatch(r"-?[0-9]{1,19}", raw):
        raise Malformed(f"query parameter {name!r} must be an integer, not {raw[:40]!r}")
    value = int(raw)
    if not minimum <= value <= maximum:
        raise Malformed(f"query parameter {name!r} must be between {minimum} and {maximum}")
    return value


def query_time(request: web.Request, name: str) -> dt.datetime | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        value = dt.datetime.fromisoformat(raw.upper().replace("Z", "+00:00"))
    except ValueError:
        raise Malformed(f"query parameter {name!r} must be an ISO 8601 date or time") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def blake3_param(value: str, name: str = "blake3") -> str:
    if not is_blake3_hex(value):
        raise Malformed(f"{name} must be 64 lowercase hex digits (a BLAKE3 hash)")
    return value


async def json_object(request: web.Request) -> dict[str, Any]:
    checked: dict[str, Any] | None = request.get(JSON_BODY)
    if checked is not None:
        return checked
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        raise Malformed(f"JSON body larger than {MAX_JSON_BYTES} bytes")
    raw = await request.content.read(MAX_JSON_BYTES + 1)
    if len(raw) > MAX_JSON_BYTES:
        raise Malformed(f"JSON body larger than {MAX_JSON_BYTES} bytes")
    try:
        body = json.loads(raw, parse_float=_no_float)
    except RecursionError:
        raise Malformed(f"JSON body nested deeper than {MAX_JSON_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise Malformed(f"body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise Malformed("body must be a JSON object")
    _check_json(body)
    return body


def _check_json(body: Any) -> None:
    """Refuse nesting deeper than ``MAX_JSON_DEPTH`` and NUL in any string (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise Malformed("a NUL character is not allowed in a JSON string")
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise Malformed(f"JSON body nested deeper than {MAX_JSON_DEPTH} levels")
        items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        stack.extend((item, depth + 1) for item in items)


def _no_float(text: str) -> Any:
    """An integer written as a float (``1169.0``, ``1e3``) is that integer; any other float is refused."""
    try:
        value = decimal.Decimal(text)
    except decimal.InvalidOperation:
        value = decimal.Decimal("NaN")
    if value.is_finite() and value == value.to_integral_value() and abs(value) < 2**63:
        return int(value)
    raise ValueError(f"numbers must be integers (got {text[:40]}); evidence records have no floats")


def text_field(body: dict[str, Any], name: str, *, required: bool = False, max_len: int = 255,
               pattern: str | None = None) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise Invalid(f"{name!r} is required")
        return None
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise Invalid(f"{name!r} must be a non-empty string of at most {max_len} characters")
    if pattern and not re.fullmatch(pattern, value):
        raise Invalid(f"{name!r} has an invalid form")
    if any(ord(c) < 0x20 for c in value):
        raise Invalid(f"{name!r} must not contain control characters")
    return value


def int_field(body: dict[str, Any], name: str, *, required: bool = False, minimum: int = 0,
              maximum: int = 2**53 - 1) -> int | None:
    value = body.get(name)
    if value is None:
        if required:
            raise Invalid(f"{name!r} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise Invalid(f"{name!r} must be an integer between {minimum} and {maximum}")
    return value


def rfc3339_field(body: dict[str, Any], name: str) -> str | None:
    value = text_field(body, name, max_len=40)
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"{name!r} must be an RFC 3339 time such as 2026-11-27T08:30:00Z") from None
    if parsed.tzinfo is None:
        raise Invalid(f"{name!r} must carry a time zone (Z or +08:00)")
    return value


def purpose(request: web.Request) -> str:
    """Why evidence is being read: required, recorded in the access entry."""
    value = request.query.get("purpose") or request.headers.get("X-Custody-Purpose")
    if not value or not value.strip():
        raise Malformed("reading evidence needs a stated purpose (?purpose=... or X-Custody-Purpose)")
    value = value.strip()
    if len(value) > 500:
        raise Malformed("purpose is limited to 500 characters")
    return value


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(data, ensure_ascii=False, default=_default),
                        content_type="application/json")


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(type(value))
