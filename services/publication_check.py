"""Publication fails closed: suspected personal data in a public text blocks it until staff resolve it.

``policy.publication_check`` finds what still looks personal in the masked public text (a run of 7+
digits, an ``@``, a name-like token after a person cue).  Before a record is approved, published,
corrected or updated, every finding must be resolved by a person, one of two ways, each logged as a
``disclosure.finding_resolved`` entry of the case:

- ``mask``: the text is masked (the value joins the record's ``masked_values``, masked wherever it
  occurs); the entry carries the value's BLAKE3 and its masked form, never the value (the log is
  permanent and public-facing bundles carry it);
- ``not_personal``: cleared as not personal data, with the reason (the token itself is logged: it has
  just been declared not personal).

Only a draft can be masked this way (a published record is corrected with ``masked_values`` among its
changes); a clearance counts for the record it was given for, from then on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from blake3 import blake3

from foundation.errors import Conflict, CustodyError, Invalid, NotFound, Status
from policy import masking, secrecy
from policy.errors import PolicyError
from policy.publication_check import Finding, findings, unresolved
from services.locker import Locker
from services.permissions import authorize
from services.restriction import require_read
from storage import disclosures
from storage.log import Draft
from storage.principals import Principal

KIND = "disclosure.finding_resolved"
RESOLUTIONS = ("mask", "not_personal")
#: Lifecycle steps that produce or commit to a public text: each is refused while a finding is open.
GATED_ACTIONS = frozenset({"approve", "publish", "correct", "update"})
REASON_MAX_CHARS = 2_000


class PersonalDataSuspected(CustodyError):
    """The public text still looks like it holds personal data (§二: 作适当处理后公开)."""

    status = Status.CONFLICT
    code = "personal_data_suspected"


async def cleared(locker: Locker, case_id: str, disclosure_id: str) -> dict[str, str]:
    """Tokens of ``disclosure_id`` cleared as not personal data → the reason, from the case log."""
    out: dict[str, str] = {}
    for row in await locker.log.entries_of_kinds(case_id, (KIND,)):
        entry = json.loads(row.body)
        if entry.get("disclosure") == disclosure_id and entry.get("resolution") == "not_personal":
            out[str(entry["finding"])] = str(entry.get("reason", ""))
    return out


async def open_findings(locker: Locker, case_id: str, disclosure_id: str,
                        record: Mapping[str, Any]) -> list[Finding]:
    """The findings in ``record``'s public text that nobody has resolved yet.

    A record the masking refuses (a required field missing) has no public text: the step that would
    publish it refuses it on its own, so there is nothing to find here.
    """
    try:
        text = masking.public_view(record).text
    except PolicyError:
        return []
    return unresolved(findings(text), await cleared(locker, case_id, disclosure_id))


async def require_resolved(locker: Locker, case_id: str, disclosure_id: str, action: str,
                           record: Mapping[str, Any]) -> None:
    """Refuse ``action`` (``PersonalDataSuspected``) while the public text of ``record`` has open findings."""
    if action not in GATED_ACTIONS:
        return
    left = await open_findings(locker, case_id, disclosure_id, record)
    if left:
        shown = "; ".join(f"{f.kind} {f.text!r} in …{f.context}…" for f in left[:5])
        raise PersonalDataSuspected(
            f"{disclosure_id}: the public text may still hold personal data ({len(left)} finding(s): {shown}). "
            "Mask each one, or clear it as not personal data with a reason, then try again",
            findings=[_finding_json(f) for f in left])


def _finding_json(f: Finding) -> dict[str, Any]:
    return asdict(f)


async def _record(locker: Locker, disclosure_id: str) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
    """Case, state, the stored fields, and the fields as they go to masking (secrets treatment applied)."""
    found = await disclosures.record_of(locker.pool, disclosure_id)
    if found is None:
        raise NotFound(f"no disclosure record {disclosure_id!r}")
    case_id, state, record, treatment = found
    return case_id, state, record, secrecy.apply(record, secrecy.from_json(treatment) if treatment else None)


async def suspects(locker: Locker, disclosure_id: str, *, who: Principal) -> dict[str, Any]:
    """Every finding in the record's public text, each with its clearance if it has one."""
    authorize(who, "disclosure.act")
    case_id, _state, _record_fields, treated = await _record(locker, disclosure_id)
    await require_read(locker.pool, case_id, who)
    done = await cleared(locker, case_id, disclosure_id)
    items = [{**_finding_json(f), "cleared": f.text in done, "reason": done.get(f.text)}
             for f in findings(masking.public_view(treated).text)]
    return {"disclosure": disclosure_id, "open": sum(not i["cleared"] for i in items), "findings": items}


async def resolve(locker: Locker, disclosure_id: str, finding: str, *, resolution: str, reason: str,
                  who: Principal) -> dict[str, Any]:
    """Resolve one finding (its token, as ``suspects`` shows it): ``mask`` it or clear it as ``not_personal``.

    Returns what ``suspects`` returns afterwards.
    """
    authorize(who, "disclosure.act")
    case_id, state, record, treated = await _record(locker, disclosure_id)
    await require_read(locker.pool, case_id, who)
    if resolution not in RESOLUTIONS:
        raise Invalid(f"resolution must be one of {', '.join(RESOLUTIONS)}, not {resolution!r}")
    reason = (reason or "").strip()
    if not reason or len(reason) > REASON_MAX_CHARS:
        raise Invalid(f"resolving a finding needs a reason (at most {REASON_MAX_CHARS} characters)")
    current = {f.text: f for f in findings(masking.public_view(treated).text)}
    if finding not in current:
        raise Invalid(f"{finding!r} is not a finding of {disclosure_id}'s public text; see its findings")
    fields: dict[str, Any] = {"disclosure": disclosure_id, "finding_kind": current[finding].kind,
                              "resolution": resolution, "reason": reason}
    if resolution == "not_personal":
        fields["finding"] = finding
    else:
        if state != "draft":
            raise Conflict(f"{disclosure_id} is {state}: only a draft is masked this way; correct a published "
                           "record with masked_values among its changes")
        masked_values = [*record.get("masked_values", []), finding]
        if not await disclosures.set_draft_fields(locker.pool, disclosure_id,
                                                  {**record, "masked_values": masked_values}):
            raise Conflict(f"{disclosure_id} changed state meanwhile; reload and try again")
        fields.update(value_blake3=blake3(finding.encode()).hexdigest(), masked_as="*" * len(finding))
    await locker.log.append(case_id, Draft(KIND, who.actor, fields))
    return await suspects(locker, disclosure_id, who=who)
