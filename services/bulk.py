"""Bulk actions on a selection of a case's items (issue 18, item 3): hold, export, share, tag, assign.

Each action calls the one service function that does it for one item (``services.retention``,
``services.tags``, ``services.assignment``, ``services.shares``, ``services.evidence``), so every rule
is enforced where it always is, and reports each item's own outcome: one refused item does not stop
the others.  A share is one link for the whole selection (``services.shares.create`` checks every
item); its outcome is the same for each item.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foundation.errors import CustodyError, Invalid
from services import assignment, evidence, retention, shares, tags
from services.locker import Locker
from services.restriction import require_read
from storage import catalog
from storage.principals import Principal

logger = logging.getLogger(__name__)

ACTIONS = ("hold", "tag", "untag", "assign", "share", "export")
MAX_ITEMS = 500


@dataclass(frozen=True, slots=True)
class ItemResult:
    blake3: str
    ok: bool
    code: str = ""
    message: str = ""
    detail: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return {"item": self.blake3, "ok": self.ok, **({"error": self.code, "message": self.message}
                                                      if not self.ok else {}), **(self.detail or {})}


def selection(items: list[str]) -> list[str]:
    chosen = list(dict.fromkeys(str(h).strip().lower() for h in items if str(h).strip()))
    if not chosen or len(chosen) > MAX_ITEMS:
        raise Invalid(f"select from 1 to {MAX_ITEMS} items")
    return chosen


def _failed(hexd: str, exc: CustodyError) -> ItemResult:
    return ItemResult(hexd, False, exc.code, str(exc))


async def run(locker: Locker, case_id: str, action: str, items: list[str], *, who: Principal, reason: str = "",
              tag: str = "", to_case: str = "", share: dict[str, Any] | None = None) -> list[ItemResult]:
    """Do ``action`` to each selected item (BLAKE3 hashes) of the case; one result per item, in order."""
    if action not in ACTIONS or action == "export":
        raise Invalid(f"action: one of {', '.join(a for a in ACTIONS if a != 'export')} (export: a download)")
    chosen = selection(items)
    await require_read(locker.pool, case_id, who)  # an unknown case is one 404, not a failure per item
    if action == "share":
        return await _share(locker, case_id, chosen, who=who, share=share or {})
    results = []
    for hexd in chosen:
        try:
            if action == "hold":
                hold = await retention.place_hold(locker, case_id, blake3=hexd, reason=reason, who=who)
                results.append(ItemResult(hexd, True, detail={"hold": hold.id}))
            elif action in ("tag", "untag"):
                step = tags.tag if action == "tag" else tags.untag
                done = await step(locker, case_id, tag, who=who, blake3=hexd)
                results.append(ItemResult(hexd, True, detail={"seq": done.seq}))
            else:
                moved = await assignment.assign(locker, case_id, hexd, to_case, who=who, reason=reason)
                results.append(ItemResult(hexd, True, detail={"case": moved.to_case, "seq": moved.to_seq}))
        except CustodyError as exc:
            results.append(_failed(hexd, exc))
    return results


async def _share(locker: Locker, case_id: str, chosen: list[str], *, who: Principal,
                 share: dict[str, Any]) -> list[ItemResult]:
    try:
        made, token = await shares.create(
            locker, case_id, who=who, organisation=str(share.get("organisation") or ""),
            person=str(share.get("person") or ""), purpose=str(share.get("purpose") or ""),
            days=days if isinstance(days := share.get("days"), int) else 0, items=chosen,
            max_downloads=share.get("max_downloads"))
    except CustodyError as exc:
        return [_failed(hexd, exc) for hexd in chosen]
    return [ItemResult(hexd, True, detail={"share": made.id, "token": token}) for hexd in chosen]


async def export(locker: Locker, case_id: str, items: list[str], out: Path, *, who: Principal, purpose: str,
                 client: str | None = None) -> list[ItemResult]:
    """A bundle of the case with the media of the selected items (and their proxies) only; each read logged.

    Items the case does not hold are reported and left out; none found: nothing is written."""
    if not (purpose or "").strip():
        raise Invalid("an export states its purpose")
    await require_read(locker.pool, case_id, who)
    chosen = selection(items)
    held = await catalog.case_evidence(locker.pool, case_id)
    results: list[ItemResult] = []
    wanted: set[str] = set()
    for hexd in chosen:
        rows = [e for e in held if e.blake3 == hexd]
        if not rows:
            results.append(ItemResult(hexd, False, "not_found", f"case {case_id} holds no item {hexd[:16]}"))
            continue
        wanted.add(hexd)
        wanted.update(e.blake3 for e in held if e.original_blake3 == hexd)
        results.append(ItemResult(hexd, True))
    if wanted:
        await evidence.export(locker, case_id, out, who=who, with_media=True, purpose=purpose, client=client,
                              only=frozenset(wanted))
    return results
