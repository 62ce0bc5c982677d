"""The errors a front end shows the person who acted, rather than logging them as faults.

The application's own root is ``foundation.errors.CustodyError``.  The integrity package keeps its own
root, ``IntegrityError``, because outside verifiers copy ``integrity/`` alone; its ``status`` is the
same kind-of-failure name (``"invalid"``).  The API and the CLI catch exactly these two roots.
"""

from __future__ import annotations

from foundation.errors import CustodyError, Status
from integrity.errors import IntegrityError

UserError = CustodyError | IntegrityError
USER_ERRORS = (CustodyError, IntegrityError)


def status_of(exc: UserError) -> Status:
    """The kind of failure ``exc`` is."""
    return Status(exc.status)


def extra_of(exc: UserError) -> dict[str, object]:
    """Data for the client beside the message (the API adds it to the error body)."""
    return exc.extra if isinstance(exc, CustodyError) else {}
