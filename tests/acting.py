"""Principals for tests that call the services directly (the front ends look them up in the database)."""

from __future__ import annotations

from policy.review import MAJOR_CRITERIA
from services import accounts, decisions, disclosure
from services.locker import Locker
from services.permissions import operator
from storage.principals import Principal


def principal(actor: str, id: int = 0) -> Principal:
    """``role:name`` as the acting principal, e.g. ``principal("investigator:ann")``."""
    role, _, name = actor.partition(":")
    return Principal(id=id, name=name, role=role)


async def determined(locker: Locker, case_id: str, decision_no: str, major: tuple[str, ...] = ()) -> None:
    """The case handler's §四(二) determination for a decision (``major``: the criteria that apply), which
    must exist before the decision is recorded or drafted for disclosure."""
    handler, handler_id = await disclosure.case_handler_of(locker.pool, case_id)
    name = handler.rpartition(":")[2]
    role = "investigator"  # the handler acting as one (a test may make someone else handle a case)
    await decisions.determine(locker, case_id, decision_no, answers={c: c in major for c in MAJOR_CRITERIA},
                              facts={}, reason="determined by hand for the test",
                              who=Principal(id=handler_id or 0, name=name, role=role))


async def add_principal(locker: Locker, name: str, role: str) -> tuple[Principal, str]:
    """Create a user or station as the operator does (``principal.added`` in the governance log)."""
    return await accounts.add(locker, name, role, who=operator())
