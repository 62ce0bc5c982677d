"""The one root of Custody's errors: every failure a user can act on says what kind of "no" it is.

Each error class carries two class attributes:

- ``code``: a stable machine-readable name (``case_not_found``, ``review_required``, ...) that
  clients and tests match on; it never changes once published.
- ``status``: what kind of failure it is, as a :class:`Status`, not as an HTTP number: the floors
  below the API know no HTTP.  ``api/errors.py`` maps a status to the HTTP status, the CLI maps it
  to an exit code and one line on stderr (Datasette's ``Base400`` idea, without the HTTP coupling).

Messages are written for the person who has to act on them: they name the rule and what to do.
This module is pure and imports nothing of the project's, so every floor may use it, except
``integrity/``: outside verifiers copy that package alone, so its root ``IntegrityError`` stands apart
and carries its status as the plain string (``"invalid"``); ``services.errors`` names both roots for the
front ends.
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar


class Status(enum.StrEnum):
    """The kinds of failure; each front end turns them into its own terms."""

    MALFORMED = "malformed"  # the request cannot be understood (bad syntax, bad key)
    UNAUTHENTICATED = "unauthenticated"  # who is asking is not known
    FORBIDDEN = "forbidden"  # known, but may not do this
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"  # the state of things does not allow it now (already exists, wrong state)
    GONE = "gone"  # it existed and was disposed of
    TOO_LARGE = "too_large"
    NOT_SATISFIABLE = "not_satisfiable"  # a byte range outside the object
    INVALID = "invalid"  # well-formed but not acceptable (a rule, a value, a proof)
    UNAVAILABLE = "unavailable"  # a dependency (database, object store) is down: retry later
    TOO_MANY = "too_many"  # too many failed attempts from this client: back off, then retry
    INTERNAL = "internal"  # a fault of ours


class CustodyError(Exception):
    """Base of every error Custody raises on purpose.

    ``extra`` carries data a client may use (it is added to the API's JSON error body).
    """

    status: ClassVar[Status] = Status.INTERNAL
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str = "", **extra: Any) -> None:
        super().__init__(message)
        self.extra: dict[str, Any] = extra


class Malformed(CustodyError):
    status = Status.MALFORMED
    code = "bad_request"


class Invalid(CustodyError):
    status = Status.INVALID
    code = "invalid"


class Unauthenticated(CustodyError):
    status = Status.UNAUTHENTICATED
    code = "unauthorized"


class Forbidden(CustodyError):
    status = Status.FORBIDDEN
    code = "forbidden"


class NotFound(CustodyError):
    status = Status.NOT_FOUND
    code = "not_found"


class Conflict(CustodyError):
    status = Status.CONFLICT
    code = "conflict"


class Gone(CustodyError):
    status = Status.GONE
    code = "gone"


class TooLarge(CustodyError):
    status = Status.TOO_LARGE
    code = "too_large"


class Unavailable(CustodyError):
    status = Status.UNAVAILABLE
    code = "unavailable"
