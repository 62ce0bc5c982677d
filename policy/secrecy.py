"""Secrets in a disclosure record (policy §二: 涉及国家秘密、商业秘密、个人隐私的，依法确需公开的，要作适当处理后公开).

A record takes its case's restriction level (``policy.restriction``):

- ``state_secret`` (国家秘密): nothing of it is published, and no disclosure record is kept here at all;
  such material belongs in an accredited classified system (``restriction.STATE_SECRET_NOTICE``).
- ``trade_secret`` (商业秘密) and ``privacy`` (个人隐私): published only after a recorded **secrets
  treatment** — which fields are withheld, which passages are rewritten (and to what), and why — made
  by someone who may read the case.  The public text is made from the treated record, then masked.
- ``none``: no treatment is asked (masking still applies).

The policy does not say what "适当处理" must contain; a careful legal office writes down its reasons,
so a treatment without a reason is refused, and "nothing here needs withholding" is a treatment too
(no fields, no passages, and the reason why).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from policy.errors import PolicyError, StateSecret
from policy.restriction import STATE_SECRET_NOTICE, parse_level

#: Levels whose records need a secrets treatment before approval.
TREATED_LEVELS = frozenset({"trade_secret", "privacy"})
#: Text fields a passage may be rewritten in.
TEXT_FIELDS = ("party_name", "violation", "legal_basis", "penalty", "party_address")
#: What a withheld passage becomes when no replacement is given.
DEFAULT_REPLACEMENT = "（依法不予公开）"
#: Upper bound on a reason, a passage or a replacement, in characters.
TEXT_MAX_CHARS = 2_000
MAX_PASSAGES = 50


@dataclass(frozen=True, slots=True)
class Rewrite:
    field: str
    passage: str
    replacement: str


@dataclass(frozen=True, slots=True)
class Treatment:
    """What is withheld or rewritten for publication, and why."""

    withheld: tuple[str, ...]
    rewritten: tuple[Rewrite, ...]
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"withheld": list(self.withheld), "reason": self.reason,
                "rewritten": [{"field": r.field, "passage": r.passage, "replacement": r.replacement}
                              for r in self.rewritten]}

    def summary(self) -> dict[str, Any]:
        """What a log entry may carry: the fields touched and the reason, never the passages themselves."""
        return {"withheld": list(self.withheld), "rewritten_fields": sorted({r.field for r in self.rewritten}),
                "passages": len(self.rewritten), "reason": self.reason}


def refuse_state_secret(level: str, what: str) -> None:
    """Refuse (``StateSecret``) ``what`` for a record of a ``state_secret`` case, saying where such material
    belongs."""
    if parse_level(level) == "state_secret":
        raise StateSecret(f"{what}: the case is marked state secret (国家秘密), and nothing of it is disclosed. "
                          f"{STATE_SECRET_NOTICE['en']} {STATE_SECRET_NOTICE['zh']}")


def needs_treatment(level: str) -> bool:
    return parse_level(level) in TREATED_LEVELS


def _text(value: object, what: str, *, blank_ok: bool = False) -> str:
    if not isinstance(value, str):
        raise PolicyError(f"secrets treatment: {what} must be text")
    if len(value) > TEXT_MAX_CHARS:
        raise PolicyError(f"secrets treatment: {what} is longer than {TEXT_MAX_CHARS} characters")
    if not blank_ok and not value.strip():
        raise PolicyError(f"secrets treatment: {what} must not be blank")
    return value.strip()


def check_treatment(payload: Mapping[str, Any], record: Mapping[str, Any], public_fields: Mapping[str, str]
                    ) -> Treatment:
    """``payload`` (``withheld``: field names, ``rewritten``: [{field, passage, replacement}], ``reason``)
    as a ``Treatment`` of ``record``; each passage must occur in the field it names."""
    if not isinstance(payload, Mapping):
        raise PolicyError("a secrets treatment is an object: withheld, rewritten, reason")
    if unknown := sorted(set(payload) - {"withheld", "rewritten", "reason"}):
        raise PolicyError(f"secrets treatment: unknown key {unknown[0]!r}")
    reason = _text(payload.get("reason"), "the reason (why these are withheld or rewritten)")
    withheld = payload.get("withheld") or []
    if not isinstance(withheld, list) or not all(isinstance(f, str) for f in withheld):
        raise PolicyError("secrets treatment: 'withheld' must be a list of field names")
    if bad := sorted(f for f in withheld if f not in public_fields):
        raise PolicyError(f"secrets treatment: unknown field {bad[0]!r}; fields: {', '.join(public_fields)}")
    rewrites = payload.get("rewritten") or []
    if not isinstance(rewrites, list) or len(rewrites) > MAX_PASSAGES:
        raise PolicyError(f"secrets treatment: 'rewritten' must be a list of at most {MAX_PASSAGES} passages")
    rewritten = []
    for item in rewrites:
        if not isinstance(item, Mapping):
            raise PolicyError("secrets treatment: each rewrite is {field, passage, replacement}")
        name = item.get("field")
        if name not in TEXT_FIELDS:
            raise PolicyError(f"secrets treatment: a passage is rewritten in one of {', '.join(TEXT_FIELDS)}, "
                              f"not {name!r}")
        passage = _text(item.get("passage"), "a rewritten passage")
        if passage not in str(record.get(name, "")):
            raise PolicyError(f"secrets treatment: the passage {passage[:40]!r} does not occur in {name}")
        replacement = _text(item.get("replacement", DEFAULT_REPLACEMENT) or DEFAULT_REPLACEMENT,
                            "a replacement", blank_ok=True)
        if passage in replacement:
            raise PolicyError("secrets treatment: a replacement must not repeat the passage it replaces")
        rewritten.append(Rewrite(str(name), passage, replacement))
    return Treatment(tuple(f for f in public_fields if f in set(withheld)), tuple(rewritten), reason)


def from_json(stored: Mapping[str, Any]) -> Treatment:
    return Treatment(tuple(stored.get("withheld", ())),
                     tuple(Rewrite(r["field"], r["passage"], r["replacement"]) for r in stored.get("rewritten", ())),
                     str(stored.get("reason", "")))


def apply(record: Mapping[str, Any], treatment: Treatment | None) -> dict[str, Any]:
    """The record as it goes to masking: withheld fields excluded, passages replaced."""
    treated = dict(record)
    if treatment is None:
        return treated
    for rewrite in treatment.rewritten:
        if isinstance(treated.get(rewrite.field), str):
            treated[rewrite.field] = treated[rewrite.field].replace(rewrite.passage, rewrite.replacement)
    if treatment.withheld:
        treated["excluded_fields"] = sorted({*treated.get("excluded_fields", []), *treatment.withheld})
    return treated


def leaks(public_text: str, treatment: Treatment | None) -> list[str]:
    """Rewritten passages that still appear in ``public_text`` (another field repeats them): ``[]`` is the goal."""
    if treatment is None:
        return []
    return [r.passage for r in treatment.rewritten if r.passage in public_text]
