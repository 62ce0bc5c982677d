"""A case log made readable: one sentence per entry, in the page's language, with its fields.

Kinds this release knows (evidence, disclosure.*, review.*, hold.*, retention.*, access.* ...) get a sentence of
their own; any other kind gets a generic line and shows every field, so no entry is ever hidden.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from api.web.i18n import Translator
from integrity.entry import COMMON_FIELDS
from policy.cases import STAGES
from policy.restriction import LEVELS
from storage.log import EntryRow

KNOWN_KINDS = frozenset({
    "case.opened", "evidence.ingested", "evidence.derived", "evidence.accessed", "record.added",
    "evidence.proxy_failed", "evidence.no_proxy", "case.closed",
    "disclosure.created", "disclosure.flagged_major", "disclosure.approved", "disclosure.published",
    "disclosure.corrected", "disclosure.updated", "disclosure.taken_down", "disclosure.revoked",
    "disclosure.withdrawn", "disclosure.update_required", "review.passed", "review.failed", "review.disputed",
    "hold.placed", "hold.lifted", "retention.assigned", "retention.disposed", "retention.class_set", "law.changed",
    "access.restricted", "access.granted", "access.grant_revoked", "case.handed_over",
    "disclosure.secrets_treated", "disclosure.end_requested", "decision.determined", "review.coordinated",
    "share.created", "share.revoked", "share.viewed", "share.downloaded",
    "principal.profile_set",
    "evidence.bookmarked", "evidence.bookmark_edited", "evidence.bookmark_removed",
    "tag.defined", "tag.retired", "tag.added", "tag.removed", "evidence.thumbnail", "evidence.assigned",
})
ACCESS_ACTIONS = ("view", "download", "export", "verify")
_STAGE_KEYS = {zh: key for key, zh in STAGES.items()}


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    time: str
    actor: str
    kind: str
    sentence: str
    fields: list[tuple[str, str]]  # every kind-specific field, as text
    known: bool


def stage_label(stage: str | None, t: Translator) -> str:
    """A record's stage in the page's language, whether it was logged by key (``decision``) or in Chinese."""
    if not stage:
        return ""
    key = stage if stage in STAGES else _STAGE_KEYS.get(stage)
    return t(f"stage.{key}") if key else stage


def describe(row: EntryRow, t: Translator) -> Event:
    entry: dict[str, Any] = json.loads(row.body)
    kind = str(entry.get("kind", row.kind))
    fields = {k: v for k, v in entry.items() if k not in COMMON_FIELDS}
    values = {**fields, "actor": entry.get("actor", row.actor), "kind": kind,
              "original": str(fields.get("original_blake3", ""))[:12],
              "object": str(fields.get("object") or fields.get("blake3") or "")[:12],
              "stage": stage_label(fields.get("stage"), t), **_labels(fields, t)}
    known = kind in KNOWN_KINDS
    if kind == "evidence.accessed":
        action = fields.get("action")
        key = f"kind.evidence.accessed.{action if action in ACCESS_ACTIONS else 'view'}"
    else:
        key = f"kind.{kind}" if known else "kind.unknown"
    return Event(row.seq, str(entry.get("time", "")), str(values["actor"]), kind, t(key, **values),
                 [(_field_name(k, t), _field_value(k, v, t)) for k, v in sorted(fields.items())], known)


def _field_name(name: str, t: Translator) -> str:
    """A field's name in the page's language; a key this release has no words for is shown as it is."""
    key = f"tlfield.{name}"
    label = t(f"tlfield.{name}")
    return name if label == key else label


def _field_value(name: str, value: Any, t: Translator) -> str:
    """A field's value as text; codes with words of their own (stage, access action, level) in those words."""
    if name == "stage" and isinstance(value, str):
        return stage_label(value, t) or value
    if name == "action" and value in ACCESS_ACTIONS:
        return t(f"audit.action.{value}")
    if name in ("level", "previous") and value in LEVELS:
        return t(f"restriction.{value}")
    return _text(value)


def _labels(fields: dict[str, Any], t: Translator) -> dict[str, str]:
    """Codes in a disclosure entry (criteria, takedown reason) in the page's language, and its decision number."""
    labels: dict[str, str] = {}
    record = fields.get("record")
    if isinstance(record, dict) and isinstance(record.get("decision_no"), str):
        labels["decision_no"] = record["decision_no"]  # disclosure.created carries the whole raw record
    criteria = fields.get("criteria")
    if isinstance(criteria, list):
        labels["criteria_labels"] = "；".join(t(f"criterion.{c}") for c in criteria)
    for name in ("level", "previous"):  # access.restricted: restriction levels
        if fields.get(name) in LEVELS:
            labels[f"{name}_label"] = t(f"restriction.{fields[name]}")
    at_ms = fields.get("at_ms")  # a bookmark's moment of the recording
    if isinstance(at_ms, int) and not isinstance(at_ms, bool):
        seconds, milli = divmod(at_ms, 1000)
        labels["at_label"] = f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{milli:03d}"
    if "tag" in fields and fields.get("scope") in ("case", "item"):  # tag.added / tag.removed
        labels["target"] = t("org.scope_case") if fields["scope"] == "case" else str(fields.get("blake3", ""))[:12]
    if isinstance(fields.get("end_reason"), str):
        reason = fields["end_reason"]
        labels["end_reason_label"] = t("rec.revoke") if reason == "published_in_error" else t(f"takedown.{reason}")
    return labels


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
