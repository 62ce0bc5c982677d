"""Who may hand a case over, and to whom (承办人变更)."""

from __future__ import annotations

import pytest

from policy.errors import NothingChanged, NotPermitted, PolicyError, ReasonRequired
from policy.handover import check_handover

#: Principal ids: ann handles the case; bob, root, dora are others.
ANN, BOB, ROOT, DORA = 1, 2, 3, 4
HANDLER = ANN
IDS = {"ann": ANN, "bob": BOB, "root": ROOT, "dora": DORA}


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
    kw = {"role": role, "actor_id": IDS[actor], "handler_id": HANDLER, "to": to,
          "to_id": IDS.get(to, 99 if to_role else None), "to_role": to_role, "reason": reason}
    if error is None:
        assert check_handover(**kw) == (reason or "").strip()  # type: ignore[arg-type]
    else:
        with pytest.raises(error):
            check_handover(**kw)  # type: ignore[arg-type]


def test_a_case_without_a_handler_id_is_handed_over_only_by_an_administrator() -> None:
    with pytest.raises(NotPermitted):
        check_handover(role="investigator", actor_id=ANN, handler_id=None, to="bob", to_id=BOB,
                       to_role="investigator", reason="r")
    assert check_handover(role="admin", actor_id=ROOT, handler_id=None, to="bob", to_id=BOB,
                          to_role="investigator", reason="r") == "r"
