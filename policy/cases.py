"""Case ids: which the bureau may open, and the one reserved for bureau-wide decisions.

A case id is also part of the case log's checkpoint origin (``integrity.entry``), which sets its
alphabet; the policy adds that ``governance`` is not a case anyone opens: it is the log of the
bureau's own decisions (retention classes, law changes), opened by the system.
"""

from __future__ import annotations

from collections.abc import Iterable

from integrity.entry import CASE_ID_PATTERN
from policy.errors import PolicyError

#: Bureau-wide decisions (retention classes, law changes) are entries in this log, like a case's.
GOVERNANCE_CASE = "governance"
#: Enforcement stages a text record belongs to (§三 全过程记录): initiation, investigation and evidence
#: collection, review and decision, service and execution.
STAGES = {"initiation": "启动", "investigation": "调查取证", "decision": "审核决定", "execution": "送达执行"}
#: The roles a case handler (承办人) may hold.
HANDLER_ROLES = frozenset({"investigator", "admin"})


def check_new_case_id(case_id: str) -> str:
    """``case_id`` if a user may open a case under it; else ``PolicyError`` saying why."""
    if case_id == GOVERNANCE_CASE:
        raise PolicyError(f"case id {GOVERNANCE_CASE!r} is reserved for the bureau's governance log")
    if not CASE_ID_PATTERN.match(case_id):
        raise PolicyError(f"case id {case_id!r}: 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit")
    return case_id


def current_stage(filed: Iterable[str]) -> str:
    """A case's current stage: the furthest stage its text records were filed at (a late initiation
    document does not take the case back), ``initiation`` before any."""
    known = [s for s in STAGES if s in set(filed)]
    return known[-1] if known else "initiation"


def check_stage(stage: str) -> str:
    """``stage`` if it is one of the enforcement stages (by key), else ``PolicyError``."""
    if stage not in STAGES:
        raise PolicyError(f"stage must be one of {', '.join(STAGES)} ({', '.join(STAGES.values())})")
    return stage


def check_handler(name: str, role: str | None) -> None:
    """May the user ``name`` (in ``role``; None: no such active user) handle a case?"""
    if role is None:
        raise PolicyError(f"no active user {name!r}: a case is handled by a known, active investigator")
    if role not in HANDLER_ROLES:
        raise PolicyError(f"{name!r} is {role!r}: a case is handled by an investigator")
