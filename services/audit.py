"""The audit view: who viewed, downloaded, exported or shared what, across cases (issue 18, item 5).

Built on the case logs alone (``storage.audit``): each row is an entry, so it names the case and
sequence number that its receipt (entry, inclusion proof, signed checkpoint) proves.  Only admins ask.
Need to know still holds (RULES §三): a row of a restricted case the admin may not read keeps who,
when, what action and the case, but not the item, its file name or the stated purpose.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, replace
from typing import Any

import asyncpg

from foundation.errors import Invalid
from policy import restriction
from services import case_access
from services.permissions import authorize
from storage import audit, principals
from storage.audit import AuditRow
from storage.principals import Principal

#: The actions a filter may name: an access's (``services.evidence.record_access``), or sharing.
ACTIONS = ("view", "download", "export", "verify", "share")
MAX_ROWS = 100_000


@dataclass(frozen=True, slots=True)
class AuditEntry:
    row: AuditRow
    display_name: str  # the actor's display name, "" if it has none
    withheld: bool  # a restricted case the asker may not read: item, file name and purpose left out

    def as_json(self) -> dict[str, Any]:
        fields = asdict(self.row)
        fields["at"] = self.row.at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        return {**fields, "display_name": self.display_name, "withheld": self.withheld,
                "receipt": f"/api/v1/cases/{self.row.case_id}/receipts/{self.row.seq}"}


async def accesses(pool: asyncpg.Pool, *, who: Principal, user: str | None = None, case_id: str | None = None,
                   action: str | None = None, since: dt.datetime | None = None, until: dt.datetime | None = None,
                   limit: int = 200, offset: int = 0) -> list[AuditEntry]:
    """Access and sharing entries across cases, newest first, filtered by user, case, action and time."""
    authorize(who, "audit.read")
    if any("\x00" in v for v in (user, case_id) if v):
        raise Invalid("user and case are text without NUL characters")
    if action is not None and action not in ACTIONS:
        raise Invalid(f"action must be one of {', '.join(ACTIONS)}, not {action[:40]!r}")
    if since is not None and until is not None and until <= since:
        raise Invalid("the end of the period must come after its start")
    if not 1 <= limit <= MAX_ROWS or offset < 0:
        raise Invalid(f"limit must be between 1 and {MAX_ROWS}, offset at least 0")
    rows = await audit.accesses(pool, user=user or None, case_id=case_id or None, action=action, since=since,
                                until=until, limit=limit, offset=offset)
    states = await case_access.of_cases(pool, {r.case_id for r in rows})
    names = {f"{a.role}:{a.name}": a.display_name for a in await principals.accounts(pool)}
    found = []
    for row in rows:
        state = states.get(row.case_id)
        readable = state is not None and restriction.may_read(
            state.level, principal_id=who.id, handler_id=state.handler_id, granted=who.name in state.grantees)
        shown = row if readable else replace(row, object="", file_name="", purpose="")
        found.append(AuditEntry(shown, names.get(row.actor, ""), not readable))
    return found
