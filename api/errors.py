"""One JSON error shape for every failure: ``{"error": code, "message": ...}`` with the right status.

Every error Custody raises on purpose is a ``foundation.errors.CustodyError`` (or the integrity
package's own ``IntegrityError``, see ``services.errors``): its ``code`` goes in the body as it is, and
its ``status`` (a kind of failure, not an HTTP number) becomes the HTTP status here, in one table.
Anything unexpected is a 500 with the traceback in the log, never in the response.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from foundation.errors import Status
from services.errors import USER_ERRORS, UserError, extra_of, status_of
from storage.db import translate

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: The HTTP status of each kind of failure.
HTTP_STATUS: dict[Status, int] = {
    Status.MALFORMED: 400, Status.UNAUTHENTICATED: 401, Status.FORBIDDEN: 403, Status.NOT_FOUND: 404,
    Status.CONFLICT: 409, Status.GONE: 410, Status.TOO_LARGE: 413, Status.NOT_SATISFIABLE: 416,
    Status.INVALID: 422, Status.INTERNAL: 500, Status.UNAVAILABLE: 503, Status.TOO_MANY: 429,
}


#: What a 503 asks the client to wait before trying again (a database restart, a store failover).
RETRY_AFTER_SECONDS = 5


def http_status(exc: UserError) -> int:
    return HTTP_STATUS[status_of(exc)]


_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type",
               416: "range_not_satisfiable"}


def error_response(status: int, code: str, message: str, extra: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": code, "message": message, **(extra or {})}
    return web.Response(status=status, text=json.dumps(body, ensure_ascii=False),
                        content_type="application/json", headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "content-range", "www-authenticate")}
        return error_response(exc.status, _HTTP_CODES.get(exc.status, "http_error"), exc.reason, headers=headers)
    except USER_ERRORS as exc:
        return user_error_response(exc)
    except Exception as exc:
        if (known := translate(exc)) is not None:
            return user_error_response(known)
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal error; the server log has the details")


def user_error_response(exc: UserError) -> web.Response:
    """The JSON error for a failure of a kind the user (or their client) can act on."""
    status = http_status(exc)
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="custody"'
    if status == 503:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if status == 429:
        headers["Retry-After"] = str(extra_of(exc).get("retry_after", RETRY_AFTER_SECONDS))
    if status >= 500:
        logger.error("%s: %s", exc.code, exc)
    return error_response(status, exc.code, str(exc), extra_of(exc) or None, headers or None)
