"""Handing a case to another handler (承办人变更): who may, to whom, and why it must be said.

The handler matters beyond the name on the case: a restricted case is read by its handler (RULES
§三), and the handler may not give the case's decision its legal review (§四).  So a handover is
explained, and only goes to an active investigator.
"""

from __future__ import annotations

from policy.errors import NothingChanged, NotPermitted, PolicyError
from policy.restriction import check_reason, is_handler

#: Who may hand a case over: its handler (an investigator), or an administrator.
HANDERS = frozenset({"investigator", "admin"})
#: Who may receive one.
RECEIVERS = frozenset({"investigator"})


def check_handover(*, role: str, actor_id: int, handler_id: int | None, to: str, to_id: int | None,
                   to_role: str | None, reason: str | None) -> str:
    """May principal ``actor_id`` (in ``role``) hand the case held by principal ``handler_id`` to ``to``?
    The reason, stripped.

    ``to_id`` and ``to_role`` are the receiver's id and role, None when there is no active user of that name.
    """
    if role not in HANDERS or (role != "admin" and not is_handler(actor_id, handler_id)):
        raise NotPermitted("a case is handed over by its handler or by an administrator")
    if to_role is None:
        raise PolicyError(f"no active user {to!r}: a case goes to a known, active investigator")
    if to_role not in RECEIVERS:
        raise PolicyError(f"{to!r} is {to_role!r}: a case is handled by an investigator")
    if to_id is not None and is_handler(to_id, handler_id):
        raise NothingChanged(f"{to!r} already handles this case")
    return check_reason("handing the case over", reason)
