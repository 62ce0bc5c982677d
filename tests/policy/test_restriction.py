"""Need to know (§三): who may read a restricted case, and who may change its level or its grants."""

from __future__ import annotations

import pytest

from foundation.errors import Status
from policy.errors import NothingChanged, NotPermitted, PolicyError, ReasonRequired, Restricted
from policy.restriction import (
    LEVELS,
    ORDER,
    STATE_SECRET_NOTICE,
    check_change,
    check_grant,
    check_revoke,
    label,
    may_read,
    notice,
    parse_level,
)
from tests.conftest import POLICY_TEXT


def test_labels_are_the_policys_words() -> None:
    original = POLICY_TEXT.read_text(encoding="utf-8")
    for level, (_en, zh) in LEVELS.items():
        if level != "none":
            assert zh in original, zh


def test_levels_are_ordered_and_labelled() -> None:
    assert ORDER == ("none", "privacy", "trade_secret", "state_secret")
    assert (label("trade_secret"), label("trade_secret", "zh")) == ("trade secret", "商业秘密")
    assert notice("state_secret") == STATE_SECRET_NOTICE and "涉密信息系统" in STATE_SECRET_NOTICE["zh"]
    assert "accredited classified" in STATE_SECRET_NOTICE["en"]
    assert notice("trade_secret") is None and notice("none") is None
    with pytest.raises(PolicyError, match="must be one of"):
        parse_level("secret")


@pytest.mark.parametrize(
    ("level", "principal", "handler", "granted", "expected"),
    [
        ("none", 7, 1, False, True),
        ("none", 0, None, False, True),
        ("privacy", 1, 1, False, True),           # the handler, by principal id
        ("privacy", 2, 1, False, False),
        ("privacy", 2, 1, True, True),            # a grantee
        ("trade_secret", 9, 1, False, False),     # no bypass for administrators
        ("state_secret", 9, 1, True, True),       # ... until they are granted access
        ("state_secret", 0, None, False, False),  # the operator (id 0) is nobody's handler
        ("state_secret", 1, None, False, False),  # a case with no handler id has no handler
    ],
)
def test_may_read(level: str, principal: int, handler: int | None, granted: bool, expected: bool) -> None:
    assert may_read(level, principal_id=principal, handler_id=handler, granted=granted) is expected


@pytest.mark.parametrize(
    ("old", "new", "role", "reads", "outcome"),
    [
        ("none", "privacy", "investigator", True, "raise"),
        ("privacy", "state_secret", "investigator", True, "raise"),
        ("none", "state_secret", "admin", True, "raise"),
        ("privacy", "trade_secret", "investigator", False, Restricted),   # raising needs a reader
        ("privacy", "trade_secret", "admin", False, Restricted),          # ... an admin too
        ("state_secret", "privacy", "admin", False, "lower"),             # lowering: an admin, reader or not
        ("privacy", "none", "admin", True, "lower"),
        ("privacy", "none", "investigator", True, NotPermitted),          # lowering is not an investigator's
        ("state_secret", "trade_secret", "investigator", True, NotPermitted),
        ("privacy", "privacy", "admin", True, NothingChanged),
        ("none", "privacy", "reviewer", True, NotPermitted),
        ("none", "privacy", "disclosure", True, NotPermitted),
        ("none", "privacy", "station", True, NotPermitted),
    ],
)
def test_check_change(old: str, new: str, role: str, reads: bool, outcome: str | type[Exception]) -> None:
    if isinstance(outcome, str):
        assert check_change(old, new, role=role, may_read=reads, reason="court order") == outcome
        for blank in ("", "   ", None):
            with pytest.raises(ReasonRequired):
                check_change(old, new, role=role, may_read=reads, reason=blank)
    else:
        with pytest.raises(outcome) as caught:
            check_change(old, new, role=role, may_read=reads, reason="court order")
        assert isinstance(caught.value, PolicyError) and caught.value.status in (Status.FORBIDDEN, Status.INVALID)


def test_check_change_refuses_unknown_levels() -> None:
    with pytest.raises(PolicyError, match="must be one of"):
        check_change("none", "top_secret", role="admin", may_read=True, reason="r")


@pytest.mark.parametrize(
    ("role", "reads", "grantee_role", "outcome"),
    [
        ("investigator", True, "investigator", None),
        ("investigator", True, "reviewer", None),
        ("admin", False, "admin", None),                   # an admin grants (themselves), reading or not
        ("investigator", False, "investigator", Restricted),
        ("reviewer", True, "investigator", NotPermitted),
        ("investigator", True, "station", PolicyError),    # stations are never granted access
        ("admin", False, None, PolicyError),               # unknown or revoked user
    ],
)
def test_check_grant(role: str, reads: bool, grantee_role: str | None, outcome: type[Exception] | None) -> None:
    def attempt(reason: str) -> None:
        check_grant("privacy", role=role, may_read=reads, grantee_role=grantee_role, grantee="who", reason=reason)

    if outcome is None:
        attempt("needs the footage for the hearing")
        with pytest.raises(ReasonRequired):
            attempt(" ")
    else:
        with pytest.raises(outcome):
            attempt("needs the footage for the hearing")


@pytest.mark.parametrize(("role", "reads", "outcome"), [
    ("investigator", True, None), ("admin", False, None), ("investigator", False, Restricted),
    ("disclosure", True, NotPermitted)])
def test_check_revoke(role: str, reads: bool, outcome: type[Exception] | None) -> None:
    if outcome is None:
        check_revoke("trade_secret", role=role, may_read=reads, reason="no longer on the case")
        with pytest.raises(ReasonRequired):
            check_revoke("trade_secret", role=role, may_read=reads, reason="")
    else:
        with pytest.raises(outcome):
            check_revoke("trade_secret", role=role, may_read=reads, reason="no longer on the case")


def test_restricted_says_whom_to_ask() -> None:
    refused = Restricted("state_secret", case_id="C-7", handler="investigator:ann")
    assert (refused.status, refused.code) == (Status.FORBIDDEN, "restricted")
    assert refused.extra == {"restriction": "state_secret"}
    assert "C-7" in str(refused) and "state secret" in str(refused) and "investigator:ann" in str(refused)
    assert "administrator" in str(refused)
