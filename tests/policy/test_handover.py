"""Who may hand a case over, and to whom (承办人变更)."""

from __future__ import annotations

import pytest

from policy.errors import NothingChanged, NotPermitted, PolicyError, ReasonRequired
from policy.handover import check_handover

HANDLER = "investigator:ann"


@pytest.mark.parametrize(("role", "actor", "to", "to_role", "reason", "error"), [
    ("investigator", "ann", "bob", "investigator", "on leave", None),       # the handler
    ("admin", "root", "bob", "investigator", "reorganised", None),          # an administrator
    ("investigator", "bob", "bob", "investigator", "r", NotPermitted),      # not the handler
    ("reviewer", "ann", "bob", "investigator", "r", NotPermitted),          # not a role that hands over
    ("disclosure", "dora", "bob", "investigator", "r", NotPermitted),
    ("investigator", "ann", "ghost", None, "r", PolicyError),               # unknown or revoked
    ("investigator", "ann", "dock-1", "station", "r", PolicyError),         # a station
    ("investigator", "ann", "rex", "reviewer", "r", PolicyError),           # not an investigator
    ("admin", "root", "ann", "investigator", "r", NothingChanged),          # already the handler
    ("investigator", "ann", "bob", "investigator", " ", ReasonRequired),
    ("investigator", "ann", "bob", "investigator", None, ReasonRequired),
])
def test_check_handover(role: str, actor: str, to: str, to_role: str | None, reason: str | None,
                        error: type[Exception] | None) -> None:
    if error is None:
        assert check_handover(role=role, actor=actor, handler=HANDLER, to=to, to_role=to_role,
                              reason=reason) == (reason or "").strip()
    else:
        with pytest.raises(error):
            check_handover(role=role, actor=actor, handler=HANDLER, to=to, to_role=to_role, reason=reason)


def test_a_handler_stored_as_a_bare_name_is_recognised() -> None:
    assert check_handover(role="investigator", actor="ann", handler="ann", to="bob", to_role="investigator",
                          reason="r") == "r"
