"""One JSON error shape for every failure: ``{"error": code, "message": ...}`` with the right status.

Domain errors carry ``status`` and ``code`` as class attributes (storage, log, uploads, principals);
integrity failures are 422; anything unexpected is a 500 with the traceback in the log, never in the
response.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from integrity.errors import IntegrityError

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """An error raised by the API layer itself."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.extra = extra


class BadRequest(ApiError):
    pass


class Unprocessable(ApiError):
    status = 422
    code = "invalid"


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Gone(ApiError):
    status = 410
    code = "gone"


class TooLarge(ApiError):
    status = 413
    code = "too_large"


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
    except IntegrityError as exc:
        return error_response(422, exc.code, str(exc))
    except Exception as exc:
        status = getattr(exc, "status", None)
        code = getattr(exc, "code", None)
        if isinstance(status, int) and isinstance(code, str) and 400 <= status < 600:
            extra = getattr(exc, "extra", None)
            auth = {"WWW-Authenticate": 'Bearer realm="custody"'} if status == 401 else None
            if status >= 500:
                logger.error("%s: %s", code, exc)
            return error_response(status, code, str(exc), extra if isinstance(extra, dict) else None, auth)
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal error; the server log has the details")
